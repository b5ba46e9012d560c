// Task: one map or reduce task of a job and its attempts. A task owns its
// retries: `done` fires only when the task has truly succeeded (with the
// accepted attempt's answer) or truly failed (out of attempts) or was cancelled.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_TASK_H_
#define AMPMR_MASTER_TASK_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ampmr/v1/session.pb.h"
#include "common/amp/deferred.h"
#include "common/loop.h"

namespace ampmr::master {

struct Attempt {
  std::string id;  // "j3-m12-a2"
  std::string worker_id;
  amp::Deferred<v1::Answer> call;
  absl::Time start;
};

struct Task {
  enum class Kind { kMap, kReduce };
  enum class State { kPending, kRunning, kDone, kFailed, kCancelled };

  Kind kind = Kind::kMap;
  int index = 0;
  std::string id;   // "m12", "r3"
  v1::Split split;  // map tasks only
  State state = State::kPending;
  bool queued = false;  // waiting in the scheduler's queue
  int attempts_started = 0;
  int failures = 0;  // attempts that failed by themselves
  std::vector<Attempt> running;
  std::vector<std::string> failed_on;  // workers where an attempt failed
  absl::Status last_error;
  amp::Deferred<v1::Answer> done;
  v1::Answer result;  // the accepted attempt's answer
  std::string result_worker;
  std::string result_address;  // the accepting worker's ShuffleService
  bool output_lost = false;    // a done map task whose output must be made again
  int fetch_remakes = 0;       // times made again because reducers could not fetch its output
  // A done map task of a resumed job whose output should still be on the
  // worker serving ShuffleService here: reduces wait until that worker
  // reports it (or the wait ends and the map runs again). Empty otherwise.
  std::string awaited_holder;

  bool finished() const {
    return state == State::kDone || state == State::kFailed || state == State::kCancelled;
  }
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_TASK_H_
