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
  queue_.erase(
      std::remove_if(queue_.begin(), queue_.end(), [job](const Entry& e) { return e.job == job; }),
      queue_.end());
}

int Scheduler::depth() const {
  return average_seconds_ < absl::ToDoubleSeconds(options_.short_task) ? options_.max_pipeline_depth
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
    // Never two attempts of one task on one worker (backups go elsewhere); a
    // task that failed on some workers prefers the others, unless it has
    // failed on every worker there is.
    std::vector<std::string> busy;
    for (const Attempt& a : e.task->running) busy.push_back(a.worker_id);
    std::vector<std::string> avoid = busy;
    avoid.insert(avoid.end(), e.task->failed_on.begin(), e.task->failed_on.end());
    WorkerState* w = nullptr;
    if (e.job->CanStart(*e.task)) {
      w = registry_->PickFree(d, avoid);
      if (w == nullptr && busy.empty() && e.task->failed_on.size() >= registry_->size()) {
        w = registry_->PickFree(d, {});
      }
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
