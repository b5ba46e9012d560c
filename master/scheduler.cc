#include "master/scheduler.h"

#include <algorithm>
#include <string>
#include <vector>

namespace ampmr::master {

template <typename F>
void Scheduler::Update(JobQueue* q, F change) {
  // The set's node is reused rather than freed and made again: this runs
  // twice per attempt.
  auto node = turns_.extract(TurnOf(q));
  change();
  if (q->tasks.empty()) return;
  if (node.empty()) {
    turns_.insert(TurnOf(q));
  } else {
    node.value() = TurnOf(q);
    turns_.insert(std::move(node));
  }
}

void Scheduler::Enqueue(TaskSource* job, Task* task) {
  JobQueue& q = jobs_[job];
  if (q.job == nullptr) {
    q.job = job;
    q.turn = next_turn_++;
  }
  task->queued = true;
  ++queued_;
  Update(&q, [&] { q.tasks.push_back(task); });
}

void Scheduler::RemoveJob(TaskSource* job) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  JobQueue& q = it->second;
  turns_.erase(TurnOf(&q));
  for (Task* task : q.tasks) task->queued = false;
  queued_ -= q.tasks.size();
  jobs_.erase(it);
}

void Scheduler::AttemptEnded(TaskSource* job) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  JobQueue* q = &it->second;
  Update(q, [q] { --q->running; });
}

int Scheduler::running(const TaskSource* job) const {
  auto it = jobs_.find(job);
  return it == jobs_.end() ? 0 : it->second.running;
}

int Scheduler::depth() const {
  return average_seconds_ < absl::ToDoubleSeconds(options_.short_task) ? options_.max_pipeline_depth
                                                                       : 1;
}

void Scheduler::RecordAttemptDuration(absl::Duration d) {
  // The mean of the first 20 attempts, then an exponential average over
  // roughly the last 20: a small job of short tasks is pipelined after its
  // first attempts instead of never.
  ++attempts_measured_;
  const double weight = std::max(0.05, 1.0 / static_cast<double>(attempts_measured_));
  average_seconds_ += (absl::ToDoubleSeconds(d) - average_seconds_) * weight;
}

bool Scheduler::AvoidsEveryone(const std::vector<std::string>& avoid) const {
  for (const auto& [id, w] : registry_->workers()) {
    if (std::find(avoid.begin(), avoid.end(), id) == avoid.end()) return false;
  }
  return true;
}

WorkerState* Scheduler::Place(const Task& task, int depth) {
  // Never two attempts of one task on one worker (backups go elsewhere); a
  // task that failed on some workers prefers the others, and a map task
  // prefers reachable workers (map outputs on a worker nobody can reach would
  // be made again anyway), unless that rules out every worker there is.
  std::vector<std::string> avoid;
  for (const Attempt& a : task.running) avoid.push_back(a.worker_id);
  const bool busy = !avoid.empty();
  avoid.insert(avoid.end(), task.failed_on.begin(), task.failed_on.end());
  if (task.is_map()) {
    const std::vector<std::string>& unreachable = registry_->Unreachable();
    avoid.insert(avoid.end(), unreachable.begin(), unreachable.end());
  }
  WorkerState* w = registry_->PickFree(depth, avoid);
  if (w == nullptr && !busy && AvoidsEveryone(avoid)) w = registry_->PickFree(depth, {});
  return w;
}

bool Scheduler::StartOne(JobQueue* q, int depth) {
  // A head task that cannot start or be placed now (a reduce waiting for a
  // map output made again, a task that failed on every free worker) goes to
  // the back, so the tasks behind it are tried, each once.
  for (size_t tries = q->tasks.size(); tries > 0; --tries) {
    Task* task = q->tasks.front();
    WorkerState* w = q->job->CanStart(*task) ? Place(*task, depth) : nullptr;
    if (w == nullptr) {
      q->tasks.pop_front();
      q->tasks.push_back(task);
      continue;
    }
    TaskSource* job = q->job;
    Update(q, [this, q] {
      q->tasks.pop_front();
      ++q->running;
      q->turn = next_turn_++;
    });
    --queued_;
    task->queued = false;
    job->StartAttempt(task, w);  // may re-enter Enqueue, AttemptEnded, RemoveJob
    return true;
  }
  return false;
}

void Scheduler::Schedule() {
  // StartAttempt may fail synchronously and requeue; guard against re-entry.
  if (scheduling_) return;
  scheduling_ = true;
  const int d = depth();
  // Jobs none of whose queued tasks could be placed sit out this round.
  std::vector<TaskSource*> sat_out;
  while (!turns_.empty() && registry_->PickFree(d, {}) != nullptr) {
    JobQueue* q = turns_.begin()->queue;
    if (StartOne(q, d)) continue;
    turns_.erase(turns_.begin());
    sat_out.push_back(q->job);
  }
  for (TaskSource* job : sat_out) {
    auto it = jobs_.find(job);
    if (it != jobs_.end() && !it->second.tasks.empty()) turns_.insert(TurnOf(&it->second));
  }
  scheduling_ = false;
}

}  // namespace ampmr::master
