// Faults with the real binaries: workers stopped, killed, drained or replaced
// by supervisord, jobs cancelled. Every job must end with the exact answer
// (or, cancelled, with nothing left behind).
#include <dirent.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kJobTimeout = absl::Seconds(120);

// A word count over `input` whose maps numbered `free_maps` and up wait for
// the file `gate` (GatedTask), so a test catches the job mid-map however fast
// the machine, and lets it end by writing the gate.
std::vector<std::string> GatedWordCount(const std::string& master, const std::string& input,
                                        const std::string& output, const std::string& gate,
                                        int free_maps) {
  const std::string dir = fs::path(gate).parent_path().string();
  return {BinPath("ampmr"), "submit",
          "--master",       master,
          "--input",        input,
          "--output",       output,
          "--mapper",       "exec:" + GatedTask(dir, gate, free_maps, kShellWordCount),
          "--reducer",      "builtin:sum",
          "--reduces",      "2",
          "--split-size",   "512K"};
}

std::string Submit(const std::vector<std::string>& argv) {
  CommandResult r = RunCommand(argv, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

bool Wait(const std::string& master, const std::string& job) {
  CommandResult r = RunCommand({BinPath("ampmr"), "wait", "--master", master, job}, kJobTimeout);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return r.exit_code == 0;
}

std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path().string());
  }
  return files;
}

// Processes whose command line mentions `needle`.
std::vector<std::string> ProcessesMentioning(const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    int pid;
    if (!absl::SimpleAtoi(name, &pid) || pid == getpid()) continue;
    std::string cmdline = ReadFile(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (Alive(pid) && absl::StrContains(cmdline, needle)) found.push_back(name + ": " + cmdline);
  }
  return found;
}

// A master that stops answering while its connections stay open (SIGSTOP, as
// behind a network partition) is noticed by its worker's keepalive pings
// within seconds, not never; when the master wakes up the worker joins again.
TEST(FaultsTest, WorkerNoticesAHungMasterAndJoinsAgainWhenItWakes) {
  ScratchDir tmp;
  // The master must not be the one to end the session when it wakes.
  TestCluster cluster(tmp.path(), 1, {"--heartbeat-timeout", "600"});
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  const std::string log = tmp.path() + "/worker0.log";
  auto count = [&log](const std::string& what) {
    const std::string text = ReadFile(log);
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  ASSERT_EQ(count("connected to master="), 1) << ReadFile(log);
  cluster.master()->Signal(SIGSTOP);
  absl::Cleanup wake = [&cluster] { cluster.master()->Signal(SIGCONT); };
  EXPECT_TRUE(WaitUntil([&] { return count("lost the master worker=w1") == 1; })) << ReadFile(log);
  std::move(wake).Invoke();
  EXPECT_TRUE(WaitUntil([&] { return count("connected to master=") == 2; })) << ReadFile(log);
  EXPECT_TRUE(cluster.WaitForWorkers(1));
}

TEST(FaultsTest, StoppedWorkerIsDeclaredLostAndTheJobFinishesElsewhere) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 8, 4 << 20);
  TestCluster cluster(tmp.path(), 2, {"--heartbeat-timeout", "2"});
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  std::string output = tmp.path() + "/out";
  // Maps 4 and up wait for the gate, so the job is mid-map when the worker stops.
  const std::string gate = tmp.path() + "/gate";
  std::string job = Submit(GatedWordCount(cluster.address(), input, output, gate, 4));
  ASSERT_TRUE(WaitForProgress(cluster.address(), job,
                              [](const JobProgress& p) { return p.maps_done >= 4; }));
  cluster.worker(0)->Signal(SIGSTOP);
  EXPECT_EQ(GetProgress(cluster.address(), job).state, "MAPPING");
  WriteFile(gate, "");
  ASSERT_TRUE(Wait(cluster.address(), job));
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(input));
  EXPECT_TRUE(fs::exists(output + "/_SUCCESS"));
  EXPECT_TRUE(cluster.WaitForWorkers(1, absl::Seconds(1)));  // the stopped one is gone
  // Woken up, it finds its session gone and is welcome back as a new worker.
  auto workers = [&] {
    return RunCommand({BinPath("ampmr"), "workers", "--json", "--master", cluster.address()},
                      absl::Seconds(10))
        .out;
  };
  const std::string stopped = absl::StrCat("\"pid\":\"", cluster.worker(0)->pid(), "\"");
  const std::string before = workers();
  EXPECT_THAT(before, Not(HasSubstr(stopped)));
  cluster.worker(0)->Signal(SIGCONT);
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  const std::string after = workers();
  EXPECT_THAT(after, HasSubstr(stopped)) << after;
  EXPECT_THAT(after, HasSubstr("\"worker_id\":\"w3\"")) << after;  // a new id
}

