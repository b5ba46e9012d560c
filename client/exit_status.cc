#include "client/exit_status.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "client/job_report.h"

namespace ampmr::client {
namespace {

// Lines after the first are indented so they read as part of one message.
std::string IndentContinuation(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\n", "\n  "}});
}

}  // namespace

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnauthenticated:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

std::string FormatError(const absl::Status& status) {
  std::string message(absl::StripTrailingAsciiWhitespace(status.message()));
  if (message.empty()) message = absl::StatusCodeToString(status.code());
  return absl::StrCat("ampmr: ", IndentContinuation(message), "\n");
}

int ReportError(const absl::Status& status) {
  std::cerr << FormatError(status) << std::flush;
  return ExitCodeFor(status);
}

int ExitCodeForJob(const v1::JobStatus& status) {
  return status.state() == v1::SUCCEEDED ? kExitSuccess : kExitFailure;
}

std::string FormatJobFailure(const v1::JobStatus& status) {
  switch (status.state()) {
    case v1::SUCCEEDED:
      return "";
    case v1::CANCELLED:
      return absl::StrCat("ampmr: job ", status.job_id(), " was cancelled\n");
    default: {
      absl::string_view error = absl::StripTrailingAsciiWhitespace(status.error());
      if (error.empty()) {
        return absl::StrCat("ampmr: job ", status.job_id(), " ended ", StateName(status.state()),
                            "\n");
      }
      return absl::StrCat("ampmr: job ", status.job_id(), " failed: ", IndentContinuation(error),
                          "\n");
    }
  }
}

}  // namespace ampmr::client
