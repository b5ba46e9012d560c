#include "client/reconnecting_watch.h"

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::client {
namespace {

using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kAddress[] = "10.0.0.5:7070";

v1::JobStatus Job(v1::JobState state) {
  v1::JobStatus s;
  s.set_job_id("j1");
  s.set_state(state);
  return s;
}

// A master that answers from a script, the way MasterClient reports: a lost
// connection is UNAVAILABLE "master at ADDR: ...". Records the calls made.
class FakeJobSource final : public JobSource {
 public:
  struct Watch {
    std::vector<v1::JobStatus> events;
    absl::StatusOr<v1::JobStatus> result;
  };
  std::deque<Watch> watches;
  std::deque<absl::StatusOr<v1::JobStatus>> gets;
  std::vector<std::string> calls;  // "watch" and "get", in order

  const std::string& address() const override { return address_; }

  absl::StatusOr<v1::JobStatus> GetJob(const std::string& job_id) override {
    calls.push_back("get");
    EXPECT_EQ(job_id, "j1");
    if (gets.empty()) return absl::InternalError("unexpected GetJob");
    absl::StatusOr<v1::JobStatus> next = std::move(gets.front());
    gets.pop_front();
    return next;
  }

  absl::StatusOr<v1::JobStatus> WatchJob(
      const std::string& job_id,
      const std::function<void(const v1::JobStatus&)>& on_event) override {
    calls.push_back("watch");
    EXPECT_EQ(job_id, "j1");
    if (watches.empty()) return absl::InternalError("unexpected WatchJob");
    Watch next = std::move(watches.front());
    watches.pop_front();
    for (const v1::JobStatus& s : next.events) on_event(s);
    return next.result;
  }

 private:
  std::string address_ = kAddress;
};

// Time that moves only when slept on; records every pause.
class FakeClock final : public Clock {
 public:
  absl::Time Now() override { return now_; }
  void SleepFor(absl::Duration d) override {
    sleeps.push_back(d);
    now_ += d;
  }
  std::vector<absl::Duration> sleeps;

 private:
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

absl::Status Lost() {
  return absl::UnavailableError(
      absl::StrCat("lost the master at ", kAddress, " while watching job j1: Socket closed"));
}
absl::Status Refused() {
  return absl::UnavailableError(absl::StrCat(
      "master at ", kAddress, ": failed to connect to all addresses; Connection refused"));
}

// Runs WatchJobWithReconnect on `master` and keeps what it reported.
struct Outcome {
  absl::StatusOr<v1::JobStatus> result;
  std::vector<v1::JobState> events;
  std::vector<std::string> notices;
};
Outcome WatchWith(FakeJobSource& master, FakeClock& clock,
                  absl::Duration timeout = absl::Seconds(60)) {
  ReconnectOptions options;
  options.timeout = timeout;
  options.clock = &clock;
  Outcome run;
  run.result = WatchJobWithReconnect(
      master, "j1", options, [&run](const v1::JobStatus& s) { run.events.push_back(s.state()); },
      [&run](const std::string& notice) { run.notices.push_back(notice); });
  return run;
}

TEST(ReconnectingWatchTest, NoOutageIsOneWatch) {
  FakeJobSource master;
  master.watches.push_back({{Job(v1::MAPPING), Job(v1::SUCCEEDED)}, Job(v1::SUCCEEDED)});
  FakeClock clock;
  Outcome run = WatchWith(master, clock);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_EQ(run.result->state(), v1::SUCCEEDED);
  EXPECT_THAT(run.events, ElementsAre(v1::MAPPING, v1::SUCCEEDED));
  EXPECT_THAT(run.notices, IsEmpty());
  EXPECT_THAT(master.calls, ElementsAre("watch"));
  EXPECT_THAT(clock.sleeps, IsEmpty());
}

TEST(ReconnectingWatchTest, LostMasterIsAskedAgainWithBackoffThenWatched) {
  FakeJobSource master;
  master.watches.push_back({{Job(v1::MAPPING)}, Lost()});
  master.gets = {Refused(), Refused(), Refused(), Job(v1::REDUCING)};
  master.watches.push_back({{Job(v1::REDUCING), Job(v1::SUCCEEDED)}, Job(v1::SUCCEEDED)});
  FakeClock clock;
  Outcome run = WatchWith(master, clock);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_EQ(run.result->state(), v1::SUCCEEDED);
  EXPECT_THAT(run.notices, ElementsAre("ampmr: lost the master at 10.0.0.5:7070; "
                                       "reconnecting...\n"));
  EXPECT_THAT(master.calls, ElementsAre("watch", "get", "get", "get", "get", "watch"));
  EXPECT_THAT(clock.sleeps, ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                                        absl::Milliseconds(400), absl::Milliseconds(800)));
  EXPECT_THAT(run.events, ElementsAre(v1::MAPPING, v1::REDUCING, v1::SUCCEEDED));
}

TEST(ReconnectingWatchTest, BackoffStopsDoublingAtTheMaximum) {
  FakeJobSource master;
  master.watches.push_back({{Job(v1::MAPPING)}, Lost()});
  for (int i = 0; i < 7; ++i) master.gets.push_back(Refused());
  master.gets.push_back(Job(v1::SUCCEEDED));
  FakeClock clock;
  Outcome run = WatchWith(master, clock);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_THAT(clock.sleeps,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200), absl::Milliseconds(400),
                          absl::Milliseconds(800), absl::Milliseconds(1600), absl::Seconds(2),
                          absl::Seconds(2), absl::Seconds(2)));
}

