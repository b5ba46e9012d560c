#include "client/exit_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ampmr::client {
namespace {

TEST(ExitStatusTest, CallerMistakesAreUsageErrors) {
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), kExitFailure);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("x")), kExitFailure);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("x")), kExitFailure);
  EXPECT_EQ(ExitCodeForSignal(2), 130);
  EXPECT_EQ(ExitCodeForSignal(15), 143);
}

TEST(ExitStatusTest, ErrorIsOneLineWithIndentedContinuation) {
  EXPECT_EQ(FormatError(absl::InvalidArgumentError("input /data/x: no such file or directory")),
            "ampmr: input /data/x: no such file or directory\n");
  EXPECT_EQ(FormatError(absl::FailedPreconditionError(
                "ampmr-master exited; its log ends with:\nline 1\nline 2\n")),
            "ampmr: ampmr-master exited; its log ends with:\n  line 1\n  line 2\n");
  EXPECT_EQ(FormatError(absl::UnknownError("")), "ampmr: UNKNOWN\n");
}

TEST(ExitStatusTest, JobOutcome) {
  v1::JobStatus s;
  s.set_job_id("j7");
  s.set_state(v1::SUCCEEDED);
  EXPECT_EQ(ExitCodeForJob(s), kExitSuccess);
  EXPECT_EQ(FormatJobFailure(s), "");

  s.set_state(v1::FAILED);
  s.set_error("task m3 input=/d/a.txt failed after 4 attempts: exit 1\n");
  EXPECT_EQ(ExitCodeForJob(s), kExitFailure);
  EXPECT_EQ(FormatJobFailure(s),
            "ampmr: job j7 failed: task m3 input=/d/a.txt failed after 4 "
            "attempts: exit 1\n");

  s.set_error("");
  EXPECT_EQ(FormatJobFailure(s), "ampmr: job j7 ended FAILED\n");

  s.set_state(v1::CANCELLED);
  EXPECT_EQ(ExitCodeForJob(s), kExitFailure);
  EXPECT_EQ(FormatJobFailure(s), "ampmr: job j7 was cancelled\n");
}

}  // namespace
}  // namespace ampmr::client
