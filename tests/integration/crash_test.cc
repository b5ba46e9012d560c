// The crash test of the fault-tolerance issue: a streaming word count whose
// mappers and reducers exit non-zero a third of the time (after writing part
// of their output) and stall up to 10 s another third, on 3 workers, while
// every few seconds a worker process is SIGKILLed and a fresh one started
// (while the job maps and again while it reduces; see kMinPause). The
// committed output must equal, byte for byte, that of the same job run
// without crashes.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;

// Word count as a Hadoop Streaming task: `sh crashy.sh map|reduce`. A word is
// a maximal run of ASCII letters, as for builtin:wordcount.
//
// With CRASH set, each attempt draws from /dev/urandom: a third of the attempts
// exit 1 at a random input line (having written the output of the lines
// before it, which must be thrown away), a third stall for 0-10 s at a random
// input line (or at the end of a shorter input), and a third run normally.
// Without CRASH the same script is the clean reference.
constexpr char kCrashyTask[] = R"(
export LC_ALL=C
mode=0 ms=0 at=0
if [ -n "$CRASH" ]; then
  r=$(od -An -N4 -tu4 /dev/urandom | tr -dc 0-9)
  mode=$((r % 3 + 1))          # 1: fail, 2: stall, 3: normal
  ms=$((r / 3 % 10001))        # the stall, in milliseconds
  at=$((r / 30003 % 3000 + 1)) # the input line where it happens
fi
if [ "$1" = map ]; then
  body='{ n = split($0, w, /[^A-Za-z]+/)
          for (i = 1; i <= n; i++) if (w[i] != "") print w[i] "\t1" }'
else
  body='$1 != key { if (NR > 1) print key "\t" sum; key = $1; sum = 0 }
        { sum += $2 }'
  last='if (NR > 0) print key "\t" sum'
fi
exec awk -F '\t' -v mode="$mode" -v ms="$ms" -v at="$at" "
  function stall() { fflush(); system(\"sleep \" ms / 1000); stalled = 1 }
  NR == at && mode == 1 { failed = 1; exit 1 }
  NR == at && mode == 2 { stall() }
  $body
  END { if (failed || mode == 1) exit 1
        if (mode == 2 && !stalled) stall()
        $last }"
)";

// An attempt fails with p = 1/3 (a stall is not a failure, nor is an attempt
// lost with its worker), and a task fails the job after 20 failed attempts,
// counted over all its runs (a map runs again each time its output is lost
// with its worker, here 2-3 times). Even a task that must succeed 4 times
// fails 20 times first with probability ~ C(23,3) (2/3)^4 (1/3)^20 = 1e-7.
constexpr int kMaxAttempts = 20;

// The chaos. Every kMinPause-kMaxPause a random worker is SIGKILLed and a
// fresh one started, up to kMapPhaseKills times while the job maps, then
// kReducePhaseKills times once it reduces; then the job is left to finish.
// Chaos without end would never let it: every kill loses the map outputs its
// worker held (a third of them), and before the next kill these must all be
// made again and every reduce run, which with stalls of up to 10 s takes
// longer than the pace.
constexpr absl::Duration kMinPause = absl::Seconds(2);
constexpr absl::Duration kMaxPause = absl::Seconds(3);
constexpr int kMapPhaseKills = 5;
constexpr int kReducePhaseKills = 2;
// How often the state is looked at while waiting for the reduce phase.
constexpr absl::Duration kPoll = absl::Milliseconds(300);

// Deadlines against a hang, far beyond the usual: the crash job takes 25-55 s
// (chains of failures and 10 s stalls make its tail long).
constexpr absl::Duration kCleanJobTimeout = absl::Seconds(30);
constexpr absl::Duration kCrashJobTimeout = absl::Seconds(150);

// Every entry of a job's output directory, name -> contents.
std::map<std::string, std::string> OutputFiles(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    files[e.path().filename().string()] = e.is_regular_file() ? ReadFile(e.path()) : "<dir>";
  }
  return files;
}

std::vector<std::string> Names(const std::map<std::string, std::string>& files) {
  std::vector<std::string> names;
  for (const auto& [name, contents] : files) names.push_back(name);
  return names;
}

