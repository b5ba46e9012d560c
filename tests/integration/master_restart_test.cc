// The master survives SIGKILL: killed mid-map or mid-reduce and started again
// on the same --data-dir and port, it resumes the job (the workers reconnect
// and report the map outputs they hold) and the job ends with the exact
// answer; finished jobs' history survives a restart. `ampmr wait` rides out
// the restart too, and says clearly when the master does not come back.
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kJobTimeout = absl::Seconds(60);

// A master on a fixed port (so workers find it again after a restart) and
// its workers, each with a log in `dir`.
class RestartableCluster {
 public:
  RestartableCluster(const std::string& dir, int workers)
      : dir_(dir), port_(FreePort()), address_(absl::StrCat("127.0.0.1:", port_)) {
    StartMaster();
    for (int i = 0; i < workers; ++i) {
      workers_.push_back(Daemon::Start(
          {BinPath("ampmr-worker"), "--master", address_, "--work-dir", absl::StrCat(dir, "/w", i)},
          absl::StrCat(dir, "/worker", i, ".log")));
    }
  }
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  std::string master_log() const { return dir_ + "/master.log"; }

  // `data_dir` is a name under `dir`.
  void StartMaster(const std::string& data_dir = "master") {
    // Debug level: StartWait waits for the line saying the job is watched.
    master_ = Daemon::Start(
        {BinPath("ampmr-master"), "--listen", address_, "--data-dir", dir_ + "/" + data_dir},
        master_log(), {{"AMPMR_LOG_LEVEL", "debug"}});
    std::string line = master_->ReadLine(absl::Seconds(20));
    EXPECT_EQ(line, "ampmr-master listening on " + address_);
  }
  void KillMaster() {
    master_->Signal(SIGKILL);
    EXPECT_EQ(master_->Wait(absl::Seconds(10)), -1);  // killed, not exited
  }
  // SIGTERM; the master's exit status.
  int StopMaster() {
    master_->Signal(SIGTERM);
    return master_->Wait(absl::Seconds(20));
  }

 private:
  std::string dir_;
  int port_;
  std::string address_;
  std::unique_ptr<Daemon> master_;
  std::vector<std::unique_ptr<Daemon>> workers_;
};

