// AttemptLog: the master's record of one job's task attempts (README "Seeing what the cluster
// does"): who ran what, when, how it ended and, for a failure, why. It serves ListTasks, the
// dashboard's task table and timeline, the failed-attempt counts of JobStatus and the end-of-job
// summary.
//
// Compact and bounded: an attempt is a 24-byte record (task, attempt number,
// worker, start and end in milliseconds since the log began, state, error);
// worker ids and attempt-id prefixes are kept once per log; error lines are
// cut at kErrorBytes and at most kMaxErrors are kept per job (later failures
// are counted and recorded without their text); past kMaxRecords attempts
// are counted but not recorded. Running attempts are also indexed by id.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_ATTEMPT_LOG_H_
#define AMPMR_MASTER_ATTEMPT_LOG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ampmr/v1/job.pb.h"
#include "master/cluster_metrics.h"

namespace ampmr::master {

class AttemptLog {
 public:
  static constexpr size_t kMaxRecords = size_t{1} << 20;
  static constexpr size_t kMaxErrors = 1000;
  static constexpr size_t kErrorBytes = 300;
  static constexpr int kSummaryFailures = 10;  // JobStatus.failed_attempts

  // `metrics` (may be null) is updated as attempts start and end.
  AttemptLog(absl::Time begin, ClusterMetrics* metrics);

  AttemptLog(const AttemptLog&) = delete;
  AttemptLog& operator=(const AttemptLog&) = delete;

  // Attempt `attempt` (1, 2, ...) of task `index` began on `worker_id`;
  // `attempt_id` is PREFIX-TASK-aN. `backup`: another attempt of the task
  // was running.
  void Started(bool reduce, int index, int attempt, const std::string& attempt_id,
               const std::string& worker_id, bool backup, absl::Time now);
  // A running attempt ended in `state` (not RUNNING); `error` is why it
  // failed (its first line is kept). No-op if `attempt_id` is not running.
  // A succeeded reduce passes its shuffled bytes for the metrics.
  void Ended(const std::string& attempt_id, v1::AttemptState state, absl::Time now,
             absl::string_view error = "", int64_t shuffled_bytes = 0);

  // Sets failed_attempts of status->map() and status->reduce() and the
  // first failed attempts (at most kSummaryFailures).
  void FillStatus(v1::JobStatus* status) const;

  // Fills a task's state (and map input) for ListTasks.
  using DescribeTask = std::function<void(bool reduce, int index, v1::TaskInfo* info)>;
  // A page of the job's `maps` + `reduces` tasks with their attempts, in
  // ListTasksRequest's order (failures first).
  v1::ListTasksResponse ListTasks(const v1::ListTasksRequest& request, int maps, int reduces,
                                  const DescribeTask& describe) const;
  // Attempt `attempt` of a task (0: its last). NOT_FOUND if not recorded.
  absl::StatusOr<v1::AttemptInfo> Find(bool reduce, int index, int attempt) const;
  // The `limit` latest-started attempts, in start order (for the timeline).
  std::vector<v1::AttemptInfo> Latest(size_t limit) const;

  size_t size() const { return records_.size(); }
  int64_t dropped() const { return dropped_; }
  // Bytes held, records and strings together (for the figures).
  size_t MemoryBytes() const;

 private:
  struct Record {
    uint32_t task;      // index; kReduceBit set for a reduce
    uint32_t start_ms;  // since begin_
    uint32_t end_ms;    // since begin_; 0 while running
    uint32_t error;     // 1 + index into errors_; 0: none
    uint16_t worker;    // index into workers_
    uint16_t attempt;   // 1, 2, ... (saturates)
    uint8_t state;      // v1::AttemptState
    uint8_t prefix;     // index into prefixes_
    uint8_t backup;
    uint8_t unused = 0;
  };
  static constexpr uint32_t kReduceBit = 1u << 31;

  uint32_t Millis(absl::Time t) const;
  uint16_t Intern(std::vector<std::string>* names, absl::string_view name, size_t max);
  v1::AttemptInfo Info(const Record& r) const;
  int FailedCount(bool reduce) const { return reduce ? failed_reduce_ : failed_map_; }

  const absl::Time begin_;
  ClusterMetrics* const metrics_;
  std::vector<Record> records_;  // in start order
  std::vector<std::string> workers_;
  std::vector<std::string> prefixes_;
  std::vector<std::string> errors_;
  absl::flat_hash_map<std::string, uint32_t> running_;  // attempt id -> record
  std::vector<uint32_t> first_failed_;                  // records, at most kSummaryFailures
  int failed_map_ = 0;
  int failed_reduce_ = 0;
  int64_t dropped_ = 0;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_ATTEMPT_LOG_H_