// Where two files first differ, for a failure message short enough to read.
std::string FirstDifference(const std::string& a, const std::string& b) {
  size_t at = std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin();
  size_t line = a.rfind('\n', at == 0 ? 0 : at - 1);
  line = line == std::string::npos ? 0 : line + 1;
  return absl::StrCat("sizes ", a.size(), " and ", b.size(), "; first difference at byte ", at,
                      ", lines \"", a.substr(line, a.find('\n', line) - line), "\" and \"",
                      b.substr(line, b.find('\n', line) - line), "\"");
}

// The last `n` lines of `text`.
std::string Tail(const std::string& text, int n) {
  size_t at = text.size();
  while (n-- > 0 && at != std::string::npos && at > 0) at = text.rfind('\n', at - 1);
  return at == std::string::npos ? text : text.substr(at);
}

// The lines of `text` that contain every one of `needles`.
int CountLines(const std::string& text, const std::vector<std::string>& needles) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    bool all = true;
    for (const auto& needle : needles) all = all && absl::StrContains(line, needle);
    n += all;
  }
  return n;
}

// Makes this process the parent of orphaned descendants for its lifetime, and
// at destruction kills and reaps whatever is left of them. A SIGKILLed
// worker's reaper kills its task process groups (worker/task/group_reaper.h);
// this makes sure nothing outlives the test even if that failed. Destroy it
// after the cluster, whose daemons are children too.
class OrphanReaper {
 public:
  OrphanReaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~OrphanReaper() {
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    for (std::vector<pid_t> left = ChildrenOf(getpid()); !left.empty() && absl::Now() < deadline;
         left = ChildrenOf(getpid())) {
      for (pid_t pid : left) {
        pid_t group = getpgid(pid);
        if (group > 0 && group != getpgrp()) kill(-group, SIGKILL);
        kill(pid, SIGKILL);
      }
      waitpid(-1, nullptr, 0);
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {  // zombies ChildrenOf leaves out
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
};

// `ampmr submit --wait` of the word count, with `extra` flags.
std::vector<std::string> SubmitWait(const std::string& master, const std::string& script,
                                    const std::string& input, const std::string& output,
                                    const std::vector<std::string>& extra = {}) {
  std::string task = "exec:/bin/sh " + script;
  std::vector<std::string> argv = {BinPath("ampmr"), "submit", "--master", master, "--wait"};
  argv.insert(argv.end(), {"--input", input, "--output", output, "--reduces", "3"});
  argv.insert(argv.end(), {"--mapper", task + " map", "--reducer", task + " reduce"});
  argv.insert(argv.end(), {"--split-size", "256K", "--max-attempts", absl::StrCat(kMaxAttempts)});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Keeps 3 workers of `cluster` alive and kills them as the comment on
// kMinPause says while `submit` (an `ampmr submit --wait` of `job`) runs.
class Chaos {
 public:
  Chaos(TestCluster* cluster, std::string job) : cluster_(cluster), job_(std::move(job)) {
    unsigned seed = std::random_device()();
    rng_.seed(seed);
    std::cout << "chaos seed " << seed << std::endl;
  }

  // Returns `submit`'s exit code, or -1 if it did not end by `deadline`.
  int Run(Daemon* submit, absl::Time deadline) {
    std::uniform_int_distribution<int64_t> pause_ms(absl::ToInt64Milliseconds(kMinPause),
                                                    absl::ToInt64Milliseconds(kMaxPause));
    absl::Duration pause = absl::Milliseconds(pause_ms(rng_));
    while (absl::Now() < deadline) {
      int exit_code = submit->Wait(std::min(pause, deadline - absl::Now()));
      if (exit_code != -1) return exit_code;
      if (reduce_kills_ == kReducePhaseKills) break;
      std::string state = GetProgress(cluster_->address(), job_).state;
      if ((state == "MAPPING" && map_kills_ < kMapPhaseKills) || state == "REDUCING") {
        ++(state == "MAPPING" ? map_kills_ : reduce_kills_);
        KillOne(state);
        pause = absl::Milliseconds(pause_ms(rng_));
      } else {
        pause = kPoll;  // waiting for the reduce phase
      }
    }
    return submit->Wait(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  }

  // Kills while the job mapped, while it reduced, and of all these, kills
  // after which the job still ran (so it surely lost that worker).
  int map_kills() const { return map_kills_; }
  int reduce_kills() const { return reduce_kills_; }
  int kills_under_running_job() const { return kills_under_running_job_; }

 private:
  void KillOne(const std::string& before) {
    size_t victim = std::uniform_int_distribution<size_t>(0, live_.size() - 1)(rng_);
    Daemon* worker = cluster_->worker(live_[victim]);
    worker->Signal(SIGKILL);
    worker->Wait(absl::Seconds(10));
    live_[victim] = cluster_->AddWorker();
    std::string after = GetProgress(cluster_->address(), job_).state;
    kills_under_running_job_ += after == "MAPPING" || after == "REDUCING";
    std::cout << "killed worker pid " << worker->pid() << " (job " << before << " -> " << after
              << "), started worker #" << live_[victim] << std::endl;
  }

  TestCluster* cluster_;
  const std::string job_;
  std::mt19937 rng_;
  std::vector<int> live_ = {0, 1, 2};  // indices of cluster_->worker()
  int map_kills_ = 0;
  int reduce_kills_ = 0;
  int kills_under_running_job_ = 0;
};

TEST(CrashTest, FlakyTasksAndKilledWorkersGiveTheOutputOfACleanRun) {
  ScratchDir tmp;
  OrphanReaper reaper;
  std::string input = tmp.path() + "/in";
  // One file of about 3 MiB (the corpus, repeated if small): 12-13 map tasks.
  MakeCorpus(input, 1, 3 << 20);
  std::string script = tmp.path() + "/crashy.sh";
  WriteFile(script, kCrashyTask);
  TestCluster cluster(tmp.path(), 3);
  ASSERT_TRUE(cluster.WaitForWorkers(3));

  // The reference: the same job, nothing crashing.
  std::string clean_out = tmp.path() + "/clean";
  CommandResult clean =
      RunCommand(SubmitWait(cluster.address(), script, input, clean_out), kCleanJobTimeout);
  ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  std::map<std::string, std::string> expected = OutputFiles(clean_out);
  ASSERT_EQ(ReadCounts(clean_out), SequentialWordCount(input));

  std::string crash_out = tmp.path() + "/crash";
  absl::Time start = absl::Now();
  auto submit =
      Daemon::Start(SubmitWait(cluster.address(), script, input, crash_out, {"--env", "CRASH=1"}),
                    tmp.path() + "/submit.log");
  std::string job = submit->ReadLine(absl::Seconds(30));
  ASSERT_FALSE(job.empty()) << ReadFile(tmp.path() + "/submit.log");
  Chaos chaos(&cluster, job);
  int exit_code = chaos.Run(submit.get(), start + kCrashJobTimeout);
  std::cout << "crash run took " << absl::FormatDuration(absl::Now() - start) << std::endl;
  std::string report;
  for (std::string line; !(line = submit->ReadLine(absl::Seconds(1))).empty();) {
    report += line + "\n";
  }
  ASSERT_EQ(exit_code, 0) << report << ReadFile(tmp.path() + "/submit.log") << "master log:\n"
                          << Tail(ReadFile(tmp.path() + "/master.log"), 60);
  EXPECT_EQ(GetProgress(cluster.address(), job).state, "SUCCEEDED");
  std::map<std::string, std::string> got = OutputFiles(crash_out);
  ASSERT_EQ(Names(got), Names(expected));
  for (const auto& [name, contents] : expected) {
    EXPECT_TRUE(got[name] == contents) << name << ": " << FirstDifference(got[name], contents);
  }

  // The chaos happened: workers died under the running job, and attempts
  // failed by exiting non-zero, and only those were charged to their tasks.
  EXPECT_GE(chaos.kills_under_running_job(), 1);
  std::string log = ReadFile(tmp.path() + "/master.log");
  std::string of_job = "job=" + job + " ";
  int failed = CountLines(log, {"attempt failed " + of_job});
  EXPECT_GE(failed, 1);
  EXPECT_EQ(CountLines(log, {"attempt failed " + of_job, "exited with status 1"}), failed)
      << Tail(log, 60);
  std::cout << chaos.map_kills() << " kills while mapping, " << chaos.reduce_kills()
            << " while reducing; " << failed << " attempts failed, "
            << CountLines(log, {"task reassigned " + of_job}) << " reassigned, "
            << CountLines(log, {"map output lost " + of_job}) << " map outputs lost, "
            << CountLines(log, {"backup attempt for straggler " + of_job}) << " backups"
            << std::endl;
}

}  // namespace
}  // namespace ampmr::testing
