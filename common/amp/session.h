// Session: one end of an AMP-style conversation (README "How it works"), used by both
// master and worker. Either side may call commands on the other:
//   - CallRemote(command) sends a Box with a fresh non-zero `ask` tag and returns
//     a Deferred that fires with the peer's Answer or typed Error, in whatever
//     order answers come back;
//   - SendNoAnswer(command) sends with ask 0 (Twisted's requiresAnswer=False);
//   - incoming commands go to the responder registered for their kind; a
//     responder replies once, now or later (a second reply is ignored). A command with no responder
//     (or of a kind this build does not know) is answered with UNIMPLEMENTED, and the session stays
//     up. A malformed box is answered with INVALID_ARGUMENT when it asked for an answer, otherwise
//     logged and dropped.
//   - a kind whose responder only hands work to other threads may instead have a
//     read-thread responder (SetReadThreadResponder): the transport adapter
//     passes each inbound box through HandleOnReadThread first, on the thread
//     that read it, and posts only what is left to the loop, saving a hop.
//   - a caller that must not wait for the loop calls with CallFromAnyThread
//     instead: from any thread, and its answer is handled on the transport's
//     thread that read it (HandleOnReadThread), never posted to the loop.
//   - When the stream breaks (HandleClosed), every outstanding call fails with
//     UNAVAILABLE, like AMP's connection-lost errback.
//
// Thread-safety: a Session belongs to one Loop thread. Every method, including
// HandleBox/HandleClosed (which transport adapters post to that thread), must be
// called there, except HandleOnReadThread. A Reply may be called from any
// thread at any later time, also after the session closed (it is then
// dropped), so a worker's task thread answers without a hop through the loop.
// CallFromAnyThread may be called from any thread; its ReadThreadAnswers run
// on the transport's read threads (or on the loop, see there).
#ifndef AMPMR_COMMON_AMP_SESSION_H_
#define AMPMR_COMMON_AMP_SESSION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ampmr/v1/session.pb.h"
#include "common/amp/deferred.h"

namespace ampmr::amp {

// The outbound half of a stream. Thread-safe; never blocks.
class Transport {
 public:
  virtual ~Transport() = default;
  // Queues `box` for writing. Dropped silently once the stream is closed.
  virtual void Send(v1::Box box) = 0;
  // Ends the stream (after queued boxes are written, where the stream allows).
  virtual void Close(const absl::Status& status) = 0;
};

// Error <-> Status, for boxes on the wire. Status payloads become details.
v1::Error ToErrorProto(const absl::Status& status);
absl::Status FromErrorProto(const v1::Error& error);

class Session {
 public:
  // Answers one ask. Copies share one answer: only the first call is sent.
  using Reply = std::function<void(absl::StatusOr<v1::Answer>)>;
  // Given the command itself (moved out of the box that carried it), so a
  // responder that keeps it, or hands it to another thread, need not copy it.
  using Responder = std::function<void(v1::Command, Reply)>;
  // Handles the answer to one CallFromAnyThread: the peer's Answer (it may
  // take from it) or the peer's error, or UNAVAILABLE when the session closes
  // first. Must be thread-safe and must not block.
  using ReadThreadAnswer = std::function<void(absl::StatusOr<v1::Answer*> answer)>;

  // `name` appears in log lines (for example "worker=w3").
  Session(std::shared_ptr<Transport> transport, std::string name);
  ~Session();  // fails outstanding calls with UNAVAILABLE

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void SetResponder(v1::Command::KindCase kind, Responder responder);
  // Registers `responder` for `kind` to run on the transport's thread that
  // read the box (see HandleOnReadThread), not on the loop. It must be
  // thread-safe and must not block. REQUIRES: called before the transport
  // delivers its first box (the set is then read without a lock).
  void SetReadThreadResponder(v1::Command::KindCase kind, Responder responder);

  // Calls `command` on the peer. Cancelling the Deferred forgets the ask (a late
  // answer is dropped). On a closed session it fails at once with UNAVAILABLE.
  Deferred<v1::Answer> CallRemote(v1::Command command);
  // Calls `command` on the peer; thread-safe. `answer` runs once: on the
  // transport's thread that read the peer's answer (HandleOnReadThread; on
  // the loop if the transport hands the box to HandleBox only), or with
  // UNAVAILABLE on the loop when the session closes first. On a closed
  // session it sends nothing, returns false and never runs `answer`.
  bool CallFromAnyThread(v1::Command command, ReadThreadAnswer answer);
  void SendNoAnswer(v1::Command command);

  // Transport adapters call this first, on the thread that read `box`: it
  // runs the read-thread responders of the commands in `box` (a batch too)
  // and the ReadThreadAnswers of its answers, and leaves the rest in it for
  // HandleBox. Returns false when nothing is left to post.
  // Thread-safe.
  bool HandleOnReadThread(v1::Box* box);

  // Transport adapters feed these (on the loop thread).
  void HandleBox(v1::Box box);
  void HandleClosed(const absl::Status& why);

  // Closes the stream from this side; outstanding calls fail with UNAVAILABLE.
  void Close(const absl::Status& why);

  bool closed() const { return *closed_; }
  size_t outstanding() const { return pending_.size(); }
  const std::string& name() const { return name_; }

 private:
  void HandleCommand(uint64_t ask, v1::Command command);
  // Runs `box`'s read-thread responder, moving its command to it, or hands
  // an answer to its ReadThreadAnswer; true if nothing is left of `box` for
  // the loop (false: `box` is left as it was).
  bool TakeOnReadThread(v1::Box* box);
  // Runs the ReadThreadAnswer waiting for `ask` with `answer`; false if none
  // waits.
  bool AnswerOnThisThread(uint64_t ask, absl::StatusOr<v1::Answer*> answer);
  // The Reply to `ask`: an Answer or, for an error, an Error box; nothing
  // once the session closed. Thread-safe.
  Reply MakeReply(uint64_t ask) const;
  void HandleAnswer(uint64_t ask, absl::StatusOr<v1::Answer> result);
  void FailAll(const absl::Status& why);

  const std::shared_ptr<Transport> transport_;
  std::string name_;
  // Shared with Reply closures so replies after close are dropped.
  std::shared_ptr<std::atomic<bool>> closed_ = std::make_shared<std::atomic<bool>>(false);
  std::atomic<uint64_t> next_ask_{1};
  absl::flat_hash_map<uint64_t, Deferred<v1::Answer>> pending_;
  absl::flat_hash_map<int, Responder> responders_;
  // Constant once the transport delivers boxes; read on its threads.
  absl::flat_hash_map<int, Responder> read_thread_responders_;
  // The asks of CallFromAnyThread not answered yet; set on any thread, taken
  // on read threads (or by FailAll).
  std::mutex read_thread_mu_;
  absl::flat_hash_map<uint64_t, ReadThreadAnswer> read_thread_answers_
      ABSL_GUARDED_BY(read_thread_mu_);
};

}  // namespace ampmr::amp

#endif  // AMPMR_COMMON_AMP_SESSION_H_
