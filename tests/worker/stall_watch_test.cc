#include "worker/stall_watch.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The watch is checked at chosen times, so nothing here waits.
struct Expired {
  std::vector<absl::Status> errors;
  StallWatch::Expire Recorder() {
    return [this](const absl::Status& why) { errors.push_back(why); };
  }
};

TEST(StallWatchTest, ExpiresOnlyAGracePeriodAfterTheTaskTimeout) {
  StallWatch watch(absl::Seconds(5));
  Expired expired;
  auto clock = std::make_shared<ProgressClock>(2);
  absl::Time start = absl::Now();
  watch.Add("j1-m0-a1", clock, expired.Recorder());
  watch.Check(start + absl::Seconds(6));  // timed out, but within the grace
  EXPECT_THAT(expired.errors, IsEmpty());
  watch.Check(start + absl::Seconds(8));
  ASSERT_EQ(expired.errors.size(), 1u);
  EXPECT_THAT(expired.errors[0],
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("no progress for --task-timeout 2s"),
                             HasSubstr("attempt=j1-m0-a1 is stuck in in-process code"))));
  // Expired once, and no longer watched.
  EXPECT_EQ(watch.size(), 0u);
  watch.Check(start + absl::Seconds(100));
  EXPECT_EQ(expired.errors.size(), 1u);
}

TEST(StallWatchTest, ProgressPushesTheExpiryBack) {
  StallWatch watch(absl::Seconds(1));
  Expired expired;
  auto clock = std::make_shared<ProgressClock>(60);
  watch.Add("a", clock, expired.Recorder());
  absl::Time before = clock->deadline();
  watch.Check(before);  // still within the grace
  EXPECT_THAT(expired.errors, IsEmpty());
  // Touching moves the deadline to 60 s after now, never earlier.
  clock->Touch();
  EXPECT_GE(clock->deadline(), before);
  watch.Check(clock->deadline());
  EXPECT_THAT(expired.errors, IsEmpty());
}

TEST(StallWatchTest, RemovedAttemptsAndAttemptsWithoutTimeoutNeverExpire) {
  StallWatch watch(absl::ZeroDuration());
  Expired expired;
  watch.Add("removed", std::make_shared<ProgressClock>(1), expired.Recorder());
  watch.Add("no-timeout", std::make_shared<ProgressClock>(0), expired.Recorder());
  watch.Add("stalled", std::make_shared<ProgressClock>(1), expired.Recorder());
  watch.Remove("removed");
  watch.Check(absl::Now() + absl::Hours(1));
  ASSERT_EQ(expired.errors.size(), 1u);
  EXPECT_THAT(expired.errors[0].message(), HasSubstr("attempt=stalled"));
  EXPECT_EQ(watch.size(), 1u);  // "no-timeout" stays
}

TEST(StallWatchTest, StatusesAreThoseOfWatchedAttemptsThatHaveOne) {
  StallWatch watch(absl::Seconds(5));
  Expired expired;
  auto said = std::make_shared<ProgressClock>(0);
  said->SetStatus("halfway");
  watch.Add("said", said, expired.Recorder());
  watch.Add("quiet", std::make_shared<ProgressClock>(0), expired.Recorder());
  EXPECT_THAT(watch.Statuses(),
              ElementsAre(std::make_pair(std::string("said"), std::string("halfway"))));
  watch.Remove("said");
  EXPECT_THAT(watch.Statuses(), IsEmpty());
}

}  // namespace
}  // namespace ampmr::worker
