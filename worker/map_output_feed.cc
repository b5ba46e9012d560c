#include "worker/map_output_feed.h"

#include <utility>

#include "absl/time/time.h"

namespace ampmr::worker {

MapOutputFeed::MapOutputFeed(const v1::RunReduce& run) : attempt_id_(run.task().attempt_id()) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::MapOutputLocation& loc : run.inputs()) AddLocked(loc);
  last_ = !run.more_inputs();
}

void MapOutputFeed::AddLocked(const v1::MapOutputLocation& loc) {
  auto [it, added] = tasks_.try_emplace(loc.map_task_id());
  MapTask& task = it->second;
  if (added) {
    queue_.push_back(loc);
    return;
  }
  switch (task.state) {
    case MapTask::State::kFetched:
      return;  // one output per map task
    case MapTask::State::kQueued:
    case MapTask::State::kFetching:
      task.spare = loc;
      return;
    case MapTask::State::kFailed:
      task.state = MapTask::State::kQueued;
      task.error = absl::OkStatus();
      queue_.push_back(loc);
      return;
  }
}

void MapOutputFeed::Add(const v1::AddMapOutputs& more) {
  std::lock_guard<std::mutex> lock(mu_);
  if (last_ || stopped_) return;
  for (const v1::MapOutputLocation& loc : more.inputs()) AddLocked(loc);
  if (more.last()) {
    last_ = true;
    // A failed map task no other location came for has failed for good.
    for (const auto& [id, task] : tasks_) {
      if (task.state == MapTask::State::kFailed) {
        FailForGood(task.error);
        break;
      }
    }
  }
  cv_.notify_all();
}

void MapOutputFeed::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

bool MapOutputFeed::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

void MapOutputFeed::FailForGood(const absl::Status& why) {
  if (failure_.ok()) failure_ = why;
  stopped_ = true;
  cv_.notify_all();
}

std::optional<v1::MapOutputLocation> MapOutputFeed::Next(const std::atomic<bool>& cancelled) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (stopped_ || cancelled.load()) return std::nullopt;
    if (!queue_.empty()) {
      v1::MapOutputLocation loc = std::move(queue_.front());
      queue_.pop_front();
      tasks_[loc.map_task_id()].state = MapTask::State::kFetching;
      return loc;
    }
    if (last_) return std::nullopt;
    // Cancelling a running attempt only sets `cancelled`: look again now and then.
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

void MapOutputFeed::Fetched(const v1::MapOutputLocation& loc, absl::StatusOr<ReduceInput> input) {
  std::lock_guard<std::mutex> lock(mu_);
  MapTask& task = tasks_[loc.map_task_id()];
  if (input.ok()) {
    task.state = MapTask::State::kFetched;
    task.input = std::move(*input);
    task.spare.reset();
    cv_.notify_all();  // the last fetch done may end the wait of the others
    return;
  }
  if (task.spare.has_value()) {
    task.state = MapTask::State::kQueued;
    queue_.push_back(std::move(*task.spare));
    task.spare.reset();
    cv_.notify_all();
    return;
  }
  if (last_) {
    FailForGood(input.status());
    return;
  }
  task.state = MapTask::State::kFailed;
  task.error = input.status();
  v1::FetchFailure& failure = unreported_.emplace_back();
  failure.set_attempt_id(attempt_id_);
  failure.set_lost_attempt_id(loc.attempt_id());
  failure.set_error(std::string(input.status().message()));
}

std::vector<v1::FetchFailure> MapOutputFeed::TakeFailures() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(unreported_, {});
}

absl::StatusOr<std::vector<ReduceInput>> MapOutputFeed::Inputs() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failure_.ok()) return failure_;
  std::vector<ReduceInput> inputs;
  inputs.reserve(tasks_.size());
  for (const auto& [id, task] : tasks_) {
    if (task.state != MapTask::State::kFetched) {
      return absl::CancelledError("cancelled while fetching map outputs");
    }
    inputs.push_back(task.input);
  }
  return inputs;
}

}  // namespace ampmr::worker
