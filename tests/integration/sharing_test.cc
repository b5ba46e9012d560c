// Sharing the cluster, end to end: real master, workers and ampmr on
// loopback. Jobs of slow exec tasks are long enough that, were slots handed
// out first come first served, the later job could not end first; each test
// asserts the order of events, never how long they took.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr absl::Duration kJobTimeout = absl::Seconds(120);

// A file of `lines` lines of 8 bytes: with --split-size 8, one map task each.
std::string LinesFile(const std::string& dir, const std::string& name, int lines) {
  std::string path = dir + "/" + name;
  std::ofstream out(path);
  for (int i = 0; i < lines; ++i) out << absl::StrCat(1000000 + i) << "\n";
  return path;
}

// Map-only job flags: one task per line, each sleeping `sleep` first.
std::vector<std::string> SlowJob(const std::string& input, const std::string& output,
                                 const std::string& sleep) {
  return {"--input",   input,  "--output",     output, "--mapper", "exec:sleep " + sleep + "; cat",
          "--reducer", "none", "--split-size", "8"};
}

std::string Submit(const std::string& master, const std::vector<std::string>& flags) {
  CommandResult r =
      RunCommand(Concat({BinPath("ampmr"), "submit", "--master", master}, flags), kJobTimeout);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

void Cancel(const std::string& master, const std::string& job) {
  RunCommand({BinPath("ampmr"), "cancel", "--master", master, job}, absl::Seconds(10));
}

TEST(SharingTest, ASmallJobEndsWhileABigOneRuns) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 1);
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  std::string big = Submit(
      cluster.address(), SlowJob(LinesFile(tmp.path(), "big", 60), tmp.path() + "/big-out", "0.5"));
  ASSERT_TRUE(WaitForProgress(cluster.address(), big,
                              [](const JobProgress& p) { return p.maps_done >= 1; }));
  CommandResult small =
      RunCommand(Concat({BinPath("ampmr"), "submit", "--master", cluster.address(), "--wait"},
                        SlowJob(LinesFile(tmp.path(), "small", 1), tmp.path() + "/small-out", "0")),
                 kJobTimeout);
  EXPECT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(fs::exists(tmp.path() + "/small-out/_SUCCESS"));
  JobProgress after = GetProgress(cluster.address(), big);
  EXPECT_EQ(after.state, "MAPPING");
  EXPECT_LT(after.maps_done, 60);
  Cancel(cluster.address(), big);
}

TEST(SharingTest, AHigherPriorityJobOvertakes) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 1);
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  std::string low = Submit(
      cluster.address(), SlowJob(LinesFile(tmp.path(), "low", 60), tmp.path() + "/low-out", "0.5"));
  ASSERT_TRUE(WaitForProgress(cluster.address(), low,
                              [](const JobProgress& p) { return p.maps_done >= 1; }));
  const int low_before = GetProgress(cluster.address(), low).maps_done;
  CommandResult high = RunCommand(
      Concat(
          {BinPath("ampmr"), "submit", "--master", cluster.address(), "--wait", "--priority", "5"},
          SlowJob(LinesFile(tmp.path(), "high", 10), tmp.path() + "/high-out", "0.5")),
      kJobTimeout);
  EXPECT_EQ(high.exit_code, 0) << high.err;
  // While the high job had tasks waiting, the low one started none: it only
  // finished what was running when the high one came (at most a slot's worth
  // each, and whatever ended between the two commands). Sharing equally
  // would have let it finish about as many as the high job ran.
  JobProgress after = GetProgress(cluster.address(), low);
  EXPECT_EQ(after.state, "MAPPING");
  EXPECT_LE(after.maps_done - low_before, 4);
  Cancel(cluster.address(), low);
}

TEST(SharingTest, AJobOverTheTaskLimitIsRefusedWithTheLimitNamed) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 0, {"--max-tasks", "10"});
  std::string input = LinesFile(tmp.path(), "in", 20);
  std::string output = tmp.path() + "/out";
  CommandResult maps =
      RunCommand(Concat({BinPath("ampmr"), "submit", "--master", cluster.address()},
                        SlowJob(input, output, "0")),
                 kJobTimeout);
  EXPECT_EQ(maps.exit_code, 2);
  EXPECT_THAT(maps.err, HasSubstr("more than 10 tasks (the master's --max-tasks)"));
  EXPECT_THAT(maps.err, HasSubstr("--split-size"));
  CommandResult reduces =
      RunCommand({BinPath("ampmr"), "submit", "--master", cluster.address(), "--input", input,
                  "--output", output, "--mapper", "builtin:identity", "--reduces", "10"},
                 kJobTimeout);
  EXPECT_EQ(reduces.exit_code, 2);
  EXPECT_THAT(reduces.err, HasSubstr("10 reduces"));
  EXPECT_FALSE(fs::exists(output));
  // Within the limit it runs.
  CommandResult fits =
      RunCommand({BinPath("ampmr"), "submit", "--master", cluster.address(), "--input", input,
                  "--output", output, "--mapper", "builtin:noop", "--split-size", "32"},
                 kJobTimeout);
  EXPECT_EQ(fits.exit_code, 0) << fits.err;
}

TEST(SharingTest, AJobOfTwentyThousandTasksIsPlannedAndRuns) {
  ScratchDir tmp;
  std::string input = LinesFile(tmp.path(), "in", 20000);
  std::string output = tmp.path() + "/out";
  CommandResult r = RunCommand(
      {BinPath("ampmr"), "run", "--workers", "2", "--input", input, "--output", output, "--mapper",
       "builtin:identity", "--reducer", "builtin:count", "--split-size", "8"},
      kJobTimeout, {{"TMPDIR", tmp.path()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("20000/20000"));
  std::ifstream part(output + "/part-00000");
  int keys = 0;
  for (std::string line; std::getline(part, line);) ++keys;
  EXPECT_EQ(keys, 20000);
}

TEST(SharingTest, OldFinishedJobsAreForgottenListedByPageAndStillAnswered) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 1, {"--keep-jobs", "2"});
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  std::string input = LinesFile(tmp.path(), "in", 3);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    CommandResult r = RunCommand(
        {BinPath("ampmr"), "submit", "--master", cluster.address(), "--wait", "--input", input,
         "--output", absl::StrCat(tmp.path(), "/out", i), "--mapper", "builtin:noop"},
        kJobTimeout);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ids.push_back(r.out.substr(0, r.out.find('\n')));
  }
  // One job a page: the CLI follows the pages and lists the two kept.
  std::vector<std::string> listed;
  ASSERT_TRUE(WaitUntil([&] {
    CommandResult jobs = RunCommand(
        {BinPath("ampmr"), "jobs", "--master", cluster.address(), "--json", "--page-size", "1"},
        absl::Seconds(10));
    listed.clear();
    for (const std::string& id : ids) {
      if (jobs.out.find("\"" + id + "\"") != std::string::npos) listed.push_back(id);
    }
    return jobs.exit_code == 0 && listed.size() == 2;
  })) << ::testing::PrintToString(listed);
  EXPECT_EQ(listed, (std::vector<std::string>{ids[2], ids[3]}));
  // The forgotten ones are answered for from the journal.
  CommandResult old = RunCommand(
      {BinPath("ampmr"), "status", "--master", cluster.address(), ids[0]}, absl::Seconds(10));
  EXPECT_EQ(old.exit_code, 0) << old.err;
  EXPECT_THAT(old.out, HasSubstr("SUCCEEDED"));
  EXPECT_THAT(old.out, HasSubstr(input));
}

}  // namespace
}  // namespace ampmr::testing
