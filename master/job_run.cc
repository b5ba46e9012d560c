// JobRun's phases: a job from its planned splits through sampling, maps and
// reduces to its commit or end, and map outputs lost and made again. What
// each attempt does is in job_run_attempts.cc.
#include "master/job_run.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/codec.h"
#include "common/key_comparator.h"
#include "common/key_spec.h"
#include "common/logging.h"
#include "master/total_order.h"

namespace ampmr::master {
namespace {

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

bool IsMapOnly(const v1::JobSpec& spec) { return spec.reducer() == "none"; }

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
  cut_points_ = CutPoints(std::move(sample_keys_), spec.reduces(), KeyComparator(keys.value()));
  sample_keys_.clear();
  AMPMR_LOG(INFO) << "total order cut points ready job=" << id_ << " cuts=" << cut_points_.size();
  sampling_ = false;
  StartPhase(&maps_, v1::MAPPING);
}

void JobRun::StartPhase(std::vector<std::unique_ptr<Task>>* tasks, v1::JobState phase) {
  status_.set_state(phase);
  phase_durations_.clear();
  auto enqueue = [this](std::vector<std::unique_ptr<Task>>* tasks) {
    for (auto& owned : *tasks) {
      // Tasks of a resumed job may be done already, and reduces started early
      // are queued or running.
      if (owned->state == Task::State::kPending && !owned->queued) {
        env_.scheduler->Enqueue(this, owned.get());
      }
    }
  };
  enqueue(tasks);
  // The reduces wait behind the maps until they may start (reduce_start).
  if (tasks == &maps_) enqueue(&reduces_);
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
  for (auto& reduce : reduces_) {  // those started early
    if (reduce->finished() || reduce->running.empty()) continue;
    CancelRunning(reduce.get());
    SetState(reduce.get(), Task::State::kCancelled);
  }
  for (auto& map : maps_) {
    if (map->output_lost) CancelRunning(map.get());
  }
  if (state != v1::SUCCEEDED) committer_.Abort();
  files_.Clear();
  // Map outputs are no longer needed by anyone.
  env_.registry->ForgetJob(id_, /*logs=*/false);
  if (state == v1::SUCCEEDED) {
    AMPMR_LOG(INFO) << "job succeeded job=" << id_;
  } else {
    AMPMR_LOG(INFO) << "job ended job=" << id_ << " state=" << v1::JobState_Name(state)
                    << " error=" << error;
  }
  if (env_.journal != nullptr) env_.journal->JobFinished(Status());
  env_.on_change(this);
}

TaskSource::ReduceStart JobRun::reduce_start() const {
  if (sampling_ || status_.state() == v1::PENDING || !awaited_.empty()) {
    return ReduceStart::kNotYet;
  }
  const int maps = static_cast<int>(maps_.size());
  if (tally_.maps_done == maps) return ReduceStart::kNow;
  // As Hadoop: ceil(fraction * maps), here with a little slack for the
  // rounding of the product (0.1 * 30 is 3.0000000000000004).
  const v1::JobSpec& spec = status_.spec();
  const double fraction =
      spec.has_reduce_slowstart() ? spec.reduce_slowstart() : env_.reduce_slowstart;
  const double wanted = std::ceil(fraction * maps - 1e-9);
  return tally_.maps_done >= wanted ? ReduceStart::kEarly : ReduceStart::kNotYet;
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

bool JobRun::ReduceFetchFailed(const std::string& worker_id, const v1::FetchFailure& failure) {
  auto [reduce, attempt] = FindRunning(failure.attempt_id());
  if (attempt == nullptr) return false;
  if (reduce->kind != Task::Kind::kReduce || attempt->worker_id != worker_id || finished()) {
    return true;
  }
  for (auto& map : maps_) {
    if (map->output.attempt_id != failure.lost_attempt_id()) continue;
    AMPMR_LOG(INFO) << "reduce waiting for map outputs could not fetch one job=" << id_
                    << " task=" << reduce->id() << " attempt=" << attempt->id
                    << " worker=" << attempt->worker_id << ": " << failure.error();
    OnFetchFailed(*reduce, map.get(),
                  absl::AbortedError(absl::StrCat("attempt=", attempt->id, " worker=",
                                                  attempt->worker_id, ": ", failure.error())));
    break;
  }
  return true;
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
                                    map->fetch_remakes, " times; last from worker=", holder, " at ",
                                    address, ": ", error.message()));
    return;
  }
  // Made again elsewhere if it can be: its holder may be unreachable to
  // this reducer alone, before several say so (WorkerRegistry::FetchFailed).
  if (!holder.empty() &&
      std::find(map->failed_on.begin(), map->failed_on.end(), holder) == map->failed_on.end()) {
    map->failed_on.push_back(holder);
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
                  << " worker=" << held.worker_id << " at " << held.address << ": running it again";
  SetOutputLost(map, true);
  SetState(map, Task::State::kPending);
  counters_.TakeBackMap(map->index);  // the attempt that remakes it counts instead
  if (!map->queued) env_.scheduler->Enqueue(this, map);
  // Running reduces go on: one that fetched the output before it was lost
  // has all it needs, and one that had not fails its fetch (a hung holder
  // is found by the fetch's keepalive) and reports the lost output, which
  // puts it back in the queue without counting against it.
}

absl::Status JobRun::CommitJob() {
  return committer_.CommitJob(
      static_cast<int>(IsMapOnly(status_.spec()) ? maps_.size() : reduces_.size()));
}

}  // namespace ampmr::master
