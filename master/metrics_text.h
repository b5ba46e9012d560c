// The master's Prometheus metrics (/metrics), in the text exposition format
// that `promtool check metrics` accepts. Cardinality is bounded: labels are
// fixed sets (state, kind, phase, code), handler names (only handlers workers
// offer), and job ids of running jobs only, with their built-in (ampmr.*)
// counters only.
#ifndef AMPMR_MASTER_METRICS_TEXT_H_
#define AMPMR_MASTER_METRICS_TEXT_H_

#include <string>
#include <vector>

#include "ampmr/v1/job.pb.h"
#include "master/api_json.h"
#include "master/cluster_metrics.h"

namespace ampmr::master {

// What /metrics shows, copied off the coordinator thread.
struct MetricsSnapshot {
  std::vector<v1::JobStatus> jobs;
  std::vector<v1::WorkerInfo> workers;
  ClusterMetrics cluster;
  std::vector<HandlerFigures> handlers;
};

std::string RenderMetrics(const MetricsSnapshot& snapshot);

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_METRICS_TEXT_H_
