// StderrLog on real files: what it keeps, its cap (the tail is kept, from a
// line start), and where logs live.
#include "worker/task/stderr_log.h"

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::ScratchDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

off_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

TEST(StderrLogTest, KeepsEveryLineAndMakesNoFileUntilTheFirst) {
  ScratchDir dir;
  std::string path = StderrLog::PathFor(dir.Join("w"), "j1", "j1-m0-a1");
  EXPECT_EQ(path, dir.Join("w") + "/logs/j1/j1-m0-a1.stderr");
  StderrLog log(path);
  EXPECT_THAT(StderrLog::Read(path), StatusIs(absl::StatusCode::kNotFound));
  log.Append("first");
  log.Append("reporter:status:half way");
  absl::StatusOr<StderrLog::Kept> kept = StderrLog::Read(path);
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(kept->text, "first\nreporter:status:half way\n");
  EXPECT_FALSE(kept->truncated);
}

TEST(StderrLogTest, KeepsTheTailUnderTheCap) {
  ScratchDir dir;
  std::string path = dir.Join("a.stderr");
  const size_t cap = 1000;
  StderrLog log(path, cap);
  for (int i = 0; i < 1000; ++i) log.Append(absl::StrCat("line ", i, " of the attempt"));
  EXPECT_LE(FileSize(path), static_cast<off_t>(2 * cap + 100));
  absl::StatusOr<StderrLog::Kept> kept = StderrLog::Read(path);
  ASSERT_THAT(kept, IsOk());
  EXPECT_TRUE(kept->truncated);
  EXPECT_THAT(kept->text, HasSubstr("line 999 of the attempt\n"));
  EXPECT_THAT(kept->text, Not(HasSubstr("line 0 of")));
  EXPECT_THAT(kept->text, StartsWith("line "));  // cut at a line start
  EXPECT_GE(kept->text.size(), cap / 2);
}

TEST(StderrLogTest, ConcurrentWritersLoseNoLine) {
  ScratchDir dir;
  std::string path = dir.Join("b.stderr");
  StderrLog log(path);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&log, t] {
      for (int i = 0; i < 500; ++i) log.Append(absl::StrCat("writer ", t, " line ", i));
    });
  }
  for (auto& w : writers) w.join();
  absl::StatusOr<StderrLog::Kept> kept = StderrLog::Read(path);
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(std::count(kept->text.begin(), kept->text.end(), '\n'), 2000);
}

TEST(StderrLogTest, RefusesIdsThatAreNotPlainNames) {
  EXPECT_EQ(StderrLog::PathFor("/w", "../j1", "a"), "");
  EXPECT_EQ(StderrLog::PathFor("/w", "j1", "x/y"), "");
  EXPECT_EQ(StderrLog::PathFor("/w", "j1", ".hidden"), "");
  EXPECT_EQ(StderrLog::JobDir("/w", "j7"), "/w/logs/j7");
  StderrLog nowhere("");
  nowhere.Append("dropped");  // keeps nothing, fails nothing
}

}  // namespace
}  // namespace ampmr::worker
