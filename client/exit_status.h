// How `ampmr` ends: exit codes and the one-line error messages on stderr.
//
//   0    success (for run, submit --wait and wait: the job SUCCEEDED)
//   1    the job failed or was cancelled, or the master could not be
//        reached or broke off
//   2    usage or validation error: bad flags, or the master refused the
//        request (INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, ...)
//   130  interrupted by SIGINT (143 by SIGTERM): 128 + the signal
//
// No gRPC in here.
#ifndef AMPMR_CLIENT_EXIT_STATUS_H_
#define AMPMR_CLIENT_EXIT_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "ampmr/v1/job.pb.h"

namespace ampmr::client {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

inline int ExitCodeForSignal(int signo) { return 128 + signo; }

// kExitUsage when the caller's input was wrong, else kExitFailure.
// REQUIRES: !status.ok().
int ExitCodeFor(const absl::Status& status);

// "ampmr: <message>\n". A message of several lines (a child's log tail)
// keeps its first line there and indents the rest by two spaces.
std::string FormatError(const absl::Status& status);

// Prints FormatError(status) on stderr and returns ExitCodeFor(status).
int ReportError(const absl::Status& status);

// kExitSuccess for a SUCCEEDED job, else kExitFailure.
int ExitCodeForJob(const v1::JobStatus& status);

// For a job that did not succeed, the stderr line:
//   "ampmr: job j7 failed: <JobStatus.error>\n"
//   "ampmr: job j7 was cancelled\n"
// Empty for a SUCCEEDED job.
std::string FormatJobFailure(const v1::JobStatus& status);

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_EXIT_STATUS_H_
