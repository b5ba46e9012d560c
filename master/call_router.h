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
// Thread-safety: every method, and every Done callback, on the loop thread.
#ifndef AMPMR_MASTER_CALL_ROUTER_H_
#define AMPMR_MASTER_CALL_ROUTER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

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
  // The answer's payload, or why there is none.
  using Done = std::function<void(absl::StatusOr<std::string> payload)>;

  // `registry` outlives the router.
  CallRouter(Loop* loop, const WorkerRegistry* registry, CallRouterOptions options);
  ~CallRouter();  // ends every open call with UNAVAILABLE

  CallRouter(const CallRouter&) = delete;
  CallRouter& operator=(const CallRouter&) = delete;

  // Routes one call; `done` runs once, now (refused) or later.
  void Call(v1::CallRequest request, Done done);

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
  struct PendingCall {
    uint64_t id = 0;
    std::string name;  // "c17", for the wire and messages
    std::string handler;
    std::string payload;
    bool idempotent = false;
    absl::Duration timeout;
    absl::Time deadline;
    Done done;
    Loop::TimerId timer = 0;
    std::string worker_id;  // where it runs now; empty while queued
    int sends = 0;          // also tells a current answer from a stale one
    bool ended = false;     // the caller has its answer; the worker may still run it
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
