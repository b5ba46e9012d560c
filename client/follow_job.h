// Following a submitted job to its end, shared by `ampmr run` and
// `ampmr submit --wait`.
#ifndef AMPMR_CLIENT_FOLLOW_JOB_H_
#define AMPMR_CLIENT_FOLLOW_JOB_H_

#include <string>

#include "absl/status/statusor.h"
#include "ampmr/v1/job.pb.h"
#include "client/job_source.h"
#include "client/reconnecting_watch.h"

namespace ampmr::client {

// Watches `job_id` until it ends, redrawing a progress line on stderr when
// stderr is a terminal, and returns the final status (fetched again with
// GetJob afterwards, for the complete counters). `submitted` fills in the
// spec should the master's status leave it out. A lost master is waited for
// as `reconnect` says (WatchJobWithReconnect), with its notice on stderr.
absl::StatusOr<v1::JobStatus> FollowJob(JobSource& client, const std::string& job_id,
                                        const v1::JobSpec& submitted,
                                        const ReconnectOptions& reconnect);

// Prints the summary of a finished job on stdout and, unless it succeeded,
// the failure line on stderr. Returns the exit code for the job.
int ReportFinishedJob(const v1::JobStatus& status);

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_FOLLOW_JOB_H_
