// RefillPacer: when to write more into the pipe to a streaming child's stdin.
//
// A pipe wakes its writer each time the reader frees room in a full pipe, so
// a task that polls the pipe for POLLOUT wakes (and writes a page or two) for
// every page the child reads: about 14,000 wake-ups per word count job over
// 32 MiB of Python mappers. Instead the task writes only while the pipe is at
// most half full, and otherwise waits (on the child's output, as ever) until
// the child should have read it down to half, at the rate it has been reading.
// One refill per half a pipe, then, with the other half still queued for the
// child while the task's wake-up is late. A pipe found empty after a wait
// means the child waited: the rate is taken to be at least twice what it was,
// so a wait too long is not made again.
//
// Pure logic: the caller supplies the bytes queued in the pipe (FIONREAD) and
// the time; tests drive it with made-up ones. Thread-compatible.
#ifndef AMPMR_WORKER_TASK_REFILL_PACER_H_
#define AMPMR_WORKER_TASK_REFILL_PACER_H_

#include <cstddef>

#include "absl/time/time.h"

namespace ampmr::worker {

class RefillPacer {
 public:
  // The child's read rate is measured over at least kSample; a wait is at
  // least kMinWait and at most kMaxWait (also while the child reads nothing:
  // a reader that stopped is looked at again after as long as it has been
  // stopped, up to kMaxWait).
  static constexpr absl::Duration kSample = absl::Milliseconds(1);
  static constexpr absl::Duration kMinWait = absl::Microseconds(100);
  static constexpr absl::Duration kMaxWait = absl::Milliseconds(20);

  // `capacity`: the pipe's size in bytes (F_GETPIPE_SZ).
  explicit RefillPacer(size_t capacity) : capacity_(capacity) {}

  // The pipe holds `queued` bytes at `now`. Zero: write now (it is at most
  // half full). Otherwise how long to wait before asking again.
  absl::Duration Wait(size_t queued, absl::Time now);

  // Just written: the pipe holds `queued` bytes at `now`.
  void Wrote(size_t queued, absl::Time now);

 private:
  const size_t capacity_;
  // Where the rate is measured from: the bytes queued then, and when.
  size_t sample_queued_ = 0;
  absl::Time sample_time_ = absl::InfinitePast();
  // The child's last measured read rate in bytes per second; 0: unknown.
  double rate_ = 0;
  // The last answer was a wait (not "write now"): a pipe found empty next
  // was emptied while the task waited, not while it had nothing to write.
  bool waited_ = false;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_REFILL_PACER_H_
