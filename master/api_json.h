// The JSON of the master's /api/v1 (README "Seeing what the cluster does"), rendered from the same
// records the gRPC API serves. Pure functions, for the HTTP handlers and for
// tests. A job's --env values are never rendered: they are secrets (§8).
//
// Times are seconds since the epoch (0: not yet); states are lower-case
// names ("mapping", "failed", ...).
#ifndef AMPMR_MASTER_API_JSON_H_
#define AMPMR_MASTER_API_JSON_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ampmr/v1/job.pb.h"
#include "master/histogram.h"

namespace ampmr::master {

// One handler's figures, for /api/v1/handlers and /metrics.
struct HandlerFigures {
  std::string name;
  int workers = 0;  // connected workers offering it
  int64_t queued = 0;
  int64_t running = 0;
  double calls_per_second = 0;
  Histogram seconds = Histogram::Seconds();
  std::map<absl::StatusCode, int64_t> ends;
};

// A job in the jobs list: no counters, attempts or task statuses.
nlohmann::json JobSummaryJson(const v1::JobStatus& job);
// A job's page: the summary with its counters, the first failed attempts and
// what running attempts last said (reporter:status).
nlohmann::json JobJson(const v1::JobStatus& job);
// A page of jobs, newest first: {"total": N, "offset": O, "jobs": [...]}.
nlohmann::json JobsJson(const std::vector<v1::JobStatus>& page, size_t total, size_t offset);
nlohmann::json AttemptJson(const v1::AttemptInfo& attempt);
nlohmann::json TasksJson(const v1::ListTasksResponse& tasks, size_t offset);
// The timeline's attempts: {"attempts": [...], "total": N} (the latest N shown).
nlohmann::json AttemptsJson(const std::vector<v1::AttemptInfo>& attempts, size_t total);
nlohmann::json WorkersJson(const std::vector<v1::WorkerInfo>& workers, double now);
nlohmann::json HandlersJson(const std::vector<HandlerFigures>& handlers);

// Lower-case names: "mapping", "succeeded" / "failed", "killed" / "done".
std::string JobStateName(v1::JobState state);
std::string AttemptStateName(v1::AttemptState state);
std::string TaskStateName(v1::TaskState state);

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_API_JSON_H_