// Slow start: with the last two maps held at a gate, the job's four reduces
// run on the four slots no map wants, fetching the outputs of the maps done,
// before the gate opens; then the output is exact.
std::vector<std::string> SlowStartJob(const std::string& master, const std::string& input,
                                      const std::string& output, const std::string& gate) {
  std::vector<std::string> argv = GatedWordCount(master, input, output, gate, 6);
  SetFlag(&argv, "--reduces", "4");
  SetFlag(&argv, "--split-size", "64M");  // a map per file
  return argv;
}

TEST(FaultsTest, ReducesRunWhileTheLastMapsWaitAndTheOutputIsExact) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 8, 256 << 10);  // 8 maps
  TestCluster cluster(tmp.path(), 2, {}, {"--slots", "3"});
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  std::string output = tmp.path() + "/out";
  const std::string gate = tmp.path() + "/gate";
  std::string job = Submit(SlowStartJob(cluster.address(), input, output, gate));
  JobProgress seen;
  ASSERT_TRUE(WaitForProgress(cluster.address(), job,
                              [&](const JobProgress& p) {
                                seen = p;
                                return p.maps_done == 6 && p.reduces_running == 4;
                              }))
      << "maps done " << seen.maps_done << ", reduces running " << seen.reduces_running;
  EXPECT_EQ(seen.state, "MAPPING");
  EXPECT_EQ(seen.reduces_done, 0);
  WriteFile(gate, "");
  ASSERT_TRUE(Wait(cluster.address(), job));
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(input));
  EXPECT_TRUE(fs::exists(output + "/_SUCCESS"));
}

// A worker killed while early reduces wait (each worker runs at least one of
// the four): its reduces run again, the map outputs it held are made again
// (early reduces elsewhere give way if they hold the slots), and the answer
// is exact.
TEST(FaultsTest, WorkerKilledWhileEarlyReducesWaitLeavesTheOutputExact) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 8, 256 << 10);
  TestCluster cluster(tmp.path(), 2, {}, {"--slots", "3"});
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  std::string output = tmp.path() + "/out";
  const std::string gate = tmp.path() + "/gate";
  std::string job = Submit(SlowStartJob(cluster.address(), input, output, gate));
  ASSERT_TRUE(WaitForProgress(cluster.address(), job, [](const JobProgress& p) {
    return p.maps_done == 6 && p.reduces_running == 4;
  }));
  cluster.worker(0)->Signal(SIGKILL);
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  WriteFile(gate, "");
  ASSERT_TRUE(Wait(cluster.address(), job));
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(input));
  EXPECT_TRUE(fs::exists(output + "/_SUCCESS"));
}

// A worker whose map outputs cannot be fetched (it tells the others a host
// where nothing listens) while early reduces wait: the reduces on the other
// worker report their failed fetches as they happen, so the outputs are made
// again while the last maps still wait at the gate, not once they are done;
// then the output is exact.
TEST(FaultsTest, EarlyReducesFailedFetchesAreMadeAgainWhileMapsStillRun) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 8, 256 << 10);
  TestCluster cluster(tmp.path(), 1, {}, {"--slots", "3"});
  cluster.AddWorker({"--advertise-host", "127.0.0.2"});  // its shuffle listens on 127.0.0.1
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  std::string output = tmp.path() + "/out";
  const std::string gate = tmp.path() + "/gate";
  std::string job = Submit(SlowStartJob(cluster.address(), input, output, gate));
  const std::string log = tmp.path() + "/master.log";
  EXPECT_TRUE(WaitUntil([&] {
    return absl::StrContains(ReadFile(log), absl::StrCat("map output lost job=", job));
  }, absl::Seconds(60))) << ReadFile(log);
  EXPECT_THAT(ReadFile(log), HasSubstr("reduce waiting for map outputs could not fetch one job="));
  EXPECT_EQ(GetProgress(cluster.address(), job).state, "MAPPING");  // the gate is still shut
  WriteFile(gate, "");
  ASSERT_TRUE(Wait(cluster.address(), job));
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(input));
  EXPECT_TRUE(fs::exists(output + "/_SUCCESS"));
}

