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

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "ampmr/v1/session.grpc.pb.h"
#include "common/amp/session.h"

namespace ampmr::amp {

struct StreamCallbacks {
  std::function<void(v1::Box)> on_box;               // each inbound stream message
  std::function<void(const absl::Status&)> on_done;  // once, when the stream ended
};

// The write side shared by both reactors. Transport for a Session; outlives
// the reactor (Send after the stream ended is a no-op).
//
// It owns the stream's write turn: at most one thread at a time calls a hook,
// at most one write is in flight, and `finish` (the last hook ever called) runs
// only when no write is in flight, after the boxes queued before Close() were
// written. So a reactor never sees a write after it finished, nor a Finish while
// a write is in flight.
class BoxOutbox : public Transport {
 public:
  // Hooks into the reactor; called without the lock held, never after
  // `finish` returned or Detach() was called.
  struct Hooks {
    std::function<void(const v1::Box*)> start_write;
    std::function<void(const absl::Status&)> finish;  // end the stream
  };
  explicit BoxOutbox(Hooks hooks) : hooks_(std::move(hooks)) {}

  void Send(v1::Box box) override;
  void Close(const absl::Status& status) override;

  // From Hold() to the matching Release() no write starts: what is sent
  // meanwhile goes out together, as one carrier box, at the Release. (The
  // master holds its outbox to a worker while it handles a box from it, so
  // the attempts that refill the slots of a batch of answers go as one.)
  void Hold();
  void Release();

  // Reactor side.
  void OnWriteDone(bool ok);
  // The stream cannot carry more (its read side ended or it was cancelled):
  // drops what is queued and calls `finish` once the write in flight is done.
  void EndStream(const absl::Status& status);
  // The reactor is gone (OnDone): no hook is called from now on.
  void Detach();

  // A carrier Box stops growing past this many bytes (well under gRPC's
  // default 4 MiB receive limit); a single larger box still goes alone.
  static constexpr size_t kMaxBatchBytes = 1 << 20;

 private:
  // Starts writes and the finish while there is something to do and nobody
  // else holds the turn.
  void PumpLocked(std::unique_lock<std::mutex>& lock) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RequestFinishLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Hooks hooks_;
  std::mutex mu_;
  std::deque<v1::Box> queue_ ABSL_GUARDED_BY(mu_);
  v1::Box in_flight_;  // written only by the turn holder while no write is in flight
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;  // Send and Close still welcome
  bool writing_ ABSL_GUARDED_BY(mu_) = false;   // a write started, OnWriteDone not seen
  bool in_hook_ ABSL_GUARDED_BY(mu_) = false;   // some thread is inside a hook
  bool finish_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // `finish` was called
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;
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

// Worker end. The owner creates it, then calls Start() (always, even if it has
// cancelled the context meanwhile); `on_done` runs once, on a gRPC thread, and
// is the reactor's last act: from then on the owner may delete it from any
// thread (not from inside on_done). To end the stream: outbox()->Close() (a
// half-close; the master then finishes) or context()->TryCancel().
class ClientBoxReactor : public grpc::ClientBidiReactor<v1::Box, v1::Box> {
 public:
  // `configure` (may be empty) is given the call's context before the call
  // is made: call credentials must be set by then.
  ClientBoxReactor(v1::WorkerSession::Stub* stub, StreamCallbacks callbacks,
                   const std::function<void(grpc::ClientContext*)>& configure = nullptr);

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

}  // namespace ampmr::amp

#endif  // AMPMR_COMMON_AMP_GRPC_STREAM_H_
