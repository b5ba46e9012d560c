// WorkerRegistry: the workers connected now, with their capacity and load.
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
  WorkerLink* link = nullptr;  // not owned; valid while registered
  int running = 0;             // attempts dispatched and not yet answered
  int64_t tasks_done = 0;
  absl::Time connected;
  absl::Time last_heartbeat;
  bool draining = false;
  // What looks wrong with the worker, for people (WorkerInfo.warning).
  std::string warning;
  // Reduce tasks ("j1/r3") that could not fetch its map outputs, and once
  // there are kUnreachableAfter of them, why: it gets no more map tasks.
  std::set<std::string> unfetched_by;
  std::string unreachable;

  int slots() const { return hello.slots() > 0 ? hello.slots() : 1; }
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

  // Reduce `reduce` ("j1/r3") could not fetch a map output from worker `id`
  // (`error` says why). Returns true if that made the worker unreachable.
  bool FetchFailed(const std::string& id, const std::string& reduce, const std::string& error);
  // Unreachable workers' ids, for map tasks to avoid.
  std::vector<std::string> Unreachable() const;

  // The live worker with the most free capacity (capacity per worker =
  // slots * depth), skipping `exclude`; nullptr if none has room.
  WorkerState* PickFree(int depth, const std::vector<std::string>& exclude);

  std::vector<v1::WorkerInfo> List() const;
  const std::map<std::string, WorkerState>& workers() const { return workers_; }
  size_t size() const { return workers_.size(); }

 private:
  std::map<std::string, WorkerState> workers_;
  int64_t next_id_ = 1;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_WORKER_REGISTRY_H_
