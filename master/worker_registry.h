// WorkerRegistry: the workers connected now, with their capacity and load.
// It is the master's only table of worker facts: the scheduler and the call
// router read what a worker is (slots, handlers, link, draining) here.
//
// Choosing a worker for a task is O(log workers): the registry keeps the
// workers that take tasks ordered by load (attempts running per slot).
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_WORKER_REGISTRY_H_
#define AMPMR_MASTER_WORKER_REGISTRY_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ampmr/v1/job.pb.h"
#include "ampmr/v1/session.pb.h"
#include "master/worker_link.h"

namespace ampmr::master {

struct WorkerState {
  std::string id;
  v1::Hello hello;
  int slots = 1;               // hello.slots(), at least 1
  WorkerLink* link = nullptr;  // not owned; valid while registered
  // Attempts dispatched and not yet answered; changed through the registry.
  int running = 0;
  // Of those, early reduces waiting for map outputs (slow start): each holds
  // one of the worker's slots, which nothing else can use until it has all
  // its inputs. Changed through the registry (HoldSlot, ReleaseSlot).
  int held = 0;
  int64_t tasks_done = 0;
  int64_t attempts_failed = 0;  // failed here by themselves
  double cpu_percent = 0;       // from the last heartbeat
  int64_t rss_bytes = 0;
  absl::Time connected;
  absl::Time last_heartbeat;
  bool draining = false;  // set through the registry (Drain)
  // What looks wrong with the worker, for people (WorkerInfo.warning).
  std::string warning;
  // Reduce tasks ("j1/r3") that could not fetch its map outputs, and once
  // there are kUnreachableAfter of them, why: it gets no more map tasks.
  std::set<std::string> unfetched_by;
  std::string unreachable;
  // Jobs whose context (Command.job_context) this session was sent and not
  // told to forget since (WorkerRegistry::ForgetJob): their task commands
  // leave it out. Only for a worker whose Hello said job_contexts; a new
  // session is a new WorkerState, and starts with none.
  std::set<std::string> job_contexts;

  bool Offers(const std::string& handler) const;
};

// Distinct reduce tasks that must fail to fetch from a worker before it is
// deemed unreachable (one might be on a broken node itself).
inline constexpr size_t kUnreachableAfter = 2;
class WorkerRegistry {
 public:
  // Registers a worker; returns its new id ("w1", "w2", ... never reused).
  WorkerState* Add(const v1::Hello& hello, WorkerLink* link, absl::Time now);
  // Ids "w1" ... "w`used`" were handed out before (by an earlier master):
  // new ones come after. How many were handed out, all told.
  void SkipIds(int64_t used) { next_id_ = std::max(next_id_, used + 1); }
  int64_t ids_used() const { return next_id_ - 1; }
  void Remove(const std::string& id);
  WorkerState* Find(const std::string& id);
  const WorkerState* Find(const std::string& id) const;

  // Reduce `reduce` ("j1/r3") could not fetch a map output from worker `id`
  // (`error` says why). Returns true if that made the worker unreachable.
  bool FetchFailed(const std::string& id, const std::string& reduce, const std::string& error);
  // Unreachable workers' ids, for map tasks to avoid.
  const std::vector<std::string>& Unreachable() const { return unreachable_; }

  // An attempt started on `worker` / ended on worker `id` (no-op if gone).
  void AttemptStarted(WorkerState* worker);
  void AttemptEnded(const std::string& id);
  // A running attempt on the worker starts / stops holding its slot (an
  // early reduce waiting for map outputs). No-op if gone.
  void HoldSlot(WorkerState* worker);
  void ReleaseSlot(const std::string& id);
  // Slots held, over every worker.
  int held_slots() const { return held_slots_; }
  // The worker is going away: it takes no new attempts.
  void Drain(const std::string& id);

  // The least loaded live worker (attempts running per slot, not counting
  // held slots and their attempts) that has room (fewer than depth per slot
  // not held), skipping `exclude`; nullptr if none. At depth 1, room is a
  // slot idle now.
  WorkerState* PickFree(int depth, const std::vector<std::string>& exclude);
  // Whether `worker` would have room at `depth` if one of its held slots
  // were released.
  static bool RoomIfReleased(const WorkerState& worker, int depth);

  std::vector<v1::WorkerInfo> List() const;
  const std::map<std::string, WorkerState>& workers() const { return workers_; }
  // Tells every worker to forget job `job_id` (ForgetJobCommand), so none
  // has its context any more (WorkerState::job_contexts).
  void ForgetJob(const std::string& job_id, bool logs);
  size_t size() const { return workers_.size(); }

 private:
  // Adds the changes to the worker's running attempts and held slots,
  // keeping by_load_ ordered.
  void Rerank(WorkerState* worker, int running, int held);
  // Orders workers by (running - held) / (slots - held), all slots held
  // last, then by registration.
  struct ByLoad {
    bool operator()(const WorkerState* a, const WorkerState* b) const;
  };

  std::map<std::string, WorkerState> workers_;
  std::set<WorkerState*, ByLoad> by_load_;  // the workers not draining
  std::vector<std::string> unreachable_;    // ids of workers with `unreachable` set
  int64_t next_id_ = 1;
  int held_slots_ = 0;  // the sum of the workers' `held`
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_WORKER_REGISTRY_H_
