#include "common/amp/grpc_stream.h"

#include <utility>

#include "common/amp/grpc_status.h"
#include "common/logging.h"

namespace ampmr::amp {

void BoxOutbox::Send(v1::Box box) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!accepting_) return;
  queue_.push_back(std::move(box));
  PumpLocked(lock);
}

void BoxOutbox::Hold() {
  std::lock_guard<std::mutex> lock(mu_);
  ++holds_;
}

void BoxOutbox::Release() {
  std::unique_lock<std::mutex> lock(mu_);
  --holds_;
  PumpLocked(lock);
}

void BoxOutbox::Close(const absl::Status& status) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!accepting_) return;
  RequestFinishLocked(status);
  PumpLocked(lock);
}

void BoxOutbox::EndStream(const absl::Status& status) {
  std::unique_lock<std::mutex> lock(mu_);
  queue_.clear();
  RequestFinishLocked(status);
  PumpLocked(lock);
}

void BoxOutbox::OnWriteDone(bool ok) {
  std::unique_lock<std::mutex> lock(mu_);
  writing_ = false;
  if (!ok) {
    // The stream is broken; the reactor's read side will end it.
    accepting_ = false;
    queue_.clear();
  }
  PumpLocked(lock);
}

void BoxOutbox::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  detached_ = true;
  accepting_ = false;
  queue_.clear();
}

void BoxOutbox::RequestFinishLocked(const absl::Status& status) {
  accepting_ = false;
  if (finish_wanted_) return;
  finish_wanted_ = true;
  close_status_ = status;
}

void BoxOutbox::PumpLocked(std::unique_lock<std::mutex>& lock) {
  // Whoever holds the turn (in_hook_) loops here until there is nothing left
  // that it may start; others only queue and leave.
  while (!detached_ && !finished_ && !in_hook_ && !writing_ && holds_ == 0) {
    if (!queue_.empty()) {
      if (queue_.size() == 1) {
        in_flight_ = std::move(queue_.front());
        queue_.pop_front();
      } else {
        in_flight_.Clear();
        size_t bytes = 0;
        while (!queue_.empty() && bytes < kMaxBatchBytes) {
          bytes += queue_.front().ByteSizeLong() + 8;
          *in_flight_.add_batch() = std::move(queue_.front());
          queue_.pop_front();
        }
      }
      writing_ = true;
      in_hook_ = true;
      lock.unlock();
      hooks_.start_write(&in_flight_);
      lock.lock();
      in_hook_ = false;
    } else if (finish_wanted_) {
      finished_ = true;
      absl::Status status = close_status_;
      lock.unlock();
      // The last hook: the reactor may be gone as soon as it returns.
      hooks_.finish(status);
      lock.lock();
    } else {
      return;
    }
  }
}

ServerBoxReactor::ServerBoxReactor(
    std::function<StreamCallbacks(std::shared_ptr<BoxOutbox>)> make_callbacks) {
  outbox_ = std::make_shared<BoxOutbox>(
      BoxOutbox::Hooks{[this](const v1::Box* box) { StartWrite(box); },
                       [this](const absl::Status& status) { FinishOnce(status); }});
  callbacks_ = make_callbacks(outbox_);
  StartRead(&incoming_);
}

void ServerBoxReactor::FinishOnce(const absl::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    end_status_ = status;
  }
  // Last: OnDone (and delete) may follow at once on another thread.
  Finish(ToGrpcStatus(status));
}

void ServerBoxReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The worker half-closed or the stream broke: end our side too, once the
    // write in flight (if any) is done.
    outbox_->EndStream(absl::OkStatus());
    return;
  }
  callbacks_.on_box(std::move(incoming_));
  incoming_.Clear();
  StartRead(&incoming_);
}

void ServerBoxReactor::OnWriteDone(bool ok) { outbox_->OnWriteDone(ok); }

void ServerBoxReactor::OnCancel() { outbox_->EndStream(absl::CancelledError("stream cancelled")); }

void ServerBoxReactor::OnDone() {
  outbox_->Detach();
  absl::Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    status = end_status_;
  }
  callbacks_.on_done(status.ok() ? absl::UnavailableError("stream ended") : status);
  delete this;
}

ClientBoxReactor::ClientBoxReactor(v1::WorkerSession::Stub* stub, StreamCallbacks callbacks,
                                   const std::function<void(grpc::ClientContext*)>& configure)
    : callbacks_(std::move(callbacks)) {
  if (configure) configure(&context_);
  // Writes start from the owner's thread, outside reactions, so the stream
  // needs a hold; it is removed by the outbox's last hook, after WritesDone.
  outbox_ = std::make_shared<BoxOutbox>(
      BoxOutbox::Hooks{[this](const v1::Box* box) { StartWrite(box); },
                       [this](const absl::Status&) {
                         StartWritesDone();
                         RemoveHold();  // last: OnDone may follow at once
                       }});
  stub->async()->Connect(&context_, this);
  AddHold();
}

void ClientBoxReactor::Start() {
  StartRead(&incoming_);
  StartCall();
}

void ClientBoxReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The master finished or the stream broke: no more writes.
    outbox_->EndStream(absl::OkStatus());
    return;
  }
  callbacks_.on_box(std::move(incoming_));
  incoming_.Clear();
  StartRead(&incoming_);
}

void ClientBoxReactor::OnWriteDone(bool ok) { outbox_->OnWriteDone(ok); }

void ClientBoxReactor::OnDone(const grpc::Status& status) {
  outbox_->Detach();
  absl::Status s = FromGrpcStatus(status);
  // The owner may delete this reactor as soon as on_done has run (or while it
  // runs, on another thread), so nothing here touches `this` after the move.
  std::function<void(const absl::Status&)> on_done = std::move(callbacks_.on_done);
  on_done(s.ok() ? absl::UnavailableError("master ended the session") : s);
}

}  // namespace ampmr::amp
