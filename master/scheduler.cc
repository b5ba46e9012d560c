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
  if (q->empty()) return;
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
  Update(&q, [&] { (task->is_map() ? q.maps : q.reduces).push_back(task); });
}

void Scheduler::RemoveJob(TaskSource* job) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  JobQueue& q = it->second;
  turns_.erase(TurnOf(&q));
  for (auto* tasks : {&q.maps, &q.reduces}) {
    for (Task* task : *tasks) task->queued = false;
    queued_ -= tasks->size();
  }
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

std::vector<std::string> Scheduler::Avoid(const Task& task, bool* busy) const {
  // Never two attempts of one task on one worker (backups go elsewhere); a
  // task that failed on some workers prefers the others, and a map task
  // prefers reachable workers (map outputs on a worker nobody can reach would
  // be made again anyway), unless that rules out every worker there is.
  std::vector<std::string> avoid;
  for (const Attempt& a : task.running) avoid.push_back(a.worker_id);
  *busy = !avoid.empty();
  avoid.insert(avoid.end(), task.failed_on.begin(), task.failed_on.end());
  if (task.is_map()) {
    const std::vector<std::string>& unreachable = registry_->Unreachable();
    avoid.insert(avoid.end(), unreachable.begin(), unreachable.end());
  }
  return avoid;
}

bool Scheduler::MayUse(const Task& task, const std::string& worker_id) const {
  bool busy = false;
  std::vector<std::string> avoid = Avoid(task, &busy);
  if (std::find(avoid.begin(), avoid.end(), worker_id) == avoid.end()) return true;
  for (const Attempt& a : task.running) {
    if (a.worker_id == worker_id) return false;
  }
  return !busy && AvoidsEveryone(avoid);
}

WorkerState* Scheduler::Place(const Task& task, int depth) {
  bool busy = false;
  std::vector<std::string> avoid = Avoid(task, &busy);
  WorkerState* w = registry_->PickFree(depth, avoid);
  if (w == nullptr && !busy && AvoidsEveryone(avoid)) w = registry_->PickFree(depth, {});
  return w;
}

bool Scheduler::StartFrom(JobQueue* q, std::deque<Task*>* tasks, int depth) {
  // A head task that cannot be placed now (one that failed on every free
  // worker) goes to the back, so the tasks behind it are tried, each once.
  for (size_t tries = tasks->size(); tries > 0; --tries) {
    Task* task = tasks->front();
    WorkerState* w = Place(*task, depth);
    if (w == nullptr) {
      tasks->pop_front();
      tasks->push_back(task);
      continue;
    }
    TaskSource* job = q->job;
    Update(q, [this, q, tasks] {
      tasks->pop_front();
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

bool Scheduler::StartOne(JobQueue* q, int depth, bool early) {
  if (StartFrom(q, &q->maps, depth)) return true;
  switch (q->job->reduce_start()) {
    case TaskSource::ReduceStart::kNotYet:
      return false;
    case TaskSource::ReduceStart::kEarly:
      return early && StartFrom(q, &q->reduces, 1);
    case TaskSource::ReduceStart::kNow:
      return StartFrom(q, &q->reduces, depth);
  }
  return false;
}

void Scheduler::Round(int depth, bool early) {
  // Jobs none of whose queued tasks could be placed sit out the round.
  std::vector<TaskSource*> sat_out;
  while (!turns_.empty() && registry_->PickFree(early ? 1 : depth, {}) != nullptr) {
    JobQueue* q = turns_.begin()->queue;
    if (StartOne(q, depth, early)) continue;
    turns_.erase(turns_.begin());
    sat_out.push_back(q->job);
  }
  for (TaskSource* job : sat_out) {
    auto it = jobs_.find(job);
    if (it != jobs_.end() && !it->second.empty()) turns_.insert(TurnOf(&it->second));
  }
}

bool Scheduler::Preempt(int depth) {
  // A job's queued map preempts the job's own early reduces (they wait for
  // it), as Hadoop's do; anyone's when early reduces hold every slot there
  // is (nothing else would free one).
  bool every_slot_held = true;
  for (const auto& [id, w] : registry_->workers()) {
    if (!w.draining && w.held < w.slots) every_slot_held = false;
  }
  std::vector<TaskSource*> by_priority;  // lowest first: whose reduce goes first
  for (const auto& [job, q] : jobs_) by_priority.push_back(q.job);
  std::stable_sort(by_priority.begin(), by_priority.end(),
                   [](TaskSource* a, TaskSource* b) { return a->priority() < b->priority(); });
  for (const Turn& turn : turns_) {
    if (turn.queue->maps.empty()) continue;
    const Task& map = *turn.queue->maps.front();
    for (const auto& [id, w] : registry_->workers()) {
      if (w.draining || !WorkerRegistry::RoomIfReleased(w, depth) || !MayUse(map, id)) continue;
      if (turn.queue->job->PreemptEarlyReduce(id)) return true;
      if (!every_slot_held) continue;
      for (TaskSource* job : by_priority) {
        if (job->PreemptEarlyReduce(id)) return true;
      }
    }
  }
  return false;
}

void Scheduler::Schedule() {
  // StartAttempt may fail synchronously and requeue; guard against re-entry.
  if (scheduling_) return;
  scheduling_ = true;
  const int d = depth();
  // First the maps, and reduces whose job's maps are all done, by turn; then
  // early reduces on the slots left idle; then, if a queued map finds no room
  // where early reduces hold slots it could use, one of them is preempted and
  // it all goes again.
  const int held = registry_->held_slots();
  for (int preempted = 0; preempted <= held; ++preempted) {
    Round(d, /*early=*/false);
    Round(d, /*early=*/true);
    if (registry_->held_slots() == 0 || !Preempt(d)) break;
  }
  scheduling_ = false;
}

}  // namespace ampmr::master