// A word count with no combiner, so maps and reduces take long enough to be
// caught in the middle.
std::string Submit(const std::string& master, const std::string& input, const std::string& output,
                   const std::string& reduces, const std::string& split_size,
                   const std::string& mapper = "builtin:wordcount",
                   const std::string& reducer = "builtin:sum") {
  CommandResult r = RunCommand(
      {BinPath("ampmr"), "submit", "--master", master, "--input", input, "--output", output,
       "--mapper", mapper, "--reducer", reducer, "--reduces", reduces, "--split-size", split_size},
      absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

// Waits until `maps` map tasks of `job` are done, or the map phase is over;
// returns the progress then.
JobProgress WaitForMapsDone(const RestartableCluster& cluster, const std::string& job, int maps) {
  JobProgress seen;
  EXPECT_TRUE(WaitForProgress(
      cluster.address(), job,
      [&](const JobProgress& p) {
        seen = p;
        return p.state != "MAPPING" || p.maps_done >= maps;
      },
      kJobTimeout));
  return seen;
}

void ExpectExactAnswer(const std::string& output, const std::string& input) {
  EXPECT_TRUE(fs::exists(output + "/_SUCCESS"));
  EXPECT_FALSE(StagingLeft(output));
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(input));
}

// The numbers after `key` in the lines of the master's log that have it
// ("job resumed job=j1 maps done=12/40 ..."), in order.
std::vector<int> LoggedNumbers(const std::string& log, const std::string& key) {
  std::ifstream in(log);
  std::string line;
  std::vector<int> values;
  while (std::getline(in, line)) {
    size_t at = line.find(key);
    if (at == std::string::npos) continue;
    at += key.size();
    size_t end = line.find_first_not_of("0123456789", at);
    int value = 0;
    if (absl::SimpleAtoi(line.substr(at, end - at), &value)) values.push_back(value);
  }
  return values;
}

int LastLoggedNumber(const std::string& log, const std::string& key) {
  std::vector<int> values = LoggedNumbers(log, key);
  return values.empty() ? -1 : values.back();
}

// How many watches of `job` the master's log records (at debug level).
size_t Watches(const RestartableCluster& cluster, const std::string& job) {
  const std::string log = ReadFile(cluster.master_log());
  const std::string key = absl::StrCat("watching job=", job, " ");
  size_t n = 0;
  for (size_t at = log.find(key); at != std::string::npos; at = log.find(key, at + 1)) ++n;
  return n;
}

// `ampmr wait JOB` as a child, with its stderr in `log`, once the master is
// watching the job for it (so that killing the master is losing it, not never
// finding it: a TCP connection alone is not enough, the client's gRPC channel
// may not be ready yet).
std::unique_ptr<Daemon> StartWait(const RestartableCluster& cluster, const std::string& job,
                                  const std::string& log,
                                  const std::vector<std::string>& flags = {}) {
  std::vector<std::string> argv = {BinPath("ampmr"), "wait", "--master", cluster.address()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(job);
  const size_t watches_before = Watches(cluster, job);
  std::unique_ptr<Daemon> wait = Daemon::Start(argv, log);
  EXPECT_TRUE(WaitUntil([&] { return Watches(cluster, job) > watches_before; }, absl::Seconds(20)))
      << "the master never watched the job for ampmr wait; its stderr: " << ReadFile(log);
  return wait;
}

std::string LostNotice(const RestartableCluster& cluster) {
  return absl::StrCat("ampmr: lost the master at ", cluster.address(), "; reconnecting...\n");
}

// Restarts the master and returns how long it took from the restart until the
// job accepted a task it did not have before (the job resuming).
absl::Duration RestartAndTimeResume(RestartableCluster& cluster, const std::string& job) {
  absl::Time restart = absl::Now();
  cluster.StartMaster();
  JobProgress first = GetProgress(cluster.address(), job);
  EXPECT_NE(first.state, "") << "job " << job << " unknown after the restart";
  bool resumed = WaitForProgress(
      cluster.address(), job,
      [&](const JobProgress& p) {
        return p.state == "SUCCEEDED" || p.maps_done > first.maps_done ||
               p.reduces_done > first.reduces_done;
      },
      kJobTimeout);
  EXPECT_TRUE(resumed);
  absl::Duration took = absl::Now() - restart;
  std::cout << "time from master restart to the job resuming: " << absl::FormatDuration(took)
            << "\n";
  return took;
}

// A word count on 2 workers (4 files of 3 MiB in 128K splits) whose map
// phase lasts long enough to be interrupted.
struct MidMapJob {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  std::string output = tmp.path() + "/out";
  RestartableCluster cluster{tmp.path(), 2};
  std::string job;
  // Maps 8 and up wait for this file, so the test can be sure to catch the
  // map phase: OpenGate() once the master is down.
  std::string gate = tmp.path() + "/gate";
  MidMapJob() {
    MakeCorpus(input, 4, 3 << 20);
    job = Submit(cluster.address(), input, output, "3", "128K",
                 "exec:" + GatedTask(tmp.path(), gate, 8, kShellWordCount));
  }
  void OpenGate() { WriteFile(gate, ""); }
};

TEST(MasterRestartTest, KilledMidMapResumesAndHistorySurvives) {
  MidMapJob t;
  RestartableCluster& cluster = t.cluster;
  const std::string &input = t.input, &output = t.output, &job = t.job;
  ASSERT_EQ(job, "j1");
  JobProgress seen = WaitForMapsDone(cluster, job, 4);
  ASSERT_EQ(seen.state, "MAPPING");
  cluster.KillMaster();
  t.OpenGate();

  absl::Duration took = RestartAndTimeResume(cluster, job);
  ::testing::Test::RecordProperty("resume_ms", absl::ToInt64Milliseconds(took));
  CommandResult wait =
      RunCommand({BinPath("ampmr"), "wait", "--master", cluster.address(), job}, kJobTimeout);
  ASSERT_EQ(wait.exit_code, 0) << wait.out << wait.err;
  ExpectExactAnswer(output, input);
  // The maps accepted before the kill were taken from the workers, not re-run.
  int recovered = LastLoggedNumber(cluster.master_log(), "job resumed job=j1 maps done=");
  EXPECT_GT(recovered, 0);
  EXPECT_LT(recovered, LastLoggedNumber(cluster.master_log(), "job started job=j1 maps="));
  std::vector<int> held = LoggedNumbers(cluster.master_log(), " holds ");
  EXPECT_GT(std::accumulate(held.begin(), held.end(), 0), 0);

  // A finished job's history survives a restart; new ids continue after it.
  cluster.KillMaster();
  cluster.StartMaster();
  CommandResult status = RunCommand(
      {BinPath("ampmr"), "status", "--master", cluster.address(), job}, absl::Seconds(10));
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("SUCCEEDED"));
  EXPECT_THAT(status.out, HasSubstr("ampmr.map_input_bytes"));
  std::string next =
      Submit(cluster.address(), input + "/part0.txt", t.tmp.path() + "/out2", "1", "64M");
  EXPECT_EQ(next, "j2");
  CommandResult wait2 =
      RunCommand({BinPath("ampmr"), "wait", "--master", cluster.address(), next}, kJobTimeout);
  EXPECT_EQ(wait2.exit_code, 0) << wait2.err;
}

// SIGTERM stops the master cleanly (exit 0, journal flushed): started again,
// it resumes the job from what it had accepted.
TEST(MasterRestartTest, SigtermMidMapExitsCleanlyAndTheRestartedMasterResumes) {
  MidMapJob t;
  RestartableCluster& cluster = t.cluster;
  const std::string &input = t.input, &output = t.output, &job = t.job;
  JobProgress seen = WaitForMapsDone(cluster, job, 4);
  ASSERT_EQ(seen.state, "MAPPING");
  EXPECT_EQ(cluster.StopMaster(), 0);
  EXPECT_THAT(ReadFile(cluster.master_log()), HasSubstr("master stopped"));
  t.OpenGate();

  cluster.StartMaster();
  CommandResult wait =
      RunCommand({BinPath("ampmr"), "wait", "--master", cluster.address(), job}, kJobTimeout);
  ASSERT_EQ(wait.exit_code, 0) << wait.out << wait.err;
  ExpectExactAnswer(output, input);
  EXPECT_GE(LastLoggedNumber(cluster.master_log(), "job resumed job=j1 maps done="),
            seen.maps_done);
}

TEST(MasterRestartTest, KilledMidReduceKeepsCommittedReducesAndResumes) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 2, 2 << 20);
  RestartableCluster cluster(tmp.path(), 2);
  std::string output = tmp.path() + "/out";
  // Reduces 3 and up wait for the gate, so the kill comes mid-reduce.
  const std::string gate = tmp.path() + "/gate";
  std::string job = Submit(cluster.address(), input, output, "96", "512K", "builtin:wordcount",
                           "exec:" + GatedTask(tmp.path(), gate, 3, kShellSum));
  JobProgress seen;
  ASSERT_TRUE(WaitForProgress(
      cluster.address(), job,
      [&](const JobProgress& p) {
        seen = p;
        return p.state == "REDUCING" && p.reduces_done >= 3;
      },
      kJobTimeout));
  cluster.KillMaster();
  WriteFile(gate, "");

  RestartAndTimeResume(cluster, job);
  CommandResult wait =
      RunCommand({BinPath("ampmr"), "wait", "--master", cluster.address(), job}, kJobTimeout);
  ASSERT_EQ(wait.exit_code, 0) << wait.out << wait.err;
  ExpectExactAnswer(output, input);
  // Reduces accepted before the kill kept their part files.
  int kept = LastLoggedNumber(cluster.master_log(), "reduces done=");
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 96);
}

