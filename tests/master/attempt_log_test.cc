// AttemptLog on its own: what it records, the ListTasks order and paging,
// its bounds, and the metrics it feeds.
#include "master/attempt_log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::ampmr::testing::StatusIs;

const absl::Time kBegin = absl::FromUnixSeconds(1700000000);

absl::Time At(double seconds) { return kBegin + absl::Seconds(seconds); }

void DescribePending(bool, int, v1::TaskInfo* info) { info->set_state(v1::TASK_PENDING); }

std::vector<std::string> TaskIds(const v1::ListTasksResponse& r) {
  std::vector<std::string> ids;
  for (const auto& t : r.tasks()) ids.push_back(t.task_id());
  return ids;
}

TEST(AttemptLogTest, RecordsEachAttemptWithWorkerTimesStateAndError) {
  ClusterMetrics metrics;
  AttemptLog log(kBegin, &metrics);
  log.Started(false, 3, 1, "j1-m3-a1", "w1", false, At(1));
  log.Started(false, 3, 2, "j1-m3-a2", "w2", true, At(2));
  log.Ended("j1-m3-a1", v1::ATTEMPT_FAILED, At(3.5), "mapper exited with status 1\nmore");
  log.Ended("j1-m3-a2", v1::ATTEMPT_SUCCEEDED, At(4));
  log.Ended("j1-m3-a2", v1::ATTEMPT_FAILED, At(5), "late");  // no longer running: ignored

  ASSERT_THAT(log.Find(false, 3, 1), testing::IsOk());
  v1::AttemptInfo first = *log.Find(false, 3, 1);
  EXPECT_EQ(first.task_id(), "m3");
  EXPECT_EQ(first.attempt_id(), "j1-m3-a1");
  EXPECT_EQ(first.worker_id(), "w1");
  EXPECT_DOUBLE_EQ(first.start_time(), 1700000001.0);
  EXPECT_DOUBLE_EQ(first.end_time(), 1700000003.5);
  EXPECT_EQ(first.state(), v1::ATTEMPT_FAILED);
  EXPECT_EQ(first.error(), "mapper exited with status 1");
  EXPECT_FALSE(first.backup());

  v1::AttemptInfo last = *log.Find(false, 3, 0);  // 0: the last attempt
  EXPECT_EQ(last.attempt_id(), "j1-m3-a2");
  EXPECT_EQ(last.state(), v1::ATTEMPT_SUCCEEDED);
  EXPECT_TRUE(last.backup());
  EXPECT_THAT(log.Find(true, 3, 0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log.Find(false, 3, 7), StatusIs(absl::StatusCode::kNotFound));

  EXPECT_EQ(metrics.map.started, 2);
  EXPECT_EQ(metrics.map.failed, 1);
  EXPECT_EQ(metrics.map.succeeded, 1);
  EXPECT_EQ(metrics.map.seconds.count(), 1);
  EXPECT_DOUBLE_EQ(metrics.map.seconds.sum(), 2.0);
  EXPECT_EQ(metrics.reduce.started, 0);
}

TEST(AttemptLogTest, ListsFailedTasksFirstAndPages) {
  AttemptLog log(kBegin, nullptr);
  // Maps m0..m3 and reduces r0, r1; m2 and r1 have failed attempts.
  for (int m = 0; m < 4; ++m) log.Started(false, m, 1, absl::StrCat("j1-m", m, "-a1"), "w1",
                                          false, At(m));
  log.Ended("j1-m2-a1", v1::ATTEMPT_FAILED, At(5), "boom");
  log.Started(false, 2, 2, "j1-m2-a2", "w2", false, At(6));
  log.Started(true, 1, 1, "j1-r1-a1", "w1", false, At(7));
  log.Ended("j1-r1-a1", v1::ATTEMPT_FAILED, At(8), "bad reducer");

  v1::ListTasksRequest all;
  v1::ListTasksResponse r = log.ListTasks(all, 4, 2, DescribePending);
  EXPECT_EQ(r.total(), 6);
  EXPECT_THAT(TaskIds(r), ElementsAre("m2", "r1", "m0", "m1", "m3", "r0"));
  ASSERT_THAT(r.tasks(0).attempts(), SizeIs(2));
  EXPECT_EQ(r.tasks(0).attempts(0).state(), v1::ATTEMPT_FAILED);
  EXPECT_EQ(r.tasks(0).attempts(1).state(), v1::ATTEMPT_RUNNING);
  EXPECT_EQ(r.tasks(0).attempts(1).end_time(), 0);
  EXPECT_TRUE(r.tasks(1).reduce());
  EXPECT_EQ(r.tasks(1).state(), v1::TASK_PENDING);  // from the describer
  EXPECT_THAT(r.tasks(5).attempts(), SizeIs(0));      // r0 never ran

  v1::ListTasksRequest page;
  page.set_offset(1);
  page.set_limit(2);
  r = log.ListTasks(page, 4, 2, DescribePending);
  EXPECT_EQ(r.total(), 6);
  EXPECT_THAT(TaskIds(r), ElementsAre("r1", "m0"));

  v1::ListTasksRequest failed;
  failed.set_failed_only(true);
  r = log.ListTasks(failed, 4, 2, DescribePending);
  EXPECT_EQ(r.total(), 2);
  EXPECT_THAT(TaskIds(r), ElementsAre("m2", "r1"));

  v1::JobStatus status;
  log.FillStatus(&status);
  EXPECT_EQ(status.map().failed_attempts(), 1);
  EXPECT_EQ(status.reduce().failed_attempts(), 1);
  ASSERT_THAT(status.failed_attempts(), SizeIs(2));
  EXPECT_EQ(status.failed_attempts(0).attempt_id(), "j1-m2-a1");
  EXPECT_EQ(status.failed_attempts(1).error(), "bad reducer");
}

TEST(AttemptLogTest, BoundsWhatItKeeps) {
  AttemptLog log(kBegin, nullptr);
  const int n = static_cast<int>(AttemptLog::kMaxErrors) + 5;
  std::string long_error(2000, 'x');
  for (int i = 0; i < n; ++i) {
    std::string id = absl::StrCat("j1-m", i, "-a1");
    log.Started(false, i, 1, id, "w1", false, At(i));
    log.Ended(id, v1::ATTEMPT_FAILED, At(i + 1), long_error);
  }
  // Error lines are cut; past kMaxErrors the failure is kept without its text.
  v1::AttemptInfo first = *log.Find(false, 0, 1);
  EXPECT_LE(first.error().size(), AttemptLog::kErrorBytes + 3);
  EXPECT_THAT(first.error(), ::testing::EndsWith("..."));
  v1::AttemptInfo last = *log.Find(false, n - 1, 1);
  EXPECT_EQ(last.state(), v1::ATTEMPT_FAILED);
  EXPECT_THAT(last.error(), HasSubstr("not kept"));
  // The summary holds the first few only; the count holds them all.
  v1::JobStatus status;
  log.FillStatus(&status);
  EXPECT_THAT(status.failed_attempts(), SizeIs(AttemptLog::kSummaryFailures));
  EXPECT_EQ(status.map().failed_attempts(), n);
  // A record is small: the records dominate, the strings are shared or capped.
  EXPECT_LT(log.MemoryBytes(), n * (24 + AttemptLog::kErrorBytes + 64) + 4096);
}

TEST(AttemptLogTest, LatestGivesTheNewestAttemptsInStartOrder) {
  AttemptLog log(kBegin, nullptr);
  for (int m = 0; m < 5; ++m) {
    log.Started(false, m, 1, absl::StrCat("j2-b1-m", m, "-a1"), "w1", false, At(m));
  }
  std::vector<v1::AttemptInfo> latest = log.Latest(2);
  ASSERT_THAT(latest, SizeIs(2));
  EXPECT_EQ(latest[0].attempt_id(), "j2-b1-m3-a1");  // the prefix is kept whole
  EXPECT_EQ(latest[1].task_id(), "m4");
  EXPECT_THAT(log.Latest(100), SizeIs(5));
}

TEST(HistogramTest, QuantilesComeFromTheBuckets) {
  Histogram h({1, 2, 4});
  EXPECT_EQ(h.Quantile(0.5), 0);
  for (int i = 0; i < 50; ++i) h.Observe(0.5);
  for (int i = 0; i < 50; ++i) h.Observe(3);
  EXPECT_NEAR(h.Quantile(0.5), 1.0, 1e-9);
  EXPECT_GT(h.Quantile(0.99), 2.0);
  EXPECT_LE(h.Quantile(0.99), 4.0);
  std::string text;
  h.AppendTo("x_seconds", "k=\"v\"", &text);
  EXPECT_THAT(text, HasSubstr("x_seconds_bucket{k=\"v\",le=\"1\"} 50\n"));
  EXPECT_THAT(text, HasSubstr("x_seconds_bucket{k=\"v\",le=\"+Inf\"} 100\n"));
  EXPECT_THAT(text, HasSubstr("x_seconds_count{k=\"v\"} 100\n"));
}

}  // namespace
}  // namespace ampmr::master
