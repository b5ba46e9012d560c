// JobRun's attempts: the command an attempt runs, starting it, and what its
// answer does (accepted, failed, retried, lost with its worker), backups for
// stragglers, and stopping attempts that lost. The phases they drive are in
// job_run.cc.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/task_errors.h"
#include "master/job_run.h"
#include "master/total_order.h"

namespace ampmr::master {
namespace {

bool IsMapOnly(const v1::JobSpec& spec) { return spec.reducer() == "none"; }

constexpr char kShuffledBytes[] = "ampmr.shuffled_bytes";

// The bytes an accepted reduce attempt fetched, as its worker counted them.
int64_t ShuffledBytes(const v1::ReduceDone& done) {
  if (done.framework_counters().has_shuffled_bytes()) {
    return done.framework_counters().shuffled_bytes();
  }
  auto it = done.counters().find(kShuffledBytes);  // a worker that sends them by name
  return it == done.counters().end() ? 0 : it->second;
}

// How long an attempt answered at `now` ran on its slot, as its worker said;
// from its dispatch, latency and queueing included, if it did not say.
absl::Duration RunTime(const Attempt& attempt, const v1::Answer& answer, absl::Time now) {
  double reported = 0;
  if (answer.has_map_done()) reported = answer.map_done().run_seconds();
  if (answer.has_reduce_done()) reported = answer.reduce_done().run_seconds();
  return reported > 0 ? absl::Seconds(reported) : now - attempt.start;
}

}  // namespace

void JobRun::AddJobFields(bool cut_points, v1::TaskContext* ctx) const {
  const v1::JobSpec& spec = status_.spec();
  ctx->set_job_id(id_);
  ctx->set_mapper(spec.mapper());
  ctx->set_reducer(spec.reducer());
  ctx->set_combiner(spec.combiner());
  ctx->set_reduces(spec.reduces());
  *ctx->mutable_env() = spec.env();
  ctx->set_timeout_seconds(spec.task_timeout_seconds());
  for (const v1::ShippedFile& file : files_) ctx->add_files(file.name());
  ctx->set_key_fields(spec.key_fields());
  ctx->set_field_separator(spec.field_separator());
  ctx->set_partition_fields(spec.partition_fields());
  ctx->set_sort_key(spec.sort_key());
  ctx->set_compress_output(spec.compress_output());
  if (cut_points) {
    for (const std::string& cut : cut_points_) ctx->add_cut_points(cut);
  }
}

bool JobRun::HasJobContext(WorkerState* worker) {
  // While sampling, the cut points are not known yet: the few sampling tasks
  // carry the whole context, and the job's goes out once it is final.
  if (!worker->hello.job_contexts() || sampling_) return false;
  if (!worker->job_contexts.insert(id_).second) return true;
  v1::Command command;
  command.mutable_job_context()->set_job_id(id_);
  AddJobFields(/*cut_points=*/true, command.mutable_job_context()->mutable_context());
  worker->link->Send(std::move(command));  // on the stream before the task's
  return true;
}

v1::Command JobRun::MakeCommand(const Task& task, const std::string& attempt_id,
                                bool short_form) const {
  const v1::JobSpec& spec = status_.spec();
  v1::Command command;
  v1::TaskContext* ctx = task.is_map() ? command.mutable_run_map()->mutable_task()
                                       : command.mutable_run_reduce()->mutable_task();
  if (!short_form) AddJobFields(/*cut_points=*/task.is_map(), ctx);
  ctx->set_job_id(id_);
  ctx->set_task_id(task.id());
  ctx->set_attempt_id(attempt_id);
  ctx->set_partition(task.index);
  if (task.is_map()) {
    v1::RunMap* run = command.mutable_run_map();
    *run->mutable_split() = SplitPlan::ToSplit(inputs_, task.split);
    if (sampling_) run->set_sample_bytes(kSampleBytes);
    if (IsMapOnly(spec)) {
      run->set_output_dir(committer_.AttemptDir(attempt_id));
    }
    return command;
  }
  v1::RunReduce* run = command.mutable_run_reduce();
  // Slow start: the outputs accepted so far; the rest follow (FeedReduces).
  for (const auto& map : maps_) {
    v1::MapOutputLocation loc;
    if (LocationOf(*map, task.index, &loc)) *run->add_inputs() = std::move(loc);
  }
  run->set_more_inputs(tally_.maps_done < static_cast<int>(maps_.size()));
  run->set_temp_path(committer_.AttemptPath(attempt_id, task.index));
  return command;
}

bool JobRun::LocationOf(const Task& map, int partition, v1::MapOutputLocation* loc) const {
  const MapOutput& out = map.output;
  if (map.state != Task::State::kDone || partition >= static_cast<int>(out.partitions.size())) {
    return false;
  }
  const auto [offset, length] = out.partitions[partition];
  if (length == 0) return false;
  loc->set_map_task_id(map.id());
  loc->set_attempt_id(out.attempt_id);
  if (out.holder >= 0) {
    loc->set_worker_id(holders_[out.holder].worker_id);
    loc->set_shuffle_address(holders_[out.holder].address);
  }
  loc->set_offset(offset);
  loc->set_length(length);
  return true;
}

void JobRun::FeedReduces(const Task& map) {
  const bool last = tally_.maps_done == static_cast<int>(maps_.size());
  for (auto& reduce : reduces_) {
    for (Attempt& attempt : reduce->running) {
      if (!attempt.waiting_for_maps) continue;
      v1::Command command;
      v1::AddMapOutputs* add = command.mutable_add_map_outputs();
      add->set_attempt_id(attempt.id);
      add->set_last(last);
      v1::MapOutputLocation loc;
      if (LocationOf(map, reduce->index, &loc)) *add->add_inputs() = std::move(loc);
      if (!last && add->inputs_size() == 0) continue;
      WorkerState* worker = env_.registry->Find(attempt.worker_id);
      if (worker == nullptr) continue;  // lost: its attempt fails with it
      worker->link->Send(std::move(command));
      if (last) {
        attempt.waiting_for_maps = false;
        attempt.start = env_.loop->Now();
        env_.registry->ReleaseSlot(attempt.worker_id);
      }
    }
  }
}

bool JobRun::PreemptEarlyReduce(const std::string& worker_id) {
  Task* task = nullptr;
  size_t latest = 0;
  for (auto& reduce : reduces_) {
    for (size_t i = 0; i < reduce->running.size(); ++i) {
      const Attempt& a = reduce->running[i];
      if (!a.waiting_for_maps || a.worker_id != worker_id) continue;
      if (task == nullptr || a.start > task->running[latest].start) {
        task = reduce.get();
        latest = i;
      }
    }
  }
  if (task == nullptr) return false;
  Attempt attempt = std::move(task->running[latest]);
  task->running.erase(task->running.begin() + static_cast<std::ptrdiff_t>(latest));
  AMPMR_LOG(INFO) << "early reduce preempted so that a map can run job=" << id_
                  << " task=" << task->id() << " attempt=" << attempt.id << " worker=" << worker_id;
  KillAttempt(&attempt);
  if (task->running.empty() && !task->queued) {
    SetState(task, Task::State::kPending);
    env_.scheduler->Enqueue(this, task);
  }
  env_.on_change(this);
  return true;
}

void JobRun::StartAttempt(Task* task, WorkerState* worker) {
  Attempt attempt;
  attempt.id = absl::StrCat(attempt_prefix_, "-", task->id(), "-a", ++task->attempts_started);
  attempt.worker_id = worker->id;
  attempt.start = env_.loop->Now();
  attempts_.Started(task->kind == Task::Kind::kReduce, task->index, task->attempts_started,
                    attempt.id, worker->id, !task->running.empty(), attempt.start);
  env_.registry->AttemptStarted(worker);
  SetState(task, Task::State::kRunning);
  v1::Command command = MakeCommand(*task, attempt.id, HasJobContext(worker));
  if (command.has_run_reduce() && command.run_reduce().more_inputs()) {
    attempt.waiting_for_maps = true;
    env_.registry->HoldSlot(worker);
  }
  attempt.call = worker->link->Call(std::move(command));
  amp::Deferred<v1::Answer> call = attempt.call;
  std::string attempt_id = attempt.id;
  task->running.push_back(std::move(attempt));
  call.AddBoth([this, task, attempt_id](const absl::StatusOr<v1::Answer>& result) {
    OnAttemptDone(task, attempt_id, result);
  });
}

bool JobRun::EndAttempt(Task* task, const std::string& attempt_id, Attempt* ended) {
  for (auto it = task->running.begin(); it != task->running.end(); ++it) {
    if (it->id != attempt_id) continue;
    *ended = std::move(*it);
    task->running.erase(it);
    task_statuses_.erase(attempt_id);
    env_.scheduler->AttemptEnded(this);
    env_.registry->AttemptEnded(ended->worker_id);
    if (ended->waiting_for_maps) env_.registry->ReleaseSlot(ended->worker_id);
    return true;
  }
  return false;
}

void JobRun::OnAttemptDone(Task* task, const std::string& attempt_id,
                           const absl::StatusOr<v1::Answer>& result) {
  Attempt attempt;
  if (!EndAttempt(task, attempt_id, &attempt)) return;  // superseded or cancelled
  // A failure says little about how long the task runs.
  if (result.ok()) {
    env_.scheduler->RecordAttemptDuration(RunTime(attempt, *result, env_.loop->Now()));
  }
  if (task->finished()) {
    attempts_.Ended(attempt_id, v1::ATTEMPT_KILLED, env_.loop->Now());
    return;
  }
  if (result.ok()) {
    AcceptAttempt(task, attempt, *result);
  } else {
    FailAttempt(task, attempt, result.status());
  }
  env_.scheduler->Schedule();
}

void JobRun::FailAttempt(Task* task, const Attempt& attempt, const absl::Status& error) {
  std::string message =
      absl::StrCat("attempt=", attempt.id, " worker=", attempt.worker_id, ": ", error.message());
  WorkerState* worker = env_.registry->Find(attempt.worker_id);
  auto lost_output = error.GetPayload(kLostMapOutputPayload);
  if (lost_output.has_value()) {
    // The reduce could not fetch a map output: make that output again and
    // try the reduce later; the reduce itself did nothing wrong.
    std::string lost_attempt(*lost_output);
    AMPMR_LOG(INFO) << "reduce could not fetch a map output job=" << id_ << " task=" << task->id()
                    << " " << message;
    attempts_.Ended(attempt.id, v1::ATTEMPT_LOST, env_.loop->Now());
    for (auto& map : maps_) {
      if (map->output.attempt_id != lost_attempt) continue;
      OnFetchFailed(*task, map.get(), error);
      if (finished()) return;
      break;
    }
  } else if (error.code() == absl::StatusCode::kUnavailable &&
             (worker == nullptr || worker->draining)) {
    // Lost (or given back) with its worker: not the task's fault, so it does not count.
    AMPMR_LOG(INFO) << "task reassigned job=" << id_ << " task=" << task->id() << " " << message;
    attempts_.Ended(attempt.id, v1::ATTEMPT_LOST, env_.loop->Now());
  } else {
    attempts_.Ended(attempt.id, v1::ATTEMPT_FAILED, env_.loop->Now(), error.message());
    if (worker != nullptr) ++worker->attempts_failed;
    ++task->failures;
    task->failed_on.push_back(attempt.worker_id);
    task->last_error = absl::Status(error.code(), message);
    AMPMR_LOG(WARNING) << "attempt failed job=" << id_ << " task=" << task->id() << " " << message;
    if (task->failures >= status_.spec().max_attempts()) {
      SetState(task, Task::State::kFailed);
      CancelRunning(task);
      absl::Status failed(
          error.code(), absl::StrCat(TaskLabel(*task), " failed after ", task->failures,
                                     task->failures == 1 ? " attempt: " : " attempts: ", message));
      Finish(v1::FAILED, std::string(failed.message()));
      return;
    }
  }
  if (task->running.empty() && !task->queued) {
    SetState(task, Task::State::kPending);
    env_.scheduler->Enqueue(this, task);
  }
}

void JobRun::LaunchBackups(absl::Duration min_extra, absl::Duration without_median) {
  if (finished() || status_.state() == v1::PENDING) return;
  auto& tasks = *PhaseTasks();
  for (const auto& t : tasks) {
    if (t->queued) return;  // not near the end of the phase yet
  }
  absl::Duration median = absl::ZeroDuration();
  absl::Duration threshold = without_median;
  if (!phase_durations_.empty()) {
    std::vector<absl::Duration> d = phase_durations_;
    std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
    median = d[d.size() / 2];
    threshold = std::max(2 * median, median + min_extra);
  }
  absl::Time now = env_.loop->Now();
  for (auto& t : tasks) {
    if (t->state != Task::State::kRunning || t->running.size() != 1) continue;
    if (now - t->running[0].start < threshold) continue;
    AMPMR_LOG(INFO) << "backup attempt for straggler job=" << id_ << " task=" << t->id()
                    << " running " << absl::FormatDuration(now - t->running[0].start)
                    << (phase_durations_.empty() ? ", nothing of the phase done yet"
                                                 : ", phase median ")
                    << (phase_durations_.empty() ? "" : absl::FormatDuration(median));
    env_.scheduler->Enqueue(this, t.get());
  }
}

absl::Status JobRun::CheckMapOutput(const Task& task, const v1::Answer& answer) const {
  if (task.kind != Task::Kind::kMap || IsMapOnly(status_.spec())) return absl::OkStatus();
  const v1::MapDone& done = answer.map_done();
  if (done.output_path().empty()) return absl::OkStatus();  // no output at all
  // A partition left out would read as empty: a silent loss of its records.
  if (done.partitions_size() != status_.spec().reduces()) {
    return absl::InternalError(absl::StrCat("worker answered a map output of ",
                                            done.partitions_size(), " partitions; the job has ",
                                            status_.spec().reduces(), " reduces"));
  }
  for (int r = 0; r < done.partitions_size(); ++r) {
    const v1::PartitionInfo& p = done.partitions(r);
    if (p.offset() < 0 || p.length() < 0) {
      return absl::InternalError(absl::StrCat("worker answered a map output whose partition ", r,
                                              " has a negative offset or length"));
    }
  }
  return absl::OkStatus();
}

void JobRun::AcceptAttempt(Task* task, const Attempt& attempt, const v1::Answer& answer) {
  const bool is_map = task->is_map();
  if (is_map ? !answer.has_map_done() : !answer.has_reduce_done()) {
    FailAttempt(task, attempt,
                absl::InternalError("worker answered with the wrong kind of answer"));
    return;
  }
  if (absl::Status bad = CheckMapOutput(*task, answer); !bad.ok()) {
    FailAttempt(task, attempt, bad);
    return;
  }
  if (!is_map || IsMapOnly(status_.spec())) {
    absl::Status committed = committer_.CommitTask(attempt.id, task->index);
    if (!committed.ok()) {
      FailAttempt(task, attempt, committed);
      return;
    }
  }
  attempts_.Ended(attempt.id, v1::ATTEMPT_SUCCEEDED, env_.loop->Now(), "",
                  is_map ? 0 : ShuffledBytes(answer.reduce_done()));
  SetState(task, Task::State::kDone);
  WorkerState* worker = env_.registry->Find(attempt.worker_id);
  const std::string address = worker != nullptr ? worker->hello.shuffle_address() : "";
  if (worker != nullptr) ++worker->tasks_done;
  if (task->kind == Task::Kind::kMap) {
    // Keep where the output is; the counters are summed below.
    const v1::MapDone& done = answer.map_done();
    MapOutput& out = task->output;
    out.attempt_id = done.attempt_id();
    out.path = done.output_path();
    out.holder = HolderOf(attempt.worker_id, address);
    out.partitions.clear();
    if (!out.path.empty()) {
      out.partitions.reserve(done.partitions_size());
      for (const v1::PartitionInfo& p : done.partitions()) {
        out.partitions.emplace_back(p.offset(), p.length());
      }
    }
  }
  const auto& counters = is_map ? answer.map_done().counters() : answer.reduce_done().counters();
  const v1::FrameworkCounters& framework = is_map ? answer.map_done().framework_counters()
                                                  : answer.reduce_done().framework_counters();
  if (task->kind == Task::Kind::kSample) {
    // A sampling task counts nothing; its keys give the cut points.
    for (const std::string& key : answer.map_done().sample_keys()) sample_keys_.push_back(key);
  } else if (is_map && !IsMapOnly(status_.spec())) {
    counters_.SetMap(task->index, framework, counters);  // its output may be lost and made again
  } else {
    counters_.Add(framework, counters);
  }
  SetOutputLost(task, false);
  if (task->kind == Task::Kind::kMap && !IsMapOnly(status_.spec())) FeedReduces(*task);
  phase_durations_.push_back(env_.loop->Now() - attempt.start);
  CancelRunning(task);  // backup attempts lose
  if (env_.journal != nullptr && task->kind != Task::Kind::kSample) {
    env_.journal->TaskAccepted(id_, is_map, task->index, address, answer);
  }
  MaybeEndPhase();
  env_.on_change(this);
}

void JobRun::CancelRunning(Task* task) {
  std::vector<Attempt> running = std::move(task->running);
  task->running.clear();
  for (Attempt& attempt : running) KillAttempt(&attempt);
}

void JobRun::KillAttempt(Attempt* attempt) {
  task_statuses_.erase(attempt->id);
  env_.scheduler->AttemptEnded(this);
  attempts_.Ended(attempt->id, v1::ATTEMPT_KILLED, env_.loop->Now());
  if (WorkerState* w = env_.registry->Find(attempt->worker_id)) {
    env_.registry->AttemptEnded(w->id);
    if (attempt->waiting_for_maps) env_.registry->ReleaseSlot(w->id);
    v1::Command cancel;
    cancel.mutable_cancel()->set_attempt_id(attempt->id);
    w->link->Send(cancel);
  }
  attempt->call.Cancel();  // its answer, if any, is ignored
}

}  // namespace ampmr::master