// A mapper that neither reads nor writes (here, its child, too) learns
// nothing from its worker's death; the worker's reaper kills its group.
TEST(FaultsTest, KilledWorkerTakesItsTaskProcessesWithIt) {
  ScratchDir tmp;
  std::ofstream(tmp.path() + "/in.txt") << "x\n";
  TestCluster cluster(tmp.path(), 1);
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  std::string pids = tmp.path() + "/pids";
  std::string job = Submit(
      {BinPath("ampmr"), "submit", "--master", cluster.address(), "--input", tmp.path() + "/in.txt",
       "--output", tmp.path() + "/out", "--reducer", "none", "--mapper",
       "exec:sleep 600 & echo $! $$ > " + pids + ".tmp; mv " + pids + ".tmp " + pids + "; wait"});
  std::vector<int> started;
  WaitUntil([&] {
    std::ifstream in(pids);
    started.clear();
    for (int pid; in >> pid;) started.push_back(pid);
    return started.size() >= 2;
  });
  ASSERT_EQ(started.size(), 2u) << "the mapper never started";
  cluster.worker(0)->Signal(SIGKILL);
  for (int pid : started) {
    bool gone = WaitUntil([pid] { return !Alive(pid); }, absl::Seconds(20));
    EXPECT_TRUE(gone) << "pid " << pid << " outlived its killed worker";
    if (!gone) ::kill(pid, SIGKILL);  // not left behind even so
  }
  RunCommand({BinPath("ampmr"), "cancel", "--master", cluster.address(), job}, absl::Seconds(10));
}

TEST(FaultsTest, CancelMidJobLeavesNoSpillOrTemporaryFile) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 8, 4 << 20);
  TestCluster cluster(tmp.path(), 2);
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  std::string output = tmp.path() + "/out";
  // Maps 2 and up wait for a gate never opened: the cancel always comes mid-job.
  std::string job =
      Submit(GatedWordCount(cluster.address(), input, output, tmp.path() + "/gate", 2));
  ASSERT_TRUE(WaitForProgress(cluster.address(), job,
                              [](const JobProgress& p) { return p.maps_done >= 2; }));
  CommandResult cancel = RunCommand(
      {BinPath("ampmr"), "cancel", "--master", cluster.address(), job}, absl::Seconds(10));
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_THAT(cancel.out, HasSubstr("CANCELLED"));
  EXPECT_EQ(GetProgress(cluster.address(), job).state, "CANCELLED");
  EXPECT_THAT(FilesUnder(output), ::testing::IsEmpty());
  EXPECT_FALSE(StagingLeft(output));
  // Workers delete the job's map outputs and stop its attempts.
  std::vector<std::string> left;
  WaitUntil(
      [&] {
        left = FilesUnder(tmp.path() + "/w0");
        std::vector<std::string> w1 = FilesUnder(tmp.path() + "/w1");
        left.insert(left.end(), w1.begin(), w1.end());
        return left.empty();
      },
      absl::Seconds(20));
  EXPECT_THAT(left, ::testing::IsEmpty());
}

TEST(FaultsTest, SigtermDrainsAWorkerAndTheJobIsExact) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 8, 4 << 20);
  TestCluster cluster(tmp.path(), 2);
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  std::string output = tmp.path() + "/out";
  // Maps 2 and up wait for the gate, so the worker is mid-map when told to go.
  const std::string gate = tmp.path() + "/gate";
  std::string job = Submit(GatedWordCount(cluster.address(), input, output, gate, 2));
  ASSERT_TRUE(WaitForProgress(cluster.address(), job,
                              [](const JobProgress& p) { return p.maps_done >= 2; }));
  cluster.worker(0)->Signal(SIGTERM);
  WriteFile(gate, "");  // its running attempts may finish now
  EXPECT_EQ(cluster.worker(0)->Wait(absl::Seconds(40)), 0);
  ASSERT_TRUE(Wait(cluster.address(), job));
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(input));
}

TEST(FaultsTest, InterruptedRunCancelsAndLeavesNothingBehind) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  MakeCorpus(input, 8, 4 << 20);
  std::string run_tmp = tmp.path() + "/runtmp";
  fs::create_directories(run_tmp);
  std::string output = tmp.path() + "/out";
  auto run = Daemon::Start(
      {BinPath("ampmr"), "run", "--workers", "2", "--input", input, "--output", output, "--mapper",
       "builtin:wordcount", "--reducer", "builtin:sum", "--split-size", "512K"},
      tmp.path() + "/run.log", {{"TMPDIR", run_tmp}});
  // Interrupt once some map output exists on a worker.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& f : FilesUnder(run_tmp)) {
          if (absl::EndsWith(f, ".out")) return true;
        }
        return false;
      },
      absl::Seconds(60)));
  run->Signal(SIGINT);
  EXPECT_EQ(run->Wait(absl::Seconds(30)), 130);
  EXPECT_THAT(FilesUnder(run_tmp), ::testing::IsEmpty());
  EXPECT_THAT(ProcessesMentioning(run_tmp), ::testing::IsEmpty());
  EXPECT_FALSE(fs::exists(output + "/_SUCCESS"));
  EXPECT_FALSE(StagingLeft(output));
}

