#include "master/scheduler.h"

#include <algorithm>

#include "master/job_run.h"

namespace ampmr::master {

void Scheduler::Enqueue(JobRun* job, Task* task) {
  task->queued = true;
  queue_.push_back({job, task});
}

void Scheduler::RemoveJob(JobRun* job) {
  for (auto& e : queue_) {
    if (e.job == job) e.task->queued = false;
  }
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [job](const Entry& e) { return e.job == job; }),
               queue_.end());
}

int Scheduler::depth() const {
  return average_seconds_ < absl::ToDoubleSeconds(options_.short_task)
             ? options_.max_pipeline_depth
             : 1;
}

void Scheduler::RecordAttemptDuration(absl::Duration d) {
  // An exponential average over roughly the last 20 attempts.
  average_seconds_ += (absl::ToDoubleSeconds(d) - average_seconds_) * 0.05;
}

void Scheduler::Schedule() {
  // StartAttempt may fail synchronously and requeue; guard against re-entry.
  if (scheduling_) return;
  scheduling_ = true;
  const int d = depth();
  size_t skipped = 0;
  while (skipped < queue_.size()) {
    Entry e = queue_.front();
    // A task that failed on some workers prefers the others, but may go back
    // to them when no one else is free... only if no other worker exists.
    WorkerState* w = registry_->PickFree(d, e.task->failed_on);
    if (w == nullptr && e.task->failed_on.size() >= registry_->size()) {
      w = registry_->PickFree(d, {});
    }
    if (w == nullptr) {
      if (registry_->PickFree(d, {}) == nullptr) break;  // nobody has room
      queue_.pop_front();
      queue_.push_back(e);
      ++skipped;
      continue;
    }
    queue_.pop_front();
    e.task->queued = false;
    e.job->StartAttempt(e.task, w);
  }
  scheduling_ = false;
}

}  // namespace ampmr::master
