// End-to-end: the real ampmr, ampmr-master and ampmr-worker binaries on
// loopback, counting words in a real corpus.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr absl::Duration kJobTimeout = absl::Seconds(120);

std::vector<std::string> WordCountFlags(const std::string& input, const std::string& output) {
  return {"--input",           input,        "--output",     output,      "--mapper",
          "builtin:wordcount", "--combiner", "builtin:sum",  "--reducer", "builtin:sum",
          "--reduces",         "3",          "--split-size", "256K"};
}

void ExpectCompleteOutput(const std::string& output, int parts) {
  EXPECT_TRUE(fs::exists(output + "/_SUCCESS"));
  EXPECT_FALSE(StagingLeft(output));
  for (int i = 0; i < parts; ++i) {
    char name[32];
    snprintf(name, sizeof(name), "/part-%05d", i);
    ASSERT_TRUE(fs::exists(output + name)) << name;
    // Each part is sorted by key, bytewise.
    std::ifstream in(output + name);
    std::string line, last;
    while (std::getline(in, line)) {
      std::string key = line.substr(0, line.find('\t'));
      EXPECT_LT(last, key) << "part " << i << " not sorted";
      last = key;
    }
  }
}

TEST(ClusterTest, RunWordCountEqualsSequentialCount) {
  ScratchDir tmp;
  std::string output = tmp.path() + "/out";
  CommandResult r = RunCommand(
      Concat({BinPath("ampmr"), "run", "--workers", "2"}, WordCountFlags(CorpusDir(), output)),
      kJobTimeout, {{"TMPDIR", tmp.path()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectCompleteOutput(output, 3);
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(CorpusDir()));
  EXPECT_THAT(r.out, HasSubstr("ampmr.map_input_bytes"));
  // run removed its temporary cluster directory: only the output is left.
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(tmp.path())) left.push_back(e.path().filename());
  EXPECT_THAT(left, ::testing::ElementsAre("out"));
}

TEST(ClusterTest, SubmitWaitOnThreeSeparateWorkers) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 3);
  ASSERT_TRUE(cluster.WaitForWorkers(3));
  std::string output = tmp.path() + "/out";
  CommandResult r =
      RunCommand(Concat({BinPath("ampmr"), "submit", "--master", cluster.address(), "--wait"},
                        WordCountFlags(CorpusDir(), output)),
                 kJobTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string job_id = r.out.substr(0, r.out.find('\n'));
  EXPECT_THAT(job_id, ::testing::MatchesRegex("j[0-9]+"));
  ExpectCompleteOutput(output, 3);
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(CorpusDir()));

  CommandResult status = RunCommand(
      {BinPath("ampmr"), "status", "--master", cluster.address(), job_id}, absl::Seconds(10));
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("SUCCEEDED"));
  CommandResult jobs = RunCommand(
      {BinPath("ampmr"), "jobs", "--master", cluster.address(), "--json"}, absl::Seconds(10));
  std::vector<std::string> lines = absl::StrSplit(jobs.out, '\n', absl::SkipWhitespace());
  ASSERT_EQ(lines.size(), 1u) << jobs.out;
  EXPECT_THAT(lines[0], HasSubstr("\"" + job_id + "\""));
}

TEST(ClusterTest, TaskThatAlwaysFailsFailsTheJobWithItsReason) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/pairs.txt";
  std::ofstream(input) << "a\t1\nb\tnot-a-number\n";
  std::string output = tmp.path() + "/out";
  CommandResult r = RunCommand(
      {BinPath("ampmr"), "run", "--workers", "2", "--input", input, "--output", output, "--mapper",
       "builtin:identity", "--reducer", "builtin:sum", "--max-attempts", "2"},
      kJobTimeout, {{"TMPDIR", tmp.path()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("task r0"));
  EXPECT_THAT(r.err, HasSubstr("failed after 2 attempts"));
  EXPECT_THAT(r.err, HasSubstr("not-a-number"));
  EXPECT_FALSE(fs::exists(output + "/_SUCCESS"));
  EXPECT_FALSE(fs::exists(output + "/part-00000"));
  EXPECT_FALSE(StagingLeft(output));
}

struct BadInputCase {
  std::string name;
  std::vector<std::string> args;  // after "ampmr"
  std::string expected;           // in the one stderr line
};

TEST(ClusterTest, BadInputFailsFastWithOneClearLine) {
  ScratchDir tmp;
  std::string full = tmp.path() + "/full";
  fs::create_directories(full);
  std::ofstream(full + "/keep.txt") << "precious\n";
  std::string out = tmp.path() + "/out";
  std::string corpus = CorpusDir();
  auto run = [&](std::vector<std::string> extra) {
    return Concat({"run", "--workers", "1", "--mapper", "builtin:wordcount"}, extra);
  };
  std::vector<BadInputCase> cases = {
      {"missing input", run({"--input", tmp.path() + "/nope.txt", "--output", out}),
       tmp.path() + "/nope.txt"},
      {"non-empty output", run({"--input", corpus, "--output", full}), full},
      {"unknown spec kind",
       {"run", "--input", corpus, "--output", out, "--mapper", "python:foo.py"},
       "mapper"},
      {"unknown built-in",
       {"run", "--input", corpus, "--output", out, "--mapper", "builtin:wordcont"},
       "wordcont"},
      {"zero reduces", run({"--input", corpus, "--output", out, "--reduces", "0"}), "--reduces"},
      {"unreachable master",
       {"submit", "--master", "127.0.0.1:1", "--input", corpus, "--output", out, "--mapper",
        "builtin:wordcount"},
       "127.0.0.1:1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> argv = Concat({BinPath("ampmr")}, c.args);
    CommandResult r = RunCommand(argv, absl::Seconds(30), {{"TMPDIR", tmp.path()}});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_FALSE(r.timed_out);
    EXPECT_LT(r.elapsed, absl::Seconds(15));
    EXPECT_THAT(r.err, HasSubstr(c.expected));
    EXPECT_THAT(r.err, HasSubstr("ampmr: "));
    EXPECT_FALSE(fs::exists(out)) << "output created";
  }
  // The non-empty directory is untouched.
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(full)) left.push_back(e.path().filename());
  EXPECT_THAT(left, ::testing::ElementsAre("keep.txt"));
}

// A --master that is not HOST:PORT is refused before the worker starts
// anything: one line naming the flag and the address, exit status 2.
TEST(ClusterTest, WorkerRefusesAMalformedMasterAddressWithOneLine) {
  ScratchDir tmp;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"localhost", "--master localhost: no port (want HOST:PORT)"},
      {"127.0.0.1:99999",
       "--master 127.0.0.1:99999: the port is not a number from 1 to 65535 (want HOST:PORT)"},
      {"my host:7070", "--master my host:7070: the host has a ' ' (want HOST:PORT)"},
      {":7070", "--master :7070: no host (want HOST:PORT)"},
      {"::1:7070", "--master ::1:7070: an IPv6 host needs brackets (want HOST:PORT)"},
  };
  for (const auto& [address, message] : cases) {
    SCOPED_TRACE(address);
    CommandResult r = RunCommand({BinPath("ampmr-worker"), "--master", address, "--work-dir",
                                  tmp.path() + "/work"},
                                 absl::Seconds(30));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "ampmr-worker: " + message + "\n");
    EXPECT_FALSE(fs::exists(tmp.path() + "/work")) << "work dir created";
  }
}

}  // namespace
}  // namespace ampmr::testing
