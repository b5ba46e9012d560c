// WorkerRegistry: the workers connected now, with their capacity and load.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_WORKER_REGISTRY_H_
#define AMPMR_MASTER_WORKER_REGISTRY_H_

#include <cstdint>
#include <map>
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

  int slots() const { return hello.slots() > 0 ? hello.slots() : 1; }
};

class WorkerRegistry {
 public:
  // Registers a worker; returns its new id ("w1", "w2", ... never reused).
  WorkerState* Add(const v1::Hello& hello, WorkerLink* link, absl::Time now);
  void Remove(const std::string& id);
  WorkerState* Find(const std::string& id);

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
