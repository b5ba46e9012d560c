// What the ampmr command line prints about jobs and workers: the end-of-job
// summary, `status`, the `jobs` and `workers` tables, and their --json lines.
// Pure functions of the protos and the current time; no gRPC, no I/O.
#ifndef AMPMR_CLIENT_JOB_REPORT_H_
#define AMPMR_CLIENT_JOB_REPORT_H_

#include <string>

#include "absl/time/time.h"
#include "ampmr/v1/job.pb.h"
#include "google/protobuf/repeated_field.h"

namespace ampmr::client {

// "SUCCEEDED", "MAPPING", ...
std::string StateName(v1::JobState state);

// SUCCEEDED, FAILED or CANCELLED: the job will not change any more.
bool IsFinal(v1::JobState state);

// For people: "0.4s", "12.3s", "3m05s", "2h03m", "3d04h".
std::string HumanDuration(absl::Duration d);

// The job's elapsed time: from submission to its end, or to `now` while it
// runs. Zero when the master has not stamped a submit time.
absl::Duration JobElapsed(const v1::JobStatus& status, absl::Time now);

// Printed on stdout when `run` or `submit --wait` ends:
//   job:      j7
//   state:    SUCCEEDED
//   elapsed:  12.3s
//   output:   /abs/out
//   map:      40/40
//   reduce:   8/8          (absent for a map-only job)
//   failed attempts: 2     (absent when none; then a "failed:" section with
//                           task, attempt, worker and error of the first few)
//   counters:
//     map.input_records   1200   (sorted by name, values aligned)
std::string FormatJobSummary(const v1::JobStatus& status, absl::Time now);

// `ampmr status JOB`: the summary plus name, specs, inputs, running and
// failed attempt counts, submit time and the error line, in the same "key: value" layout, and a
// "status:" section with the last reporter:status line of each running
// attempt that sent one.
std::string FormatJobStatus(const v1::JobStatus& status, absl::Time now);

// `ampmr jobs`: ID STATE MAP REDUCE NAME AGE, one row per job, columns
// aligned; NAME is the job name, else its mapper. Header only when empty.
std::string FormatJobsTable(const google::protobuf::RepeatedPtrField<v1::JobStatus>& jobs,
                            absl::Time now);

// `ampmr workers`: ID HOST PID SLOTS RUNNING DONE HEARTBEAT HANDLERS, where
// HEARTBEAT is the age of the last heartbeat.
std::string FormatWorkersTable(const google::protobuf::RepeatedPtrField<v1::WorkerInfo>& workers,
                               absl::Time now);

// One line of JSON (proto field names, defaults included), no newline.
std::string ToJsonLine(const google::protobuf::Message& message);

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_JOB_REPORT_H_