TEST(ReconnectingWatchTest, JobThatEndedDuringTheOutageNeedsNoNewWatch) {
  FakeJobSource master;
  master.watches.push_back({{Job(v1::REDUCING)}, Lost()});
  v1::JobStatus failed = Job(v1::FAILED);
  failed.set_error("task r3 failed: exit status 1");
  master.gets = {failed};
  FakeClock clock;
  Outcome run = WatchWith(master, clock);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_EQ(run.result->state(), v1::FAILED);
  EXPECT_EQ(run.result->error(), "task r3 failed: exit status 1");
  EXPECT_THAT(run.events, ElementsAre(v1::REDUCING, v1::FAILED));
  EXPECT_THAT(master.calls, ElementsAre("watch", "get"));
}

TEST(ReconnectingWatchTest, GivesUpAfterTheTimeoutNamingMasterAndTime) {
  FakeJobSource master;
  master.watches.push_back({{Job(v1::MAPPING)}, Lost()});
  for (int i = 0; i < 10; ++i) master.gets.push_back(Refused());
  FakeClock clock;
  const absl::Time start = clock.Now();
  Outcome run = WatchWith(master, clock, absl::Seconds(1));
  EXPECT_THAT(run.result, StatusIs(absl::StatusCode::kUnavailable,
                                   "lost the master at 10.0.0.5:7070 while waiting for "
                                   "job j1 and it did not come back within 1s: failed "
                                   "to connect to all addresses; Connection refused"));
  // 100+200+400 ms, then the last 300 ms of the second: no pause past it.
  EXPECT_THAT(clock.sleeps, ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                                        absl::Milliseconds(400), absl::Milliseconds(300)));
  EXPECT_EQ(clock.Now() - start, absl::Seconds(1));
  EXPECT_THAT(master.calls, ElementsAre("watch", "get", "get", "get", "get"));
  EXPECT_EQ(run.notices.size(), 1u);
}

