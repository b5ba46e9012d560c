// Scheduler: matches waiting tasks to free worker slots, first come first
// served across jobs. A worker takes up to slots * depth attempts at once;
// depth grows above 1 only while recent attempts are short, so tiny tasks are
// pipelined (the worker has the next one queued when it finishes one) while
// long tasks stay spread evenly over idle slots.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_SCHEDULER_H_
#define AMPMR_MASTER_SCHEDULER_H_

#include <deque>
#include <functional>

#include "absl/time/time.h"
#include "master/task.h"
#include "master/worker_registry.h"

namespace ampmr::master {

class JobRun;

struct SchedulerOptions {
  // Most attempts outstanding per slot when tasks are short.
  int max_pipeline_depth = 64;
  // Attempts shorter than this on average count as short.
  absl::Duration short_task = absl::Milliseconds(50);
};

class Scheduler {
 public:
  Scheduler(WorkerRegistry* registry, SchedulerOptions options)
      : registry_(registry), options_(options) {}

  // Queues `task` of `job` for an attempt. REQUIRES: !task->queued.
  void Enqueue(JobRun* job, Task* task);
  // Drops the queued tasks of `job` (cancelled or failed).
  void RemoveJob(JobRun* job);
  // Starts attempts while there are queued tasks and free slots.
  void Schedule();
  // Feeds the running average that decides the pipeline depth.
  void RecordAttemptDuration(absl::Duration d);

  size_t queued() const { return queue_.size(); }
  int depth() const;

 private:
  // Whether every registered worker is in `avoid` (then a task takes any).
  bool AvoidsEveryone(const std::vector<std::string>& avoid) const;

  struct Entry {
    JobRun* job;
    Task* task;
  };
  WorkerRegistry* registry_;
  SchedulerOptions options_;
  std::deque<Entry> queue_;
  double average_seconds_ = 1.0;  // pessimistic until measured
  bool scheduling_ = false;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_SCHEDULER_H_
