// gRPC transport adapters for Session: each carries one WorkerSession.Connect
// bidirectional stream of Boxes, on either end.
//
// Both keep one write in flight with a queue behind it; when several boxes are
// queued they go out as one carrier Box (Box.batch), which the peer's Session
// unpacks, so a burst of small commands costs one stream message.
//
// Inbound boxes and the end of the stream are handed to the callbacks in
// StreamCallbacks on gRPC threads; the owner posts them to its Loop. Reactions
// never block.
#ifndef AMPMR_COMMON_AMP_GRPC_STREAM_H_
#define AMPMR_COMMON_AMP_GRPC_STREAM_H_

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "ampmr/v1/session.grpc.pb.h"
#include "common/amp/session.h"

namespace ampmr::amp {

struct StreamCallbacks {
  std::function<void(v1::Box)> on_box;              // each inbound stream message
  std::function<void(const absl::Status&)> on_done;  // once, when the stream ended
};

// The write side shared by both reactors. Transport for a Session; outlives
// the reactor (Send after the stream ended is a no-op).
class BoxOutbox : public Transport {
 public:
  // Hooks into the reactor; called without the lock held.
  struct Hooks {
    std::function<void(const v1::Box*)> start_write;
    std::function<void(const absl::Status&)> finish;  // end the stream
  };
  explicit BoxOutbox(Hooks hooks) : hooks_(std::move(hooks)) {}

  void Send(v1::Box box) override;
  void Close(const absl::Status& status) override;

  // Reactor side.
  void OnWriteDone(bool ok);
  void Detach();  // the stream is over: drop everything from now on

 private:
  void StartNextLocked(std::unique_lock<std::mutex>& lock) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Hooks hooks_;
  std::mutex mu_;
  std::deque<v1::Box> queue_ ABSL_GUARDED_BY(mu_);
  v1::Box in_flight_;  // touched only by the writer holding the write turn
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);
};

// Master end: one per connected worker. Deletes itself when the stream is done.
class ServerBoxReactor : public grpc::ServerBidiReactor<v1::Box, v1::Box> {
 public:
  // `make_callbacks` is given the outbox before the first read starts.
  explicit ServerBoxReactor(
      std::function<StreamCallbacks(std::shared_ptr<BoxOutbox>)> make_callbacks);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;
  void OnCancel() override;

 private:
  std::shared_ptr<BoxOutbox> outbox_;
  StreamCallbacks callbacks_;
  v1::Box incoming_;
  std::mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
  void FinishOnce(const absl::Status& status);
};

// Worker end. The owner creates it, then calls Start(); `on_done` runs once
// after which the owner may delete it (not from inside on_done).
class ClientBoxReactor : public grpc::ClientBidiReactor<v1::Box, v1::Box> {
 public:
  ClientBoxReactor(v1::WorkerSession::Stub* stub, StreamCallbacks callbacks);

  void Start();
  std::shared_ptr<BoxOutbox> outbox() { return outbox_; }
  grpc::ClientContext* context() { return &context_; }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override {}
  void OnDone(const grpc::Status& status) override;

 private:
  grpc::ClientContext context_;
  std::shared_ptr<BoxOutbox> outbox_;
  StreamCallbacks callbacks_;
  v1::Box incoming_;
};

absl::Status FromGrpcStatus(const grpc::Status& status);
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace ampmr::amp

#endif  // AMPMR_COMMON_AMP_GRPC_STREAM_H_
