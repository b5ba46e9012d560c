// MapOutputFeed: the inputs of one reduce attempt as they become known. The
// master's RunReduce names the map outputs accepted so far; with
// more_inputs (slow start: the reduce began while maps still ran),
// AddMapOutputs bring the rest as maps are accepted, the last one saying so.
// The attempt's fetch threads take locations from the feed, at most one
// output per map task, and say how each fetch went; the inputs are complete
// once the last location is in and every map task's output is here.
//
// One output per map task (by map_task_id): a second location of a map task
// (its map ran again) is ignored once the first is fetched, and kept aside
// while the first is waiting or being fetched, to be used if that fetch
// fails. A failed fetch is final, and fails the attempt, once no other
// location of that map task can come (the last is in). Until then the
// attempt waits, and the failure is kept for TakeFailures, so that the master
// hears of it (on the next heartbeat) and makes that output again now rather
// than once every map is done.
//
// Thread-safe.
#ifndef AMPMR_WORKER_MAP_OUTPUT_FEED_H_
#define AMPMR_WORKER_MAP_OUTPUT_FEED_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "ampmr/v1/session.pb.h"
#include "worker/task/reduce_task.h"

namespace ampmr::worker {

class MapOutputFeed {
 public:
  explicit MapOutputFeed(const v1::RunReduce& run);

  // More locations (AddMapOutputs); ignored once the last came, or stopped.
  void Add(const v1::AddMapOutputs& more);
  // Every Next returns nullopt from now on: the attempt was cancelled.
  void Stop();
  // Whether fetches in flight may give up: stopped, or failed for good.
  bool stopped() const;

  // The next location to bring in, blocking until there is one; nullopt when
  // there will be none (the last came and none is left, a fetch failed for
  // good, Stop(), or `cancelled`).
  std::optional<v1::MapOutputLocation> Next(const std::atomic<bool>& cancelled);
  // How bringing in `loc`, from Next, went: where its partition now is, or
  // why it could not be had.
  void Fetched(const v1::MapOutputLocation& loc, absl::StatusOr<ReduceInput> input);

  // Once every Next has returned nullopt: one input per map task, in map
  // task order ("m2" before "m10"), or the fetch failure that was final
  // (CANCELLED if stopped first).
  absl::StatusOr<std::vector<ReduceInput>> Inputs() const;

  // The fetches that failed, with no other location of their map task yet,
  // since the last call: each is given once.
  std::vector<v1::FetchFailure> TakeFailures();

 private:
  // Orders map task ids as numbers: "m2" before "m10".
  struct TaskOrder {
    bool operator()(const std::string& a, const std::string& b) const {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    }
  };
  struct MapTask {
    enum class State { kQueued, kFetching, kFetched, kFailed };
    State state = State::kQueued;
    std::optional<v1::MapOutputLocation> spare;  // another location, if the first fails
    absl::Status error;                          // kFailed: why
    ReduceInput input;                           // kFetched: where
  };
  void AddLocked(const v1::MapOutputLocation& loc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailForGood(const absl::Status& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string attempt_id_;  // the reduce attempt's
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, MapTask, TaskOrder> tasks_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::MapOutputLocation> queue_ ABSL_GUARDED_BY(mu_);  // to be taken by Next
  bool last_ ABSL_GUARDED_BY(mu_) = false;                        // no more locations come
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);  // the final fetch failure
  std::vector<v1::FetchFailure> unreported_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_MAP_OUTPUT_FEED_H_
