#include "common/amp/grpc_stream.h"

#include <utility>

#include "common/logging.h"

namespace ampmr::amp {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

void BoxOutbox::Send(v1::Box box) {
  std::unique_lock<std::mutex> lock(mu_);
  if (detached_ || closing_) return;
  queue_.push_back(std::move(box));
  if (!writing_) StartNextLocked(lock);
}

void BoxOutbox::Close(const absl::Status& status) {
  std::unique_lock<std::mutex> lock(mu_);
  if (detached_ || closing_) return;
  closing_ = true;
  close_status_ = status;
  if (!writing_ && queue_.empty()) {
    lock.unlock();
    hooks_.finish(status);
  }
}

void BoxOutbox::StartNextLocked(std::unique_lock<std::mutex>& lock) {
  if (queue_.size() == 1) {
    in_flight_ = std::move(queue_.front());
  } else {
    in_flight_.Clear();
    for (auto& box : queue_) *in_flight_.add_batch() = std::move(box);
  }
  queue_.clear();
  writing_ = true;
  lock.unlock();
  hooks_.start_write(&in_flight_);
  lock.lock();
}

void BoxOutbox::OnWriteDone(bool ok) {
  std::unique_lock<std::mutex> lock(mu_);
  writing_ = false;
  if (!ok || detached_) {
    queue_.clear();
    return;
  }
  if (!queue_.empty()) {
    StartNextLocked(lock);
    return;
  }
  if (closing_) {
    absl::Status status = close_status_;
    lock.unlock();
    hooks_.finish(status);
  }
}

void BoxOutbox::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  detached_ = true;
  queue_.clear();
}

ServerBoxReactor::ServerBoxReactor(
    std::function<StreamCallbacks(std::shared_ptr<BoxOutbox>)> make_callbacks) {
  outbox_ = std::make_shared<BoxOutbox>(BoxOutbox::Hooks{
      [this](const v1::Box* box) { StartWrite(box); },
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
  Finish(ToGrpcStatus(status));
}

void ServerBoxReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The worker half-closed or the stream broke: end our side too.
    outbox_->Detach();
    FinishOnce(absl::OkStatus());
    return;
  }
  callbacks_.on_box(std::move(incoming_));
  incoming_.Clear();
  StartRead(&incoming_);
}

void ServerBoxReactor::OnWriteDone(bool ok) { outbox_->OnWriteDone(ok); }

void ServerBoxReactor::OnCancel() { outbox_->Detach(); }

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

ClientBoxReactor::ClientBoxReactor(v1::WorkerSession::Stub* stub, StreamCallbacks callbacks)
    : callbacks_(std::move(callbacks)) {
  outbox_ = std::make_shared<BoxOutbox>(BoxOutbox::Hooks{
      [this](const v1::Box* box) { StartWrite(box); },
      [this](const absl::Status&) { StartWritesDone(); }});
  stub->async()->Connect(&context_, this);
}

void ClientBoxReactor::Start() {
  StartRead(&incoming_);
  StartCall();
}

void ClientBoxReactor::OnReadDone(bool ok) {
  if (!ok) {
    outbox_->Detach();
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
  callbacks_.on_done(s.ok() ? absl::UnavailableError("master ended the session") : s);
}

}  // namespace ampmr::amp
