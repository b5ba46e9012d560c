// ProcessUsage: what the worker's process tree (the worker and every process
// descended from it: exec mappers, reducers, handlers, whatever they start)
// costs, read from /proc, for the heartbeats that carry it to the master's
// `ampmr workers`, dashboard and /metrics.
//
//   CPU %  the tree's user + system time since the previous Sample(), over the
//          wall time between them (100 = one core busy). Children that
//          ended and were reaped count through the parent's cutime/cstime,
//          so a short-lived mapper's time is not lost.
//   RSS    the tree's resident bytes now (shared pages count once per process).
//
// One scan of /proc per Sample(): cheap at a heartbeat's pace (about 1 s).
// Not thread-safe; one caller (the agent's loop).
#ifndef AMPMR_WORKER_PROCESS_USAGE_H_
#define AMPMR_WORKER_PROCESS_USAGE_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/time/time.h"

namespace ampmr::worker {

struct UsageSample {
  double cpu_percent = 0;
  int64_t rss_bytes = 0;
};

class ProcessUsage {
 public:
  // The tree rooted at `root` (the worker's own pid by default).
  explicit ProcessUsage(pid_t root);

  // Usage since the previous call (the first call: since construction).
  UsageSample Sample(absl::Time now);

 private:
  // The tree's CPU ticks so far and its resident pages now.
  void ReadTree(uint64_t* ticks, int64_t* rss_pages) const;

  const pid_t root_;
  const long ticks_per_second_;
  const long page_size_;
  uint64_t last_ticks_ = 0;
  absl::Time last_time_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_PROCESS_USAGE_H_
