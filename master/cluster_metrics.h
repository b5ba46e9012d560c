// ClusterMetrics: the master's cumulative attempt counters and task duration
// histograms for /metrics. They outlive jobs (a forgotten job's attempts
// still count), so they are kept here rather than derived from the jobs the
// master still holds. AttemptLog updates them as attempts start and end.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_CLUSTER_METRICS_H_
#define AMPMR_MASTER_CLUSTER_METRICS_H_

#include <cstdint>

#include "master/histogram.h"

namespace ampmr::master {

struct ClusterMetrics {
  struct Attempts {
    int64_t started = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;  // by themselves (they count against --max-attempts)
    int64_t killed = 0;  // by the master: backups that lost, jobs that ended
    int64_t lost = 0;    // with their worker
    Histogram seconds = Histogram::Seconds();  // accepted attempts' durations
  };
  Attempts map;
  Attempts reduce;
  // ampmr.shuffled_bytes of accepted reduce attempts.
  int64_t shuffled_bytes = 0;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_CLUSTER_METRICS_H_
