// JobRun's side of surviving a master restart: how a job the journal says
// was running resumes.
#include <map>

#include "absl/strings/str_cat.h"
#include "common/codec.h"
#include "common/logging.h"
#include "master/job_run.h"

namespace ampmr::master {
namespace {

bool IsMapOnly(const v1::JobSpec& spec) { return spec.reducer() == "none"; }

}  // namespace

JobRun::JobRun(v1::JobStatus final_status, JobEnv env)
    : id_(final_status.job_id()),
      env_(std::move(env)),
      attempt_prefix_(id_),
      committer_(final_status.spec().output(), id_,
                 CodecSuffix(CodecOfOutputName(final_status.spec().compress_output()))),
      restored_final_(true),
      counters_(0) {
  status_ = std::move(final_status);
}

void JobRun::Resume(const JournaledJob& journaled, int64_t boot, absl::Duration rejoin_grace) {
  attempt_prefix_ = absl::StrCat(id_, "-b", boot);
  status_.set_submit_time(journaled.submit_time);
  status_.set_start_time(journaled.submit_time);
  // A total-order job's cut points are not journaled, and outputs cut by
  // the old ones cannot be mixed with new ones: it runs again from sampling.
  const bool resample = status_.spec().total_order() && reduces_.size() > 1 && !maps_.empty();
  if (!resample) {
    for (const JournaledTask& accepted : journaled.tasks) RestoreAccepted(accepted);
  }
  if (!IsMapOnly(status_.spec()) && !reduces_.empty() &&
      tally_.reduces_done == static_cast<int>(reduces_.size())) {
    // Every part file is committed: no map output is needed any more.
    for (auto& map : maps_) {
      StopAwaiting(map.get(), nullptr);
      SetState(map.get(), Task::State::kDone);
    }
  }
  AMPMR_LOG(INFO) << "job resumed job=" << id_ << " maps done=" << tally_.maps_done << "/"
                  << maps_.size() << " (outputs awaited from workers: " << tally_.awaited_maps
                  << ") reduces done=" << tally_.reduces_done << "/" << reduces_.size();
  if (tally_.awaited_maps > 0) {
    rejoin_timer_ = env_.loop->RunAfter(rejoin_grace, [this] { OnRejoinGraceOver(); });
  }
  if (resample) {
    StartSampling();
    return;
  }
  StartPhase(&maps_, v1::MAPPING);
}

void JobRun::RestoreAccepted(const JournaledTask& accepted) {
  auto& tasks = accepted.is_map ? maps_ : reduces_;
  if (accepted.index < 0 || accepted.index >= static_cast<int>(tasks.size())) return;
  Task* task = tasks[accepted.index].get();
  const bool map_only = IsMapOnly(status_.spec());
  // A part file that is not where the commit left it is made again.
  if ((!accepted.is_map || map_only) && !committer_.IsCommitted(accepted.index)) return;
  bool has_output =
      accepted.is_map && !map_only && !accepted.result.map_done().output_path().empty();
  if (has_output && accepted.worker_address.empty()) return;
  SetState(task, Task::State::kDone);
  task->result = accepted.result;
  if (!has_output) {
    counters_.Add(accepted.counters);
    return;
  }
  // Its counters wait with it: they count once its output is found; if the
  // map runs again instead, that attempt's count.
  SetAwaitedHolder(task, accepted.worker_address);
  auto* held = task->result.mutable_map_done()->mutable_counters();
  for (const auto& [name, value] : accepted.counters) (*held)[name] = value;
}

void JobRun::OnWorkerJoined(const WorkerState& worker) {
  if (tally_.awaited_maps == 0 || finished()) return;
  std::map<std::string, std::string> held;  // attempt id -> output path
  for (const auto& out : worker.hello.map_outputs()) {
    if (out.job_id() == id_) held[out.attempt_id()] = out.output_path();
  }
  int found = 0;
  int missing = 0;
  for (auto& map : maps_) {
    if (map->awaited_holder.empty()) continue;
    const v1::MapDone& done = map->result.map_done();
    auto it = held.find(done.attempt_id());
    if (it != held.end() && it->second == done.output_path()) {
      StopAwaiting(map.get(), &worker);
      ++found;
    } else if (map->awaited_holder == worker.hello.shuffle_address()) {
      GiveUpAwaiting(map.get());
      ++missing;
    }
  }
  if (found + missing > 0) {
    AMPMR_LOG(INFO) << "job=" << id_ << " worker=" << worker.id << " holds " << found
                    << " accepted map outputs; " << missing << " it no longer has run again";
  }
  if (tally_.awaited_maps == 0 && rejoin_timer_ != 0) {
    env_.loop->CancelTimer(rejoin_timer_);
    rejoin_timer_ = 0;
  }
}

void JobRun::OnRejoinGraceOver() {
  rejoin_timer_ = 0;
  if (finished() || tally_.awaited_maps == 0) return;
  AMPMR_LOG(INFO) << "job=" << id_ << ": " << tally_.awaited_maps
                  << " map outputs not reported by any worker; running them again";
  for (auto& map : maps_) GiveUpAwaiting(map.get());
  env_.scheduler->Schedule();
}

void JobRun::StopAwaiting(Task* map, const WorkerState* holder) {
  if (map->awaited_holder.empty()) return;
  SetAwaitedHolder(map, "");
  auto* counters = map->result.mutable_map_done()->mutable_counters();
  counters_.SetMap(map->index, *counters);
  counters->clear();
  if (holder != nullptr) {
    map->result_worker = holder->id;
    map->result_address = holder->hello.shuffle_address();
  }
}

void JobRun::GiveUpAwaiting(Task* map) {
  if (map->awaited_holder.empty()) return;
  SetAwaitedHolder(map, "");
  map->result.mutable_map_done()->clear_counters();
  MarkMapOutputLost(map);
}

}  // namespace ampmr::master
