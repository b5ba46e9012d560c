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
// No gRPC here: the coordinator owns the router and tells it about workers
// (AddWorker, DrainWorker, RemoveWorker, on the loop); what a worker is (its
// handlers, slots, link) is read from the WorkerRegistry when it joins. Tests
// drive it with a FakeLoop and fake WorkerLinks.
//
// A call's path takes no hop through the loop: Call runs on the thread that
// received the request (a gRPC thread) and, if a worker has a free slot,
// sends it to that worker from there (WorkerLink::CallFromAnyThread); the
// answer goes to the caller from the thread that read it, which also frees
// the slot and sends the call queued next. A hop through the loop is a
// thread wake-up, tens of microseconds of a call's latency. The loop runs
// what is not on that path: timeouts, and workers joining, draining and
// leaving. The router's state is under one lock; Done and Ended run after
// it is released, on the thread that ended the call.
//
// Thread-safety: Call, queued, open_calls and Offered from any thread;
// AddWorker, DrainWorker, RemoveWorker and the destructor on the loop thread.
// Done and Ended run on the thread that ended the call (see above). The
// links' answers must not come after the router is destroyed (the master
// stops its gRPC server first).
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
  // right after Done, on the same thread, for statistics.
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
  // children each.
  void AddWorker(const std::string& worker_id);
  // The worker drains: it gets no new calls; its running ones finish.
  void DrainWorker(const std::string& worker_id);
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
  struct PendingCall {
    uint64_t id = 0;
    std::string name;  // "c17", for the wire and messages
    std::string handler;
    std::string payload;
    bool idempotent = false;
    absl::Duration timeout;
    absl::Time deadline;
    Done done;  // empty once the call ended for its caller
    Ended on_ended;
    Loop::TimerId timer = 0;
    std::string worker_id;  // where it runs now; empty while queued
    int sends = 0;          // also tells a current answer from a stale one
  };
  // A worker that offers handlers, as it joined, and its calls.
  struct WorkerCalls {
    WorkerLink* link = nullptr;  // valid while it is here (RemoveWorker)
    std::set<std::string> handlers;
    int slots = 1;
    bool draining = false;            // or its link was found closed (Send)
    std::map<std::string, int> busy;  // handler -> calls running there
    uint64_t last_send = 0;           // for round-robin among equals
  };
  // A call's end for its caller, told once the lock is released.
  struct Ending {
    Done done;
    absl::StatusOr<std::string> result;
    Ended on_ended;
  };

  bool OfferedLocked(const std::string& handler) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends queued calls of `handler` to free slots.
  void Dispatch(const std::string& handler) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The worker to send the next call of `handler` to, or workers_.end() if
  // none has a free slot for it.
  std::map<std::string, WorkerCalls>::iterator PickWorker(const std::string& handler)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends `call` (taken off its queue) to `worker`; ends it with UNAVAILABLE
  // if the worker's link is closed.
  void Send(PendingCall* call, std::map<std::string, WorkerCalls>::iterator worker)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The worker's answer to send number `send` of call `id`, on the thread
  // that read it.
  void OnAnswer(uint64_t id, int send, absl::StatusOr<v1::Answer*> answer);
  // What the caller gets for a worker's answer (`name` is the call's, for
  // the message).
  static absl::StatusOr<std::string> ResultOf(const std::string& name,
                                              absl::StatusOr<v1::Answer*> answer);
  void OnTimeout(uint64_t id);
  // Ends the call for its caller (told at Tell). Erases it unless it still
  // holds a worker slot.
  void End(PendingCall* call, absl::StatusOr<std::string> result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeSlot(const PendingCall& call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailQueued(const std::string& handler, const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Releases the lock, then tells the callers of the calls that ended.
  void Tell(std::unique_lock<std::mutex>& lock) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Loop* const loop_;
  const WorkerRegistry* const registry_;
  const CallRouterOptions options_;
  // Lets an answer or a timer that outlives the router see that it is gone
  // (on the loop thread: see the header comment).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  mutable std::mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t sends_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::unique_ptr<PendingCall>> calls_ ABSL_GUARDED_BY(mu_);
  // handler -> call ids, FIFO
  std::map<std::string, std::deque<uint64_t>> queues_ ABSL_GUARDED_BY(mu_);
  // registered workers offering handlers
  std::map<std::string, WorkerCalls> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<Ending> endings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_CALL_ROUTER_H_
