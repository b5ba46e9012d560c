// ProgressClock: when a task attempt last showed progress, for --task-timeout,
// which fails an attempt that shows none for that long (Hadoop's
// mapreduce.task.timeout). Progress is anything that proves the attempt is
// moving: an exec child taking input, writing output or a stderr line
// (reporter:status lines are for exactly this), a block of input through an
// in-process mapper, a batch of records through an in-process reducer.
//
// The clock starts when it is made, which is when the attempt's task logic
// starts; for a reduce that is after its map outputs are fetched (fetches
// have their own keepalive).
//
// It also holds the attempt's last reporter:status message, which the worker
// sends the master with its heartbeats.
//
// Thread-safe: the task's thread touches it, the worker's StallWatch reads it.
#ifndef AMPMR_WORKER_TASK_PROGRESS_CLOCK_H_
#define AMPMR_WORKER_TASK_PROGRESS_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ampmr::worker {

class ProgressClock {
 public:
  // timeout_seconds <= 0: no timeout; the attempt never stalls.
  explicit ProgressClock(double timeout_seconds)
      : timeout_seconds_(timeout_seconds),
        timeout_(timeout_seconds > 0 ? absl::Seconds(timeout_seconds) : absl::InfiniteDuration()),
        last_ns_(absl::GetCurrentTimeNanos()) {}

  void Touch() {
    if (timeout_ != absl::InfiniteDuration()) {
      last_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
    }
  }

  // When the attempt stalls unless it shows progress first.
  absl::Time deadline() const {
    return absl::FromUnixNanos(last_ns_.load(std::memory_order_relaxed)) + timeout_;
  }
  bool Stalled() const { return absl::Now() >= deadline(); }

  void SetStatus(absl::string_view status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (status != status_) status_ = std::string(status);
  }
  std::string status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

  // DEADLINE_EXCEEDED: "no progress for --task-timeout 2s<suffix>".
  absl::Status StallError(absl::string_view suffix = "") const {
    return absl::DeadlineExceededError(
        absl::StrCat("no progress for --task-timeout ", timeout_seconds_, "s", suffix));
  }

 private:
  const double timeout_seconds_;
  const absl::Duration timeout_;
  std::atomic<int64_t> last_ns_;
  mutable std::mutex mu_;
  std::string status_;  // guarded by mu_
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_PROGRESS_CLOCK_H_