// supervisord running deploy/supervisor/ampmr-node.conf with 2 workers, in
// `state`. Whatever it started is killed when this goes away.
class Supervised {
 public:
  Supervised(const std::string& dir, const std::string& state)
      : state_(state),
        address_(absl::StrCat("127.0.0.1:", FreePort())),
        conf_(SourceDir() + "/deploy/supervisor/ampmr-node.conf") {
    fs::create_directories(state);
    env_ = {{"AMPMR_BIN_DIR", BinPath("")},
            {"AMPMR_STATE_DIR", state},
            {"AMPMR_LISTEN", address_},
            {"AMPMR_HTTP", absl::StrCat("127.0.0.1:", FreePort())},
            {"AMPMR_WORKERS", "2"}};
    supervisord_ =
        Daemon::Start({"/usr/bin/supervisord", "-n", "-c", conf_}, dir + "/sd.log", env_);
  }
  ~Supervised() {
    ctl({"shutdown"});
    supervisord_->Wait(absl::Seconds(60));
    supervisord_.reset();
    // supervisord's children have process groups of their own.
    for (const auto& p : ProcessesMentioning(state_)) kill(std::stoi(p), SIGKILL);
  }
  CommandResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/supervisorctl", "-c", conf_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, absl::Seconds(30), env_);
  }
  std::string Workers() {
    return RunCommand({BinPath("ampmr"), "workers", "--master", address_, "--json"},
                      absl::Seconds(10))
        .out;
  }
  // Waits until exactly 2 workers are listed, one of them `id` if not empty.
  bool WaitForWorkers(const std::string& id = "") {
    return WaitUntil([&] {
      std::string listed = Workers();
      return std::count(listed.begin(), listed.end(), '\n') == 2 &&
             (id.empty() || absl::StrContains(listed, "\"" + id + "\""));
    });
  }
  const std::string& address() const { return address_; }

 private:
  std::string state_;
  std::string address_;
  std::string conf_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Daemon> supervisord_;
};

// A gated word count on the supervised node, caught once some maps are done;
// OpenGate() lets it end.
struct SupervisedJob {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  std::string output = tmp.path() + "/out";
  std::string gate = tmp.path() + "/gate";
  Supervised sv{tmp.path(), tmp.path() + "/state"};
  std::string job;
  // Waits for the node's workers, submits, and waits until 2 maps are done.
  bool Started() {
    MakeCorpus(input, 8, 4 << 20);
    if (!sv.WaitForWorkers()) return false;
    job = Submit(GatedWordCount(sv.address(), input, output, gate, 2));
    return WaitForProgress(sv.address(), job,
                           [](const JobProgress& p) { return p.maps_done >= 2; });
  }
  void OpenGate() { WriteFile(gate, ""); }
};

TEST(FaultsTest, SupervisordReplacesAKilledWorkerAndTheJobIsExact) {
  SupervisedJob t;
  ASSERT_TRUE(t.Started());
  Supervised& sv = t.sv;
  const std::string &input = t.input, &output = t.output, &job = t.job;
  CommandResult pid = sv.ctl({"pid", "ampmr-worker:ampmr-worker-00"});
  int worker_pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(pid.out), &worker_pid)) << pid.out;
  ASSERT_EQ(kill(worker_pid, SIGKILL), 0);
  t.OpenGate();
  ASSERT_TRUE(Wait(sv.address(), job));
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(input));
  // supervisord started a replacement, which joined as a new worker.
  EXPECT_TRUE(sv.WaitForWorkers("w3")) << sv.Workers();
}

TEST(FaultsTest, MasterRestartedBySupervisorctlMidJobAndTheJobIsExact) {
  SupervisedJob t;
  ASSERT_TRUE(t.Started());
  Supervised& sv = t.sv;
  const std::string &input = t.input, &output = t.output, &job = t.job;
  CommandResult restarted = sv.ctl({"restart", "ampmr-master"});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out << restarted.err;
  t.OpenGate();
  // The restarted master resumes the journaled job; no resubmission.
  ASSERT_TRUE(Wait(sv.address(), job));
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(input));
  EXPECT_TRUE(fs::exists(output + "/_SUCCESS"));
}

}  // namespace
}  // namespace ampmr::testing
