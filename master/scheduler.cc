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

bool Scheduler::AvoidsEveryone(const std::vector<std::string>& avoid) const {
  for (const auto& [id, w] : registry_->workers()) {
    if (std::find(avoid.begin(), avoid.end(), id) == avoid.end()) return false;
  }
  return true;
}

void Scheduler::Schedule() {
  // StartAttempt may fail synchronously and requeue; guard against re-entry.
  if (scheduling_) return;
  scheduling_ = true;
  const int d = depth();
  // Map outputs on a worker nobody can reach would be made again anyway.
  const std::vector<std::string> unreachable = registry_->Unreachable();
  size_t skipped = 0;
  while (skipped < queue_.size()) {
    Entry e = queue_.front();
    // Never two attempts of one task on one worker (backups go elsewhere); a
    // task that failed on some workers prefers the others, and a map task
    // prefers reachable workers, unless that rules out every worker there is.
    std::vector<std::string> busy;
    for (const Attempt& a : e.task->running) busy.push_back(a.worker_id);
    std::vector<std::string> avoid = busy;
    avoid.insert(avoid.end(), e.task->failed_on.begin(), e.task->failed_on.end());
    if (e.task->kind == Task::Kind::kMap) {
      avoid.insert(avoid.end(), unreachable.begin(), unreachable.end());
    }
    WorkerState* w = nullptr;
    if (e.job->CanStart(*e.task)) {
      w = registry_->PickFree(d, avoid);
      if (w == nullptr && busy.empty() && AvoidsEveryone(avoid)) w = registry_->PickFree(d, {});
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
