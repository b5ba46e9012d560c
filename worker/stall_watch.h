// StallWatch: the worker's backstop for --task-timeout. Task logic stops an
// attempt that stalls by itself (an exec child is killed; in-process code is
// checked between blocks of input or records), but in-process code stuck
// inside one call cannot be stopped from outside. For that case the watch
// answers the attempt with DEADLINE_EXCEEDED a grace period after its
// progress clock ran out, so the master re-runs it elsewhere; the stuck
// thread keeps its slot until the call returns, and its own late answer is
// dropped (a Reply answers once).
//
// It watches every running attempt (those without a timeout never expire),
// which also makes it where the heartbeat finds their reporter:status lines.
//
// Thread-safe: attempts are added and removed on slot threads, checked on
// the worker's loop (with each heartbeat).
#ifndef AMPMR_WORKER_STALL_WATCH_H_
#define AMPMR_WORKER_STALL_WATCH_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "worker/task/progress_clock.h"

namespace ampmr::worker {

class StallWatch {
 public:
  // Called once, from Check, with the DEADLINE_EXCEEDED error.
  using Expire = std::function<void(const absl::Status& why)>;

  explicit StallWatch(absl::Duration grace) : grace_(grace) {}

  // Watches `clock` for `attempt_id` until Remove, or until it expires.
  void Add(const std::string& attempt_id, std::shared_ptr<ProgressClock> clock, Expire expire);
  void Remove(const std::string& attempt_id);

  // Expires, and stops watching, every attempt whose clock ran out at least
  // `grace` before `now`.
  void Check(absl::Time now);

  size_t size() const;

  // (attempt id, status) of the watched attempts that have a status.
  std::vector<std::pair<std::string, std::string>> Statuses() const;

 private:
  struct Watched {
    std::shared_ptr<ProgressClock> clock;
    Expire expire;
  };

  const absl::Duration grace_;
  mutable std::mutex mu_;
  std::map<std::string, Watched> watched_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_STALL_WATCH_H_