TEST(ReconnectingWatchTest, JobUnknownAfterTheMasterCameBackIsNotRetried) {
  FakeJobSource master;
  master.watches.push_back({{Job(v1::MAPPING)}, Lost()});
  master.gets = {Refused(), absl::NotFoundError("no job j1")};
  FakeClock clock;
  Outcome run = WatchWith(master, clock);
  EXPECT_THAT(run.result, StatusIs(absl::StatusCode::kNotFound,
                                   "job j1 is unknown to the master at 10.0.0.5:7070 "
                                   "since it came back (restarted with another "
                                   "--data-dir?)"));
  EXPECT_THAT(master.calls, ElementsAre("watch", "get", "get"));
}

TEST(ReconnectingWatchTest, ZeroTimeoutFailsAtOnce) {
  FakeJobSource master;
  master.watches.push_back({{Job(v1::MAPPING)}, Lost()});
  FakeClock clock;
  Outcome run = WatchWith(master, clock, absl::ZeroDuration());
  EXPECT_EQ(run.result.status(), Lost());
  EXPECT_THAT(run.notices, IsEmpty());
  EXPECT_THAT(master.calls, ElementsAre("watch"));
  EXPECT_THAT(clock.sleeps, IsEmpty());
}

TEST(ReconnectingWatchTest, OtherErrorsAreNotRetried) {
  for (absl::Status error : {absl::CancelledError("interrupted"),
                             absl::InvalidArgumentError("job id must not be empty")}) {
    SCOPED_TRACE(error.ToString());
    FakeJobSource master;
    master.watches.push_back({{}, error});
    FakeClock clock;
    Outcome run = WatchWith(master, clock);
    EXPECT_EQ(run.result.status(), error);
    EXPECT_THAT(master.calls, ElementsAre("watch"));
    EXPECT_THAT(run.notices, IsEmpty());
  }
  // Nor during the reconnection: a master that answers with an error other
  // than "not there" has answered.
  FakeJobSource master;
  master.watches.push_back({{Job(v1::MAPPING)}, Lost()});
  master.gets = {absl::PermissionDeniedError("who are you")};
  FakeClock clock;
  Outcome run = WatchWith(master, clock);
  EXPECT_THAT(run.result, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(master.calls, ElementsAre("watch", "get"));
}

TEST(ReconnectingWatchTest, OneNoticePerOutage) {
  FakeJobSource master;
  // First outage: the master answers GetJob, but the new watch breaks before
  // its first event: still the same outage, and its time keeps running.
  master.watches.push_back({{Job(v1::MAPPING)}, Lost()});
  master.gets = {Job(v1::MAPPING)};
  master.watches.push_back({{}, Lost()});
  master.gets.push_back(Job(v1::MAPPING));
  // The watch is back (an event arrived), then a second outage.
  master.watches.push_back({{Job(v1::REDUCING)}, Lost()});
  master.gets.push_back(Job(v1::REDUCING));
  master.watches.push_back({{Job(v1::SUCCEEDED)}, Job(v1::SUCCEEDED)});
  FakeClock clock;
  Outcome run = WatchWith(master, clock);
  ASSERT_TRUE(run.result.ok()) << run.result.status();
  EXPECT_EQ(run.notices.size(), 2u);
  EXPECT_THAT(master.calls, ElementsAre("watch", "get", "watch", "get", "watch", "get", "watch"));
}

TEST(ReconnectingWatchTest, AWatchThatKeepsBreakingStillGivesUpInTime) {
  FakeJobSource master;
  master.watches.push_back({{Job(v1::MAPPING)}, Lost()});
  for (int i = 0; i < 20; ++i) {
    master.gets.push_back(Job(v1::MAPPING));
    master.watches.push_back({{}, Lost()});
  }
  FakeClock clock;
  const absl::Time start = clock.Now();
  Outcome run = WatchWith(master, clock, absl::Milliseconds(250));
  EXPECT_THAT(run.result, StatusIs(absl::StatusCode::kUnavailable,
                                   HasSubstr("did not come back within 250ms")));
  EXPECT_EQ(clock.Now() - start, absl::Milliseconds(250));
  EXPECT_EQ(run.notices.size(), 1u);
}

}  // namespace
}  // namespace ampmr::client
