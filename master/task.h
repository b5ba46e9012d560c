// Task: one map or reduce task of a job and its attempts, held compactly (a
// job may have a million): its split is a range of one of the job's files,
// its id is made from its kind and index, and an accepted map's output names
// its holder by index into the job's table of holders.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_TASK_H_
#define AMPMR_MASTER_TASK_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ampmr/v1/session.pb.h"
#include "common/amp/deferred.h"
#include "master/split_plan.h"

namespace ampmr::master {

struct Attempt {
  std::string id;  // "j3-m12-a2"
  std::string worker_id;
  amp::Deferred<v1::Answer> call;
  // When it started; for a reduce started early, when it had all its inputs
  // (what backups and the phase's durations count from).
  absl::Time start;
  // A reduce started early (slow start) that has not been sent its last map
  // output: it holds its worker's slot (WorkerRegistry::HoldSlot).
  bool waiting_for_maps = false;
};

// Where an accepted map attempt left its output.
struct MapOutput {
  std::string attempt_id;  // the accepted attempt
  std::string path;        // on the holder; empty: the map emitted nothing
  int32_t holder = -1;     // index into the job's holders; -1: not known (yet)
  // Offset and length of each reduce's partition in `path` (empty when
  // `path` is).
  std::vector<std::pair<int64_t, int64_t>> partitions;
};

struct Task {
  // A sampling task (--total-order) runs the mapper over the head of a split.
  enum class Kind : uint8_t { kMap, kReduce, kSample };
  enum class State : uint8_t { kPending, kRunning, kDone, kFailed, kCancelled };

  Kind kind = Kind::kMap;
  State state = State::kPending;
  bool queued = false;       // waiting in the scheduler's queue
  bool output_lost = false;  // a done map task whose output must be made again
  int index = 0;
  int attempts_started = 0;
  int failures = 0;       // attempts that failed by themselves
  int fetch_remakes = 0;  // times made again because reducers could not fetch its output
  SplitRange split;       // map and sampling tasks
  std::vector<Attempt> running;
  // Workers where an attempt failed, or whose copy of its output a reducer
  // could not fetch: they are its last choice.
  std::vector<std::string> failed_on;
  absl::Status last_error;
  MapOutput output;  // a done map task's

  bool is_map() const { return kind != Kind::kReduce; }  // runs the mapper
  // "m12", "r3", "s1".
  std::string id() const {
    return absl::StrCat(kind == Kind::kMap ? "m" : kind == Kind::kReduce ? "r" : "s", index);
  }
  bool finished() const {
    return state == State::kDone || state == State::kFailed || state == State::kCancelled;
  }
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_TASK_H_
