#include "client/follow_job.h"

#include <unistd.h>

#include <iostream>

#include "absl/time/clock.h"
#include "client/exit_status.h"
#include "client/job_report.h"
#include "client/progress.h"

namespace ampmr::client {

absl::StatusOr<v1::JobStatus> FollowJob(JobSource& client, const std::string& job_id,
                                        const v1::JobSpec& submitted,
                                        const ReconnectOptions& reconnect) {
  ProgressDisplay progress(STDERR_FILENO, isatty(STDERR_FILENO) == 1);
  absl::StatusOr<v1::JobStatus> final_status = WatchJobWithReconnect(
      client, job_id, reconnect, [&progress](const v1::JobStatus& s) { progress.Update(s); },
      [&progress](const std::string& notice) { progress.Print(notice); });
  progress.Finish();
  if (!final_status.ok()) return final_status;
  // The last event may predate the final counter totals; GetJob has them.
  absl::StatusOr<v1::JobStatus> refreshed = client.GetJob(job_id);
  v1::JobStatus result = refreshed.ok() && IsFinal(refreshed->state()) ? *std::move(refreshed)
                                                                       : *std::move(final_status);
  if (!result.has_spec()) *result.mutable_spec() = submitted;
  return result;
}

int ReportFinishedJob(const v1::JobStatus& status) {
  std::cout << FormatJobSummary(status, absl::Now()) << std::flush;
  std::cerr << FormatJobFailure(status) << std::flush;
  return ExitCodeForJob(status);
}

}  // namespace ampmr::client