// The output appears in one step: a master SIGKILLed the moment anything
// shows under the output's name leaves it complete (or, had it been killed
// earlier, empty), never with some parts and not others; restarted, it
// reports the job done with the exact answer.
TEST(MasterRestartTest, KilledMidCommitLeavesTheOutputWholeOrAbsent) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 2, 256 << 10);
  RestartableCluster cluster(tmp.path(), 2);
  std::string output = tmp.path() + "/out";
  const int parts = 200;  // many renames for a commit to be caught in the middle of
  std::string job = Submit(cluster.address(), input, output, absl::StrCat(parts), "64K");
  auto listing = [&] {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(output, ec)) names.insert(e.path().filename());
    return names;
  };
  // Polls far more often than WaitUntil: a commit takes milliseconds.
  const absl::Time deadline = absl::Now() + kJobTimeout;
  while (listing().empty() && absl::Now() < deadline) absl::SleepFor(absl::Microseconds(200));
  ASSERT_FALSE(listing().empty()) << "the job never committed";
  cluster.KillMaster();
  std::set<std::string> seen = listing();
  EXPECT_EQ(seen.size(), parts + 1u);
  EXPECT_EQ(seen.count("_SUCCESS"), 1u);
  EXPECT_EQ(seen.count(absl::StrCat("part-00", parts - 1)), 1u);

  cluster.StartMaster();
  CommandResult wait =
      RunCommand({BinPath("ampmr"), "wait", "--master", cluster.address(), job}, kJobTimeout);
  ASSERT_EQ(wait.exit_code, 0) << wait.out << wait.err;
  ExpectExactAnswer(output, input);
}

