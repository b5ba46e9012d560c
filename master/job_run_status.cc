// JobRun's reporting side: the tallies of task states (kept by the only
// functions that change those states), the job's status, and what running
// attempts last said of themselves.
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "master/job_run.h"

namespace ampmr::master {
namespace {

// Env values are secrets: they reach the tasks and nothing else.
void HideEnvValues(v1::JobSpec* spec) {
  for (auto& [key, value] : *spec->mutable_env()) value = kHiddenEnvValue;
}

}  // namespace

std::pair<Task*, const Attempt*> JobRun::FindRunning(const std::string& attempt_id) const {
  // Attempt ids are PREFIX-TASK-aN, TASK being "m12" or "r3".
  absl::string_view rest = attempt_id;
  if (!absl::ConsumePrefix(&rest, attempt_prefix_ + "-")) return {nullptr, nullptr};
  absl::string_view task_id = rest.substr(0, rest.rfind("-a"));
  int index = 0;
  if (task_id.size() < 2 || !absl::SimpleAtoi(task_id.substr(1), &index) || index < 0) {
    return {nullptr, nullptr};
  }
  const auto& tasks = task_id[0] == 'm' ? maps_ : reduces_;
  if (index >= static_cast<int>(tasks.size()) || tasks[index]->id() != task_id) {
    return {nullptr, nullptr};
  }
  for (const Attempt& attempt : tasks[index]->running) {
    if (attempt.id == attempt_id) return {tasks[index].get(), &attempt};
  }
  return {nullptr, nullptr};
}

bool JobRun::SetAttemptStatus(const std::string& attempt_id, const std::string& status) {
  auto [task, attempt] = FindRunning(attempt_id);
  if (attempt == nullptr) return false;
  v1::TaskStatus& s = task_statuses_[attempt_id];
  s.set_task_id(task->id());
  s.set_attempt_id(attempt_id);
  s.set_worker_id(attempt->worker_id);
  s.set_status(status);
  return true;
}

void JobRun::SetState(Task* task, Task::State state) {
  int& done = task->kind == Task::Kind::kMap      ? tally_.maps_done
              : task->kind == Task::Kind::kReduce ? tally_.reduces_done
                                                  : tally_.samples_done;
  if (task->state == Task::State::kDone) --done;
  task->state = state;
  if (state == Task::State::kDone) ++done;
}

void JobRun::SetOutputLost(Task* map, bool lost) {
  if (map->output_lost == lost) return;
  map->output_lost = lost;
  tally_.lost_maps += lost ? 1 : -1;
}

void JobRun::ReleaseTasks() {
  if (restored_final_) return;
  status_ = Status();
  restored_final_ = true;
  std::vector<std::unique_ptr<Task>>().swap(samples_);
  std::vector<std::unique_ptr<Task>>().swap(maps_);
  std::vector<std::unique_ptr<Task>>().swap(reduces_);
  std::vector<std::string>().swap(inputs_);
  std::vector<Holder>().swap(holders_);
  holder_index_ = {};
  awaited_.clear();
  std::vector<absl::Duration>().swap(phase_durations_);
  counters_ = JobCounters(0);
  task_statuses_.clear();
}

v1::JobStatus JobRun::Status() const {
  v1::JobStatus s = status_;
  HideEnvValues(s.mutable_spec());
  if (restored_final_) return s;
  s.mutable_map()->set_total(static_cast<int>(maps_.size()));
  s.mutable_map()->set_done(tally_.maps_done);
  s.mutable_reduce()->set_total(static_cast<int>(reduces_.size()));
  s.mutable_reduce()->set_done(tally_.reduces_done);
  // Reduces may run in the map phase (slow start), and maps in the reduce
  // phase (outputs made again).
  int reduces_running = 0;
  for (const auto& reduce : reduces_) reduces_running += static_cast<int>(reduce->running.size());
  s.mutable_map()->set_running(env_.scheduler->running(this) - reduces_running);
  s.mutable_reduce()->set_running(reduces_running);
  for (const auto& [name, value] : counters_.Sums()) (*s.mutable_counters())[name] = value;
  for (const auto& [attempt, task_status] : task_statuses_) *s.add_task_statuses() = task_status;
  attempts_.FillStatus(&s);
  return s;
}

}  // namespace ampmr::master
