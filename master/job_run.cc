#include "master/job_run.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/codec.h"
#include "common/logging.h"
#include "common/key_comparator.h"
#include "common/key_spec.h"
#include "common/task_errors.h"
#include "master/total_order.h"

namespace ampmr::master {
namespace {

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

bool IsMapOnly(const v1::JobSpec& spec) { return spec.reducer() == "none"; }

constexpr char kShuffledBytes[] = "ampmr.shuffled_bytes";

int64_t CounterOf(const google::protobuf::Map<std::string, int64_t>& counters,
                  const std::string& name) {
  auto it = counters.find(name);
  return it == counters.end() ? 0 : it->second;
}

}  // namespace

JobRun::JobRun(std::string id, v1::JobSpec spec, SplitPlan splits, JobEnv env)
    : id_(std::move(id)),
      env_(std::move(env)),
      attempt_prefix_(id_),
      committer_(spec.output(), id_, CodecSuffix(CodecOfOutputName(spec.compress_output()))),
      counters_(static_cast<int>(splits.size())) {
  status_.set_job_id(id_);
  files_ = std::move(*spec.mutable_files());
  for (const v1::ShippedFile& file : files_) {
    v1::ShippedFile* listed = spec.add_files();
    listed->set_name(file.name());
    listed->set_mode(file.mode());
    listed->set_size(static_cast<int64_t>(file.content().size()));
  }
  *status_.mutable_spec() = std::move(spec);
  status_.set_state(v1::PENDING);
  status_.set_submit_time(Seconds(env_.loop->Now()));
  inputs_ = splits.files();
  maps_.reserve(splits.size());
  for (size_t i = 0; i < splits.size(); ++i) {
    auto task = std::make_unique<Task>();
    task->kind = Task::Kind::kMap;
    task->index = static_cast<int>(i);
    task->split = splits.ranges()[i];
    maps_.push_back(std::move(task));
  }
  if (!IsMapOnly(status_.spec())) {
    for (int r = 0; r < status_.spec().reduces(); ++r) {
      auto task = std::make_unique<Task>();
      task->kind = Task::Kind::kReduce;
      task->index = r;
      reduces_.push_back(std::move(task));
    }
  }
}

JobRun::~JobRun() {
  if (rejoin_timer_ != 0) env_.loop->CancelTimer(rejoin_timer_);
}

bool JobRun::finished() const {
  v1::JobState s = status_.state();
  return s == v1::SUCCEEDED || s == v1::FAILED || s == v1::CANCELLED;
}

std::string JobRun::TaskLabel(const Task& task) const {
  if (task.kind == Task::Kind::kReduce)
    return absl::StrCat("task ", task.id(), " (reduce partition ", task.index, ")");
  return absl::StrCat("task ", task.id(), " (input ", inputs_[task.split.file], " bytes ",
                      task.split.start, "+", task.split.length, ")");
}

int32_t JobRun::HolderOf(const std::string& worker_id, const std::string& address) {
  auto [it, added] = holder_index_.try_emplace(worker_id, static_cast<int32_t>(holders_.size()));
  if (added) {
    holders_.push_back({worker_id, address});
  } else {
    holders_[it->second].address = address;  // a worker id is one process: one address
  }
  return it->second;
}

void JobRun::Start() {
  status_.set_start_time(Seconds(env_.loop->Now()));
  AMPMR_LOG(INFO) << "job started job=" << id_ << " maps=" << maps_.size()
                  << " reduces=" << reduces_.size();
  if (status_.spec().total_order() && reduces_.size() > 1 && !maps_.empty()) {
    StartSampling();
    return;
  }
  StartPhase(&maps_, v1::MAPPING);
}

std::vector<std::unique_ptr<Task>>* JobRun::PhaseTasks() {
  if (sampling_) return &samples_;
  return status_.state() == v1::REDUCING ? &reduces_ : &maps_;
}

void JobRun::StartSampling() {
  for (size_t map : SampledSplits(maps_.size())) {
    auto task = std::make_unique<Task>();
    task->kind = Task::Kind::kSample;
    task->index = static_cast<int>(samples_.size());
    task->split = maps_[map]->split;
    samples_.push_back(std::move(task));
  }
  AMPMR_LOG(INFO) << "sampling keys for total order job=" << id_ << " tasks=" << samples_.size();
  sampling_ = true;
  StartPhase(&samples_, v1::MAPPING);
}

void JobRun::OnSamplingDone() {
  const v1::JobSpec& spec = status_.spec();
  absl::StatusOr<KeySpec> keys = MakeKeySpec(spec.key_fields(), spec.field_separator(),
                                             spec.partition_fields(), spec.sort_key());
  cut_points_ =
      CutPoints(std::move(sample_keys_), spec.reduces(), KeyComparator(keys.value()));
  sample_keys_.clear();
  AMPMR_LOG(INFO) << "total order cut points ready job=" << id_ << " cuts=" << cut_points_.size();
  sampling_ = false;
  StartPhase(&maps_, v1::MAPPING);
}

void JobRun::StartPhase(std::vector<std::unique_ptr<Task>>* tasks, v1::JobState phase) {
  status_.set_state(phase);
  phase_durations_.clear();
  for (auto& owned : *tasks) {
    // Tasks of a resumed job may be done already.
    if (owned->state != Task::State::kDone) env_.scheduler->Enqueue(this, owned.get());
  }
  env_.on_change(this);
  MaybeEndPhase();
  if (!finished()) env_.scheduler->Schedule();
}

void JobRun::MaybeEndPhase() {
  if (finished()) return;
  const int done = sampling_                         ? tally_.samples_done
                   : status_.state() == v1::REDUCING ? tally_.reduces_done
                                                     : tally_.maps_done;
  if (done == static_cast<int>(PhaseTasks()->size())) OnPhaseDone();
}

void JobRun::OnPhaseDone() {
  if (sampling_) {
    OnSamplingDone();
    return;
  }
  if (status_.state() == v1::MAPPING && !IsMapOnly(status_.spec())) {
    AMPMR_LOG(INFO) << "map phase done job=" << id_;
    StartPhase(&reduces_, v1::REDUCING);
    return;
  }
  // Every acceptance is durable before any part file takes its final name,
  // so a master restarted mid-commit redoes the commit and runs nothing
  // again. (The coordinator reports journal errors.)
  if (env_.journal != nullptr) (void)env_.journal->Flush();
  absl::Status committed = CommitJob();
  if (!committed.ok()) {
    Finish(v1::FAILED, absl::StrCat("commit: ", committed.message()));
    return;
  }
  Finish(v1::SUCCEEDED, "");
}

void JobRun::Cancel(const std::string& why) {
  if (finished()) return;
  Finish(v1::CANCELLED, why);
}

void JobRun::Finish(v1::JobState state, const std::string& error) {
  // Only the running phase's tasks have attempts and Deferreds in a list.
  auto* phase_tasks = PhaseTasks();
  task_statuses_.clear();
  status_.set_state(state);
  status_.set_error(error);
  status_.set_end_time(Seconds(env_.loop->Now()));
  env_.scheduler->RemoveJob(this);
  if (rejoin_timer_ != 0) env_.loop->CancelTimer(rejoin_timer_);
  rejoin_timer_ = 0;
  for (auto& task : *phase_tasks) {
    if (task->finished()) continue;
    CancelRunning(task.get());
    SetState(task.get(), Task::State::kCancelled);
  }
  for (auto& map : maps_) {
    if (map->output_lost) CancelRunning(map.get());
  }
  if (state != v1::SUCCEEDED) committer_.Abort();
  files_.Clear();
  // Map outputs are no longer needed by anyone.
  v1::Command forget;
  forget.mutable_forget_job()->set_job_id(id_);
  for (const auto& [wid, w] : env_.registry->workers()) w.link->Send(forget);
  if (state == v1::SUCCEEDED) {
    AMPMR_LOG(INFO) << "job succeeded job=" << id_;
  } else {
    AMPMR_LOG(INFO) << "job ended job=" << id_ << " state=" << v1::JobState_Name(state)
                    << " error=" << error;
  }
  if (env_.journal != nullptr) env_.journal->JobFinished(Status());
  env_.on_change(this);
}

v1::Command JobRun::MakeCommand(const Task& task, const std::string& attempt_id) const {
  const v1::JobSpec& spec = status_.spec();
  v1::Command command;
  v1::TaskContext* ctx = task.is_map()
                             ? command.mutable_run_map()->mutable_task()
                             : command.mutable_run_reduce()->mutable_task();
  ctx->set_job_id(id_);
  ctx->set_task_id(task.id());
  ctx->set_attempt_id(attempt_id);
  ctx->set_partition(task.index);
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
  if (task.is_map()) {
    v1::RunMap* run = command.mutable_run_map();
    *run->mutable_split() = SplitPlan::ToSplit(inputs_, task.split);
    if (sampling_) run->set_sample_bytes(kSampleBytes);
    for (const std::string& cut : cut_points_) ctx->add_cut_points(cut);
    if (IsMapOnly(spec)) {
      run->set_output_dir(committer_.AttemptDir(attempt_id));
    }
    return command;
  }
  v1::RunReduce* run = command.mutable_run_reduce();
  for (const auto& map : maps_) {
    const MapOutput& out = map->output;
    if (task.index >= static_cast<int>(out.partitions.size())) continue;
    const auto [offset, length] = out.partitions[task.index];
    if (length == 0) continue;
    v1::MapOutputLocation* loc = run->add_inputs();
    loc->set_map_task_id(map->id());
    loc->set_attempt_id(out.attempt_id);
    if (out.holder >= 0) {
      loc->set_worker_id(holders_[out.holder].worker_id);
      loc->set_shuffle_address(holders_[out.holder].address);
    }
    loc->set_offset(offset);
    loc->set_length(length);
  }
  run->set_temp_path(committer_.AttemptPath(attempt_id, task.index));
  return command;
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
  attempt.call = worker->link->Call(MakeCommand(*task, attempt.id));
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
    return true;
  }
  return false;
}

