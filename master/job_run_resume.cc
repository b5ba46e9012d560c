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
                  << maps_.size() << " (outputs awaited from workers: " << awaited_.size()
                  << ") reduces done=" << tally_.reduces_done << "/" << reduces_.size();
  if (!awaited_.empty()) {
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
  if (!has_output) {
    counters_.Add(accepted.counters);
    return;
  }
  const v1::MapDone& done = accepted.result.map_done();
  task->output.attempt_id = done.attempt_id();
  task->output.path = done.output_path();
  task->output.holder = -1;
  for (const v1::PartitionInfo& p : done.partitions()) {
    task->output.partitions.emplace_back(p.offset(), p.length());
  }
  // Its counters wait with it: they count once its output is found; if the
  // map runs again instead, that attempt's count.
  awaited_[task->index] = {accepted.worker_address, accepted.counters};
}

void JobRun::OnWorkerJoined(const WorkerState& worker) {
  if (awaited_.empty() || finished()) return;
  std::map<std::string, std::string> held;  // attempt id -> output path
  for (const auto& out : worker.hello.map_outputs()) {
    if (out.job_id() == id_) held[out.attempt_id()] = out.output_path();
  }
  int found = 0;
  int missing = 0;
  std::vector<std::pair<Task*, bool>> decided;  // (map, found)
  for (const auto& [index, awaited] : awaited_) {
    Task* map = maps_[index].get();
    auto it = held.find(map->output.attempt_id);
    if (it != held.end() && it->second == map->output.path) {
      decided.emplace_back(map, true);
    } else if (awaited.address == worker.hello.shuffle_address()) {
      decided.emplace_back(map, false);
    }
  }
  for (auto [map, was_found] : decided) {
    if (was_found) {
      StopAwaiting(map, &worker);
      ++found;
    } else {
      GiveUpAwaiting(map);
      ++missing;
    }
  }
  if (found + missing > 0) {
    AMPMR_LOG(INFO) << "job=" << id_ << " worker=" << worker.id << " holds " << found
                    << " accepted map outputs; " << missing << " it no longer has run again";
  }
  if (awaited_.empty() && rejoin_timer_ != 0) {
    env_.loop->CancelTimer(rejoin_timer_);
    rejoin_timer_ = 0;
  }
}

void JobRun::OnRejoinGraceOver() {
  rejoin_timer_ = 0;
  if (finished() || awaited_.empty()) return;
  AMPMR_LOG(INFO) << "job=" << id_ << ": " << awaited_.size()
                  << " map outputs not reported by any worker; running them again";
  while (!awaited_.empty()) GiveUpAwaiting(maps_[awaited_.begin()->first].get());
  env_.scheduler->Schedule();
}

void JobRun::StopAwaiting(Task* map, const WorkerState* holder) {
  auto it = awaited_.find(map->index);
  if (it == awaited_.end()) return;
  counters_.SetMap(map->index, it->second.counters);
  awaited_.erase(it);
  if (holder != nullptr) map->output.holder = HolderOf(holder->id, holder->hello.shuffle_address());
}

void JobRun::GiveUpAwaiting(Task* map) {
  if (awaited_.erase(map->index) == 0) return;
  MarkMapOutputLost(map);
}

}  // namespace ampmr::master
