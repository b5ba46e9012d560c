// CallRouter: the master's front for calls (README "Calls"). A call names a
// handler; the router keeps one FIFO queue per handler and hands the call at
// its head to a connected worker that offers the handler and has a free slot
// for it (a worker started with --slots N runs N children per handler, so it
// takes N calls per handler at once).
//
// Every call ends exactly once, with the handler's answer or an error:
//   NOT_FOUND           no connected worker offers the handler (at arrival)
//   RESOURCE_EXHAUSTED  the handler's queue is full (at arrival)
//   DEADLINE_EXCEEDED   not answered within its timeout, queueing included; a
//                       call that was running is cancelled on its worker, whose
//                       slot stays taken until the worker confirms
//   UNAVAILABLE         its worker went away mid-call (an idempotent call is
//                       first retried once elsewhere), or the last worker
//                       offering the handler went away while it was queued
//   anything else       the handler's own error, passed through
//
// No gRPC here: the coordinator owns the router and tells it about workers;
// what a worker is (its handlers, slots, link, whether it drains) is read from
// the WorkerRegistry, and the router keeps only how many calls of each handler
// run on each worker. Tests drive it with a FakeLoop and fake WorkerLinks.
//
// A worker's answer goes to its caller from the thread that read it (the
// link's EarlyAnswer), without waiting for the loop: a hop through the loop
// is a thread wake-up, and tens of microseconds of a call's latency. The
// router learns of the answer on the loop right after and does the rest there
// (the slot, the next queued call, the Ended report). The caller's Done is
// handed over once, under a lock (CallerReply), to whichever comes first: that
// answer or an end decided on the loop (a timeout, a lost worker).
//
// Thread-safety: every method, and every Ended callback, on the loop thread;
// Done on the loop thread or on the thread that read the worker's answer.
#ifndef AMPMR_MASTER_CALL_ROUTER_H_
#define AMPMR_MASTER_CALL_ROUTER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ampmr/v1/job.pb.h"
#include "ampmr/v1/session.pb.h"
#include "common/loop.h"
#include "master/worker_link.h"
#include "master/worker_registry.h"

namespace ampmr::master {

struct CallRouterOptions {
  // Calls that may wait per handler; the next one fails at once with
  // RESOURCE_EXHAUSTED.
  int max_queued = 1000;
  // The timeout of a call that sets none (CallRequest.timeout_seconds == 0).
  absl::Duration default_timeout = absl::Seconds(30);
  // How many times a call may be sent to a worker: an idempotent call whose
  // worker went away mid-call is sent again while it has sends left.
  int max_sends = 2;
};

class CallRouter {
 public:
  // The answer's payload, or why there is none. Must be thread-safe (see the
  // header comment for where it runs).
  using Done = std::function<void(absl::StatusOr<std::string> payload)>;
  // How the call ended for its caller (the code Done was given), told once
  // on the loop thread, for statistics.
  using Ended = std::function<void(absl::StatusCode code)>;

  // `registry` outlives the router.
  CallRouter(Loop* loop, const WorkerRegistry* registry, CallRouterOptions options);
  ~CallRouter();  // ends every open call with UNAVAILABLE

  CallRouter(const CallRouter&) = delete;
  CallRouter& operator=(const CallRouter&) = delete;

  // Routes one call; `done` runs once, now (refused) or later, and so does
  // `ended` (if set), after it.
  void Call(v1::CallRequest request, Done done, Ended ended = nullptr);

  // A registered worker joined, offering its Hello's handlers with `slots`
  // children each. A draining worker (WorkerState::draining) gets no new
  // calls; its running ones finish.
  void AddWorker(const std::string& worker_id);
  // A worker left (or is being closed): its running calls are retried
  // elsewhere (idempotent) or fail with UNAVAILABLE. Call it before the
  // link's outstanding calls fail, so their errors are not taken for the
  // handler's. REQUIRES: the worker is still in the registry.
  void RemoveWorker(const std::string& worker_id, const absl::Status& why);

  // For tests and status: calls waiting for `handler`; calls not yet ended
  // (queued or running); whether some worker offers `handler`.
  size_t queued(const std::string& handler) const;
  size_t open_calls() const;
  bool Offered(const std::string& handler) const;

 private:
  // The caller's Done, given once: by the loop or by the thread that read the
  // worker's answer. Thread-safe.
  class CallerReply {
   public:
    explicit CallerReply(Done done) : done_(std::move(done)) {}
    // Runs Done with `result` unless it ran already; returns the code Done
    // was given (this time or before).
    absl::StatusCode Give(absl::StatusOr<std::string> result);
    bool given();

   private:
    std::mutex mu_;
    Done done_ ABSL_GUARDED_BY(mu_);  // empty once given
    absl::StatusCode code_ ABSL_GUARDED_BY(mu_) = absl::StatusCode::kOk;
  };

  struct PendingCall {
    uint64_t id = 0;
    std::string name;  // "c17", for the wire and messages
    std::string handler;
    std::string payload;
    bool idempotent = false;
    absl::Duration timeout;
    absl::Time deadline;
    std::shared_ptr<CallerReply> reply;
    Ended on_ended;
    Loop::TimerId timer = 0;
    std::string worker_id;  // where it runs now; empty while queued
    int sends = 0;          // also tells a current answer from a stale one
    bool ended = false;     // the loop ended it for its caller; the worker may still run it
  };
  // Calls on one worker that offers handlers.
  struct WorkerCalls {
    std::map<std::string, int> busy;  // handler -> calls running there
    uint64_t last_send = 0;           // for round-robin among equals
  };

  // Sends queued calls of `handler` to free slots. Re-entrant: a nested call
  // (an answer that fires at once frees a slot) is left to the outer loop.
  void Dispatch(const std::string& handler);
  void DispatchNow(const std::string& handler);
  // The worker to send the next call of `handler` to, or nullptr if none
  // has a free slot for it.
  const WorkerState* PickWorker(const std::string& handler);
  void Send(PendingCall* call, const WorkerState& worker);
  void OnAnswer(uint64_t id, int send, const absl::StatusOr<v1::Answer>& answer);
  // What the caller gets for a worker's answer (on any thread; `name` is the
  // call's, for the message).
  static absl::StatusOr<std::string> ResultOf(const std::string& name,
                                              absl::StatusOr<v1::Answer*> answer);
  void OnTimeout(uint64_t id);
  // Ends the call for its caller. Erases it unless it still holds a worker slot.
  void End(PendingCall* call, absl::StatusOr<std::string> result);
  void Erase(uint64_t id);
  void FreeSlot(const PendingCall& call);
  void FailQueued(const std::string& handler, const absl::Status& why);

  Loop* const loop_;
  const WorkerRegistry* const registry_;
  const CallRouterOptions options_;
  // Lets a Deferred callback that outlives the router see that it is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t next_id_ = 1;
  uint64_t sends_ = 0;
  std::map<uint64_t, std::unique_ptr<PendingCall>> calls_;
  std::map<std::string, std::deque<uint64_t>> queues_;  // handler -> call ids, FIFO
  std::map<std::string, WorkerCalls> workers_;          // registered workers offering handlers
  bool dispatching_ = false;
  std::set<std::string> to_dispatch_;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_CALL_ROUTER_H_