void JobRun::OnAttemptDone(Task* task, const std::string& attempt_id,
                           const absl::StatusOr<v1::Answer>& result) {
  Attempt attempt;
  if (!EndAttempt(task, attempt_id, &attempt)) return;  // superseded or cancelled
  env_.scheduler->RecordAttemptDuration(env_.loop->Now() - attempt.start);
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

bool JobRun::CanStart(const Task& task) const {
  return task.is_map() || (tally_.lost_maps == 0 && awaited_.empty());
}

void JobRun::OnWorkerLost(const std::string& worker_id) {
  if (finished() || IsMapOnly(status_.spec())) return;
  auto holder = holder_index_.find(worker_id);
  if (holder == holder_index_.end()) return;
  for (auto& map : maps_) {
    if (map->state == Task::State::kDone && map->output.holder == holder->second &&
        !map->output.path.empty()) {
      MarkMapOutputLost(map.get());
    }
  }
}

void JobRun::OnFetchFailed(const Task& reduce, Task* map, const absl::Status& error) {
  std::string holder, address;
  if (map->output.holder >= 0) {
    holder = holders_[map->output.holder].worker_id;
    address = holders_[map->output.holder].address;
  }
  if (env_.registry->FetchFailed(holder, absl::StrCat(id_, "/", reduce.id()),
                                 std::string(error.message()))) {
    AMPMR_LOG(WARNING) << "worker=" << holder << " at " << address
                       << " is unreachable: reducers of several tasks cannot fetch its map "
                          "outputs; it gets no more map tasks (last: "
                       << error.message() << ")";
  }
  if (map->state != Task::State::kDone) return;  // being made again already
  if (++map->fetch_remakes > status_.spec().max_attempts()) {
    Finish(v1::FAILED, absl::StrCat(TaskLabel(*map), ": reducers could not fetch its output ",
                                    map->fetch_remakes, " times; last from worker=", holder,
                                    " at ", address, ": ", error.message()));
    return;
  }
  MarkMapOutputLost(map);
}

void JobRun::MarkMapOutputLost(Task* map) {
  if (map->output_lost || map->state != Task::State::kDone) return;
  // Once every reduce is done nobody needs it.
  if (status_.state() == v1::REDUCING && tally_.reduces_done == static_cast<int>(reduces_.size())) {
    return;
  }
  const Holder held = map->output.holder >= 0 ? holders_[map->output.holder] : Holder();
  AMPMR_LOG(INFO) << "map output lost job=" << id_ << " task=" << map->id()
                  << " worker=" << held.worker_id << " at " << held.address
                  << ": running it again";
  SetOutputLost(map, true);
  SetState(map, Task::State::kPending);
  counters_.TakeBackMap(map->index);  // the attempt that remakes it counts instead
  if (!map->queued) env_.scheduler->Enqueue(this, map);
  // Running reduces go on: one that fetched the output before it was lost
  // has all it needs, and one that had not fails its fetch (a hung holder
  // is found by the fetch's keepalive) and reports the lost output, which
  // puts it back in the queue without counting against it.
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

void JobRun::AcceptAttempt(Task* task, const Attempt& attempt, const v1::Answer& answer) {
  const bool is_map = task->is_map();
  if (is_map ? !answer.has_map_done() : !answer.has_reduce_done()) {
    FailAttempt(task, attempt,
                absl::InternalError("worker answered with the wrong kind of answer"));
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
                  is_map ? 0 : CounterOf(answer.reduce_done().counters(), kShuffledBytes));
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
  if (task->kind == Task::Kind::kSample) {
    // A sampling task counts nothing; its keys give the cut points.
    for (const std::string& key : answer.map_done().sample_keys()) sample_keys_.push_back(key);
  } else if (is_map && !IsMapOnly(status_.spec())) {
    counters_.SetMap(task->index, counters);  // its output may be lost and made again
  } else {
    counters_.Add(counters);
  }
  SetOutputLost(task, false);
  phase_durations_.push_back(env_.loop->Now() - attempt.start);
  CancelRunning(task);  // backup attempts lose
  if (env_.journal != nullptr && task->kind != Task::Kind::kSample) {
    env_.journal->TaskAccepted(id_, is_map, task->index, address, answer);
  }
  MaybeEndPhase();
  env_.on_change(this);
}

absl::Status JobRun::CommitJob() {
  return committer_.CommitJob(
      static_cast<int>(IsMapOnly(status_.spec()) ? maps_.size() : reduces_.size()));
}

void JobRun::CancelRunning(Task* task) {
  std::vector<Attempt> running = std::move(task->running);
  task->running.clear();
  for (Attempt& attempt : running) {
    task_statuses_.erase(attempt.id);
    env_.scheduler->AttemptEnded(this);
    attempts_.Ended(attempt.id, v1::ATTEMPT_KILLED, env_.loop->Now());
    if (WorkerState* w = env_.registry->Find(attempt.worker_id)) {
      env_.registry->AttemptEnded(w->id);
      v1::Command cancel;
      cancel.mutable_cancel()->set_attempt_id(attempt.id);
      w->link->Send(cancel);
    }
    attempt.call.Cancel();
  }
}

}  // namespace ampmr::master