TEST(MasterRestartTest, WaitRidesOutAMasterRestart) {
  MidMapJob t;
  RestartableCluster& cluster = t.cluster;
  const std::string &input = t.input, &output = t.output, &job = t.job;
  std::string wait_log = t.tmp.path() + "/wait.log";
  std::unique_ptr<Daemon> wait = StartWait(cluster, job, wait_log);
  JobProgress seen = WaitForMapsDone(cluster, job, 2);
  ASSERT_EQ(seen.state, "MAPPING");
  cluster.KillMaster();
  ASSERT_TRUE(
      WaitUntil([&] { return ReadFile(wait_log) == LostNotice(cluster); }, absl::Seconds(20)))
      << ReadFile(wait_log);
  t.OpenGate();

  cluster.StartMaster();
  EXPECT_EQ(wait->Wait(kJobTimeout), 0) << ReadFile(wait_log);
  EXPECT_EQ(wait->ReadLine(absl::Seconds(5)), job + " SUCCEEDED");
  // One notice for the one outage, and nothing else.
  EXPECT_EQ(ReadFile(wait_log), LostNotice(cluster));
  ExpectExactAnswer(output, input);
}

// A master with no workers, so that its one job cannot end while a test
// looks, and a log for an `ampmr wait` on it.
struct StuckJob {
  ScratchDir tmp;
  RestartableCluster cluster{tmp.path(), 0};
  std::string job;
  std::string wait_log = tmp.path() + "/wait.log";
  StuckJob() {
    std::ofstream(tmp.path() + "/in.txt") << "one two\n";
    job = Submit(cluster.address(), tmp.path() + "/in.txt", tmp.path() + "/out", "1", "64M");
  }
};

TEST(MasterRestartTest, WaitGivesUpWhenTheMasterDoesNotComeBack) {
  StuckJob t;
  RestartableCluster& cluster = t.cluster;
  const std::string& job = t.job;
  const std::string& wait_log = t.wait_log;
  std::unique_ptr<Daemon> wait = StartWait(cluster, job, wait_log, {"--reconnect-timeout", "1"});
  const absl::Time killed = absl::Now();
  cluster.KillMaster();
  EXPECT_EQ(wait->Wait(absl::Seconds(30)), 1);
  const absl::Duration tried = absl::Now() - killed;
  EXPECT_GE(tried, absl::Seconds(1));
  EXPECT_LT(tried, absl::Seconds(15));
  EXPECT_EQ(wait->ReadLine(absl::ZeroDuration()), "");  // nothing on stdout
  const std::string err = ReadFile(wait_log);
  EXPECT_THAT(err, StartsWith(absl::StrCat(LostNotice(cluster), "ampmr: lost the master at ",
                                           cluster.address(), " while waiting for job ", job,
                                           " and it did not come back within 1s: ")));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 2) << err;
}

TEST(MasterRestartTest, WaitSaysSoWhenTheMasterCameBackWithoutTheJob) {
  StuckJob t;
  RestartableCluster& cluster = t.cluster;
  const std::string& job = t.job;
  const std::string& wait_log = t.wait_log;
  std::unique_ptr<Daemon> wait = StartWait(cluster, job, wait_log);
  cluster.KillMaster();
  cluster.StartMaster("another-master");  // a fresh journal: no jobs
  EXPECT_EQ(wait->Wait(absl::Seconds(30)), 2);
  EXPECT_EQ(ReadFile(wait_log),
            absl::StrCat(LostNotice(cluster), "ampmr: job ", job, " is unknown to the master at ",
                         cluster.address(),
                         " since it came back (restarted with another --data-dir?)\n"));
}

TEST(MasterRestartTest, CorruptJournalIsRefusedAtStartup) {
  ScratchDir tmp;
  fs::create_directories(tmp.path() + "/master");
  std::string journal = tmp.path() + "/master/journal.db";
  std::ofstream(journal) << "this is not a journal, but somebody's notes\n";
  CommandResult r = RunCommand(
      {BinPath("ampmr-master"), "--listen", "127.0.0.1:0", "--data-dir", tmp.path() + "/master"},
      absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(journal));
  EXPECT_THAT(r.err, HasSubstr("not a database"));
  std::ifstream in(journal);
  std::string kept;
  std::getline(in, kept);
  EXPECT_EQ(kept, "this is not a journal, but somebody's notes");
}

}  // namespace
}  // namespace ampmr::testing
