// End-to-end: exec (Hadoop Streaming) and plugin tasks on real clusters of the
// real binaries on loopback, with real Python scripts (examples/streaming and
// small ones written by the tests) and real plugins (examples/plugin, and
// tests/worker/plugins).
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr absl::Duration kJobTimeout = absl::Seconds(120);

std::string Example(const std::string& name) { return SourceDir() + "/examples/streaming/" + name; }

// exec: spec running a Python script.
std::string PythonTask(const std::string& script) { return "exec:" + Python() + " " + script; }

// Writes a Python script into `dir` and returns its exec: spec.
std::string PythonScript(const ScratchDir& dir, const std::string& name, const std::string& body) {
  std::string path = dir.path() + "/" + name;
  WriteFile(path, body);
  return PythonTask(path);
}

std::string LibPath(const std::string& name) { return BinPath("../lib/" + name); }

// `ampmr run` with these flags, its temporary cluster under `tmp`.
CommandResult AmpmrRun(const ScratchDir& tmp, const std::vector<std::string>& flags) {
  return RunCommand(Concat({BinPath("ampmr"), "run"}, flags), kJobTimeout,
                    {{"TMPDIR", tmp.path()}});
}

// The "counters:" section of a job report.
std::map<std::string, long long> ReportedCounters(const std::string& report) {
  std::map<std::string, long long> counters;
  bool in = false;
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    if (line == "counters:") {
      in = true;
      continue;
    }
    if (!in || !absl::StartsWith(line, "  ")) continue;
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    long long v;
    if (f.size() == 2 && absl::SimpleAtoi(f[1], &v)) counters[f[0]] = v;
  }
  return counters;
}

// Every line of every part file, sorted.
std::vector<std::string> PartLines(const std::string& output) {
  std::vector<std::string> lines;
  for (const auto& e : fs::directory_iterator(output)) {
    if (!absl::StartsWith(e.path().filename().string(), "part-")) continue;
    for (absl::string_view l : absl::StrSplit(ReadFile(e.path()), '\n', absl::SkipEmpty())) {
      lines.emplace_back(l);
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

std::vector<std::string> SortedLines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  std::sort(lines.begin(), lines.end());
  return lines;
}

long long Total(const std::map<std::string, long long>& counts) {
  long long n = 0;
  for (const auto& [k, v] : counts) n += v;
  return n;
}

// Input files of a corpus directory, as the planner picks them.
std::vector<fs::path> CorpusFiles(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() && name[0] != '.' && name[0] != '_') files.push_back(e.path());
  }
  return files;
}

// word -> the sorted names of the files it occurs in, joined by ",".
std::map<std::string, std::string> SequentialInvertedIndex(const std::string& dir) {
  std::map<std::string, std::set<std::string>> files;
  for (const fs::path& path : CorpusFiles(dir)) {
    std::string text = ReadFile(path);
    std::string word;
    for (size_t i = 0; i <= text.size(); ++i) {
      char c = i < text.size() ? text[i] : ' ';
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        word.push_back(c);
      } else if (!word.empty()) {
        files[word].insert(path.filename().string());
        word.clear();
      }
    }
  }
  std::map<std::string, std::string> index;
  for (const auto& [w, f] : files) index[w] = absl::StrJoin(f, ",");
  return index;
}

// A master and workers started separately, as on a real cluster.
class Cluster {
 public:
  Cluster(const std::string& dir, int workers) {
    master_ = Daemon::Start(
        {BinPath("ampmr-master"), "--listen", "127.0.0.1:0", "--data-dir", dir + "/master"},
        dir + "/master.log");
    std::string line = master_->ReadLine(absl::Seconds(20));
    EXPECT_THAT(line, HasSubstr("ampmr-master listening on "));
    address_ = std::string(absl::StripPrefix(line, "ampmr-master listening on "));
    for (int i = 0; i < workers; ++i) {
      workers_.push_back(Daemon::Start({BinPath("ampmr-worker"), "--master", address_, "--work-dir",
                                        dir + "/w" + std::to_string(i)},
                                       dir + "/worker" + std::to_string(i) + ".log"));
    }
  }

  // Waits until `n` workers are registered.
  bool WaitForWorkers(int n) {
    return WaitUntil([&] {
      CommandResult r = RunCommand({BinPath("ampmr"), "workers", "--master", address_, "--json"},
                                   absl::Seconds(10));
      std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipWhitespace());
      return r.exit_code == 0 && static_cast<int>(lines.size()) >= n;
    });
  }

  const std::string& address() const { return address_; }

  CommandResult SubmitWait(const std::vector<std::string>& flags) {
    return RunCommand(Concat({BinPath("ampmr"), "submit", "--master", address_, "--wait"}, flags),
                      kJobTimeout);
  }

 private:
  std::unique_ptr<Daemon> master_;
  std::vector<std::unique_ptr<Daemon>> workers_;
  std::string address_;
};

TEST(StreamingTest, PythonWordCountAndInvertedIndexOnThreeWorkers) {
  ScratchDir tmp;
  Cluster cluster(tmp.path(), 3);
  ASSERT_TRUE(cluster.WaitForWorkers(3));
  const std::string corpus = CorpusDir();

  std::string out = tmp.path() + "/wordcount";
  CommandResult r = cluster.SubmitWait({"--input", corpus, "--output", out, "--mapper",
                                        PythonTask(Example("wordcount_mapper.py")), "--reducer",
                                        PythonTask(Example("wordcount_reducer.py")), "--reduces",
                                        "3", "--split-size", "512K"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out + "/_SUCCESS"));
  std::map<std::string, long long> expected = SequentialWordCount(corpus);
  EXPECT_EQ(ReadCounts(out), expected);
  std::map<std::string, long long> counters = ReportedCounters(r.out);
  EXPECT_EQ(counters["wordcount.words"], Total(expected));
  EXPECT_EQ(counters["wordcount.lines"], counters["ampmr.map_input_records"]);
  EXPECT_GT(counters["wordcount.lines"], 0);

  out = tmp.path() + "/index";
  r = cluster.SubmitWait({"--input", corpus, "--output", out, "--mapper",
                          PythonTask(Example("inverted_index_mapper.py")), "--reducer",
                          PythonTask(Example("inverted_index_reducer.py")), "--reduces", "3",
                          "--split-size", "256K"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> index;
  for (const std::string& line : PartLines(out)) {
    std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits('\t', 1));
    ASSERT_EQ(kv.size(), 2u) << line;
    EXPECT_EQ(index.count(kv[0]), 0u) << "word twice: " << kv[0];
    index[kv[0]] = kv[1];
  }
  EXPECT_EQ(index, SequentialInvertedIndex(corpus));
}

// Each task records when it started and ended, and waits (up to 30 s) until
// the other task of its kind has started: with two one-slot workers the two
// maps, and the two reduces, must be running at the same time.
constexpr char kTimedTask[] = R"(
import os, sys, time
d, kind = os.environ["TIMES_DIR"], sys.argv[1]
me = os.environ["mapreduce_task_attempt_id"]
started = repr(time.time())  # before the file exists, for the other task to see
open(f"{d}/{kind}.{me}.start", "w").write(started)
deadline = time.time() + 30
while (sum(1 for f in os.listdir(d) if f.startswith(kind + ".") and f.endswith(".start")) < 2
       and time.time() < deadline):
    time.sleep(0.01)
out = open(1, "wb", closefd=False)
for line in sys.stdin.buffer:
    out.write(line)
out.flush()
open(f"{d}/{kind}.{me}.end", "w").write(repr(time.time()))
)";

// [start, end] of each task of `kind` recorded in `dir`.
std::vector<std::pair<double, double>> Intervals(const std::string& dir, const std::string& kind) {
  std::map<std::string, std::pair<double, double>> by_attempt;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::vector<std::string> parts = absl::StrSplit(e.path().filename().string(), '.');
    if (parts.size() != 3 || parts[0] != kind) continue;
    double t = 0;
    EXPECT_TRUE(absl::SimpleAtod(ReadFile(e.path()), &t));
    (parts[2] == "start" ? by_attempt[parts[1]].first : by_attempt[parts[1]].second) = t;
  }
  std::vector<std::pair<double, double>> out;
  for (const auto& [attempt, interval] : by_attempt) out.push_back(interval);
  return out;
}

TEST(StreamingTest, TwoMapsAndTwoReducesRunAtTheSameTime) {
  ScratchDir tmp;
  std::string times = tmp.path() + "/times";
  fs::create_directories(times);
  WriteFile(tmp.path() + "/a.txt", "a\t1\nb\t2\nc\t3\n");
  WriteFile(tmp.path() + "/b.txt", "d\t4\ne\t5\nf\t6\n");
  std::string script = tmp.path() + "/timed.py";
  WriteFile(script, kTimedTask);
  CommandResult r = AmpmrRun(
      tmp, {"--workers", "2", "--input", tmp.path() + "/a.txt", "--input", tmp.path() + "/b.txt",
            "--output", tmp.path() + "/out", "--mapper", PythonTask(script) + " map", "--reducer",
            PythonTask(script) + " reduce", "--reduces", "2", "--env", "TIMES_DIR=" + times});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(PartLines(tmp.path() + "/out"),
              ::testing::ElementsAre("a\t1", "b\t2", "c\t3", "d\t4", "e\t5", "f\t6"));
  for (const char* kind : {"map", "reduce"}) {
    SCOPED_TRACE(kind);
    std::vector<std::pair<double, double>> runs = Intervals(times, kind);
    ASSERT_THAT(runs, SizeIs(2));
    // They overlap: each started before the other ended.
    EXPECT_LT(runs[0].first, runs[1].second);
    EXPECT_LT(runs[1].first, runs[0].second);
  }
}

TEST(StreamingTest, EachWholeFileIsMappedExactlyOnce) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  std::string runs = tmp.path() + "/runs";
  fs::create_directories(input);
  fs::create_directories(runs);
  std::string all;
  for (int f = 0; f < 8; ++f) {
    std::string text;
    for (int l = 0; l < 50; ++l) absl::StrAppend(&text, "file", f, "\tline", l, "\n");
    WriteFile(input + "/f" + std::to_string(f) + ".txt", text);
    all += text;
  }
  std::string mapper = PythonScript(tmp, "counted.py", R"(
import os, sys
open(os.path.join(os.environ["RUNS_DIR"],
                  os.environ["mapreduce_task_attempt_id"] + "." + str(os.getpid())), "w").close()
out = open(1, "wb", closefd=False)
out.write(sys.stdin.buffer.read())
out.flush()
)");
  CommandResult r = AmpmrRun(
      tmp, {"--workers", "2", "--input", input, "--output", tmp.path() + "/out", "--mapper", mapper,
            "--reducer", "exec:cat", "--reduces", "2", "--env", "RUNS_DIR=" + runs});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> tasks;
  int count = 0;
  for (const auto& e : fs::directory_iterator(runs)) {
    ++count;
    std::vector<std::string> id = absl::StrSplit(e.path().filename().string(), '-');
    ASSERT_THAT(id, SizeIs(3)) << e.path();
    tasks.insert(id[1]);
  }
  EXPECT_EQ(count, 8);
  EXPECT_THAT(tasks, ::testing::ElementsAre("m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"));
  EXPECT_EQ(PartLines(tmp.path() + "/out"), SortedLines(all));
}

// Reducer for partition 1 whose first attempt is a straggler that also
// ignores SIGTERM: the master starts a backup attempt, which wins, and the
// straggler is killed. Every reducer records its pid.
constexpr char kStragglerReducer[] = R"(
import os, signal, sys, time
attempt = os.environ["mapreduce_task_attempt_id"]
open(os.path.join(os.environ["PIDS_DIR"], attempt), "w").write(str(os.getpid()))
if os.environ["mapreduce_task_partition"] == "1" and attempt.endswith("-a1"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)
out = open(1, "wb", closefd=False)
current, total = None, 0
for line in sys.stdin.buffer:
    word, _, n = line.rstrip(b"\n").partition(b"\t")
    if word != current:
        if current is not None:
            out.write(b"%s\t%d\n" % (current, total))
        current, total = word, 0
    total += int(n)
if current is not None:
    out.write(b"%s\t%d\n" % (current, total))
out.flush()
)";

std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    files[e.path().string()] = e.is_regular_file() ? ReadFile(e.path()) : "<dir>";
  }
  return files;
}

TEST(StreamingTest, OutputIsFinalWhenSubmitWaitReturnsEvenWithAStraggler) {
  ScratchDir tmp;
  Cluster cluster(tmp.path(), 2);
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  std::string pids = tmp.path() + "/pids";
  fs::create_directories(pids);
  std::string out = tmp.path() + "/out";
  CommandResult r = cluster.SubmitWait(
      {"--input", CorpusDir(), "--output", out, "--mapper", "builtin:wordcount", "--combiner",
       "builtin:sum", "--reducer", PythonScript(tmp, "straggler.py", kStragglerReducer),
       "--reduces", "2", "--env", "PIDS_DIR=" + pids});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> before = Snapshot(out);
  EXPECT_EQ(before.count(out + "/_SUCCESS"), 1u);
  EXPECT_EQ(before.count(out + "/part-00000"), 1u);
  EXPECT_EQ(before.count(out + "/part-00001"), 1u);
  EXPECT_FALSE(StagingLeft(out));
  EXPECT_EQ(ReadCounts(out), SequentialWordCount(CorpusDir()));

  // Every reducer ever started, the straggler included, ends; after that the
  // output is still exactly what it was.
  std::vector<std::string> attempts;
  for (const auto& e : fs::directory_iterator(pids)) {
    attempts.push_back(e.path().filename().string());
    int pid = 0;
    ASSERT_TRUE(absl::SimpleAtoi(ReadFile(e.path()), &pid)) << e.path();
    EXPECT_TRUE(WaitUntil([pid] { return !Alive(pid); }, absl::Seconds(20))) << e.path().filename();
  }
  std::sort(attempts.begin(), attempts.end());
  EXPECT_THAT(attempts, ::testing::Contains(::testing::EndsWith("-r1-a1")));
  EXPECT_THAT(attempts, ::testing::Contains(::testing::EndsWith("-r1-a2")));
  EXPECT_EQ(Snapshot(out), before);
}

TEST(StreamingTest, PluginWordCountEqualsBuiltinWordCount) {
  ScratchDir tmp;
  std::string plugin = "plugin:" + LibPath("wordcount_plugin.so");
  CommandResult p = AmpmrRun(tmp, {"--workers", "2", "--input", CorpusDir(), "--output",
                                   tmp.path() + "/plugin", "--mapper", plugin, "--combiner", plugin,
                                   "--reducer", plugin, "--reduces", "3", "--split-size", "512K"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  CommandResult b =
      AmpmrRun(tmp, {"--workers", "2", "--input", CorpusDir(), "--output", tmp.path() + "/builtin",
                     "--mapper", "builtin:wordcount", "--combiner", "builtin:sum", "--reducer",
                     "builtin:sum", "--reduces", "3", "--split-size", "512K"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  std::map<std::string, long long> counts = ReadCounts(tmp.path() + "/plugin");
  EXPECT_EQ(counts, ReadCounts(tmp.path() + "/builtin"));
  EXPECT_EQ(counts, SequentialWordCount(CorpusDir()));
  std::map<std::string, long long> counters = ReportedCounters(p.out);
  EXPECT_EQ(counters["wordcount.words"], Total(counts));
  EXPECT_EQ(counters["wordcount.lines"], counters["ampmr.map_input_records"]);
}

TEST(StreamingTest, PluginOfAnotherInterfaceVersionIsRefused) {
  ScratchDir tmp;
  WriteFile(tmp.path() + "/in.txt", "a line\n");
  std::string path = LibPath("ampmr_test_wrong_version_plugin.so");
  CommandResult r =
      AmpmrRun(tmp, {"--workers", "1", "--input", tmp.path() + "/in.txt", "--output",
                     tmp.path() + "/out", "--mapper", "plugin:" + path, "--max-attempts", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(
      r.err, AllOf(HasSubstr("plugin " + path), HasSubstr("built for plugin interface version 999"),
                   HasSubstr("this worker speaks version 1")));
  EXPECT_FALSE(fs::exists(tmp.path() + "/out/_SUCCESS"));
}

TEST(StreamingTest, FailingMapperFailsTheJobWithItsStderr) {
  ScratchDir tmp;
  WriteFile(tmp.path() + "/in.txt", "1\n2\n42\n3\n");
  std::string mapper = PythonScript(tmp, "fails.py", R"(
import sys
for line in sys.stdin:
    if line.strip() == "42":
        raise ValueError("bad record 42")
    print(line.strip() + "\t1")
)");
  CommandResult r = AmpmrRun(tmp, {"--workers", "2", "--input", tmp.path() + "/in.txt", "--output",
                                   tmp.path() + "/out", "--mapper", mapper, "--max-attempts", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, AllOf(HasSubstr("task m0"), HasSubstr("failed after 2 attempts"),
                           HasSubstr("fails.py"), HasSubstr("exited with status 1"),
                           HasSubstr("ValueError: bad record 42")));
  EXPECT_FALSE(fs::exists(tmp.path() + "/out/_SUCCESS"));
}

TEST(StreamingTest, CrashingMapperFailsTheJobNamingTheSignal) {
  ScratchDir tmp;
  WriteFile(tmp.path() + "/in.txt", "x\n");
  CommandResult r = AmpmrRun(
      tmp, {"--workers", "1", "--input", tmp.path() + "/in.txt", "--output", tmp.path() + "/out",
            "--mapper", "exec:echo going down >&2; kill -SEGV $$", "--max-attempts", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, AllOf(HasSubstr("killed by signal 11 (SIGSEGV)"),
                           HasSubstr("stderr: going down"), HasSubstr("kill -SEGV")));
}

// --task-timeout is about progress, not running time (Hadoop's
// mapreduce.task.timeout): a mapper that reports status keeps going past it,
// one that goes quiet is killed, and in-process code stuck in one call is
// given up by the worker's stall watch.
TEST(StreamingTest, TaskTimeoutStopsOnlyAttemptsThatMakeNoProgress) {
  ScratchDir tmp;
  WriteFile(tmp.path() + "/in.txt", "a\nb\n");
  auto run = [&](const std::string& mapper, const std::string& out) {
    return AmpmrRun(tmp, {"--workers", "1", "--input", tmp.path() + "/in.txt", "--output",
                          tmp.path() + "/" + out, "--mapper", mapper, "--reducer", "none",
                          "--task-timeout", "0.6", "--max-attempts", "1"});
  };
  // 1.5 s of work, never 0.6 s without a status line.
  CommandResult slow =
      run("exec:for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do "
          "echo reporter:status:working >&2; sleep 0.1; done; cat",
          "slow");
  EXPECT_EQ(slow.exit_code, 0) << slow.err;
  EXPECT_EQ(PartLines(tmp.path() + "/slow"), (std::vector<std::string>{"a", "b"}));

  CommandResult quiet = run("exec:sleep 60", "quiet");
  EXPECT_EQ(quiet.exit_code, 1) << quiet.err;
  EXPECT_THAT(quiet.err, AllOf(HasSubstr("failed after 1 attempt"),
                               HasSubstr("no progress for --task-timeout 0.6s"),
                               HasSubstr("killed its process group")));
  EXPECT_FALSE(fs::exists(tmp.path() + "/quiet/_SUCCESS"));

  // The test plugin's mapper sleeps 9 s on this line, inside one call.
  WriteFile(tmp.path() + "/stuck.txt", "sleep-ms:9000\n");
  CommandResult stuck =
      AmpmrRun(tmp, {"--workers", "1", "--input", tmp.path() + "/stuck.txt", "--output",
                     tmp.path() + "/stuck", "--mapper", "plugin:" + LibPath("ampmr_test_plugin.so"),
                     "--reducer", "none", "--task-timeout", "0.6", "--max-attempts", "1"});
  EXPECT_EQ(stuck.exit_code, 1) << stuck.err;
  EXPECT_THAT(stuck.err, AllOf(HasSubstr("no progress for --task-timeout 0.6s"),
                               HasSubstr("is stuck in in-process code")));
  EXPECT_FALSE(fs::exists(tmp.path() + "/stuck/_SUCCESS"));
}

// What a running attempt last wrote as reporter:status shows in `ampmr
// status`, and goes when the attempt ends.
TEST(StreamingTest, StatusLinesShowInAmpmrStatusWhileTheAttemptRuns) {
  ScratchDir tmp;
  WriteFile(tmp.path() + "/in.txt", "x\n");
  Cluster cluster(tmp.path(), 1);
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  const std::string go = tmp.path() + "/go";
  CommandResult submitted = RunCommand(
      {BinPath("ampmr"), "submit", "--master", cluster.address(), "--input", tmp.path() + "/in.txt",
       "--output", tmp.path() + "/out", "--reducer", "none", "--mapper",
       "exec:echo reporter:status:waiting for go >&2; while [ ! -e " + go +
           " ]; do sleep 0.05; done; cat"},
      absl::Seconds(30));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = submitted.out.substr(0, submitted.out.find('\n'));
  auto status = [&] {
    return RunCommand({BinPath("ampmr"), "status", "--master", cluster.address(), job},
                      absl::Seconds(10))
        .out;
  };
  const std::string line = absl::StrCat("(", job, "-m0-a1): waiting for go\n");
  std::string shown;
  WaitUntil(
      [&] {
        shown = status();
        return absl::StrContains(shown, line);
      },
      absl::Seconds(20));
  EXPECT_THAT(shown, HasSubstr("status:\n  m0 on "));
  EXPECT_THAT(shown, HasSubstr(line));
  WriteFile(go, "");
  CommandResult wait =
      RunCommand({BinPath("ampmr"), "wait", "--master", cluster.address(), job}, kJobTimeout);
  EXPECT_EQ(wait.exit_code, 0) << wait.err;
  EXPECT_THAT(status(), Not(HasSubstr("status:\n")));
}

TEST(StreamingTest, HugeOutputBeforeReadingInputStreamsThrough) {
  // 50 MB of output, all written before the mapper reads a byte of input.
  ScratchDir tmp;
  std::string input;
  for (int i = 0; i < 100000; ++i) absl::StrAppend(&input, "input line ", i, "\n");
  WriteFile(tmp.path() + "/in.txt", input);
  std::string mapper = PythonScript(tmp, "huge.py", R"(
import sys
out = open(1, "wb", closefd=False)
pad = b"x" * 90
for i in range(500000):
    out.write(b"k%d\t%s\n" % (i % 1000, pad))
out.flush()
n = sum(1 for _ in sys.stdin.buffer)
out.write(b"lines\t%d\n" % n)
out.flush()
)");
  CommandResult r = AmpmrRun(
      tmp, {"--workers", "2", "--input", tmp.path() + "/in.txt", "--output", tmp.path() + "/out",
            "--mapper", mapper, "--reducer", "builtin:count", "--reduces", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, long long> counts = ReadCounts(tmp.path() + "/out");
  ASSERT_EQ(counts.size(), 1001u);
  EXPECT_EQ(counts["k0"], 500);
  EXPECT_EQ(counts["k999"], 500);
  EXPECT_EQ(ReportedCounters(r.out)["ampmr.map_output_records"], 500001);
  // The one "lines" pair says the mapper then read its whole input.
  EXPECT_EQ(counts["lines"], 1);
}

TEST(StreamingTest, ReducerThatReadsNothingStillSucceeds) {
  ScratchDir tmp;
  std::string input;
  for (int i = 0; i < 200000; ++i) absl::StrAppend(&input, "key", i, "\tvalue\n");
  WriteFile(tmp.path() + "/in.txt", input);
  CommandResult r =
      AmpmrRun(tmp, {"--workers", "2", "--input", tmp.path() + "/in.txt", "--output",
                     tmp.path() + "/out", "--mapper", "builtin:identity", "--reducer",
                     "exec:echo \"reduce $mapreduce_task_partition\"", "--reduces", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(tmp.path() + "/out/part-00000"), "reduce 0\n");
  EXPECT_EQ(ReadFile(tmp.path() + "/out/part-00001"), "reduce 1\n");
  EXPECT_EQ(ReportedCounters(r.out)["ampmr.reduce_input_records"], 200000);
}

TEST(StreamingTest, NonUtf8BytesPassThroughUntouched) {
  ScratchDir tmp;
  const std::string input =
      "caf\xe9\tlatin-1 \xe9t\xe9\n"
      "\xff\xfek\tbinary \x01\x7f\x80\n"
      "\xc3\x28 invalid utf-8\t\xa0\xa1\n"
      "plain\tascii\n"
      "no tab \xf0\x28\x8c\x28\n";
  WriteFile(tmp.path() + "/in.txt", input);
  CommandResult r = AmpmrRun(
      tmp, {"--workers", "2", "--input", tmp.path() + "/in.txt", "--output", tmp.path() + "/out",
            "--mapper", "exec:cat", "--reducer", PythonScript(tmp, "raw.py", R"(
import sys
out = open(1, "wb", closefd=False)
out.write(sys.stdin.buffer.read())
out.flush()
)"),
            "--reduces", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> expected = SortedLines(input);
  // The mapper's line without a tab reaches the reducer as key<TAB>(empty).
  for (std::string& line : expected) {
    if (line.find('\t') == std::string::npos) line += "\t";
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(PartLines(tmp.path() + "/out"), expected);
}

TEST(StreamingTest, CountersAreExactWhenAnAttemptWasRetried) {
  // Every attempt counts its lines, then the first attempt of each task
  // fails: only the successful attempts' counts may be summed.
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  std::string markers = tmp.path() + "/markers";
  fs::create_directories(input);
  fs::create_directories(markers);
  long long lines = 0;
  for (int f = 0; f < 3; ++f) {
    std::string text;
    for (int l = 0; l < 100 * (f + 1); ++l, ++lines) absl::StrAppend(&text, "w", l % 7, "\n");
    WriteFile(input + "/f" + std::to_string(f) + ".txt", text);
  }
  std::string mapper = PythonScript(tmp, "flaky.py", R"(
import os, sys
n = 0
out = open(1, "wb", closefd=False)
for line in sys.stdin.buffer:
    n += 1
    out.write(line.rstrip(b"\n") + b"\t1\n")
out.flush()
sys.stderr.write("reporter:counter:Test,Lines,%d\n" % n)
sys.stderr.flush()
marker = os.path.join(os.environ["MARKERS"], os.environ["mapreduce_task_id"])
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit("first attempt fails on purpose")
)");
  CommandResult r = AmpmrRun(
      tmp, {"--workers", "2", "--input", input, "--output", tmp.path() + "/out", "--mapper", mapper,
            "--reducer", "builtin:sum", "--max-attempts", "2", "--env", "MARKERS=" + markers});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, long long> counters = ReportedCounters(r.out);
  EXPECT_EQ(counters["Test.Lines"], lines);
  EXPECT_EQ(counters["ampmr.map_input_records"], lines);
  EXPECT_EQ(counters["ampmr.map_output_records"], lines);
  EXPECT_EQ(counters["ampmr.reduce_input_records"], lines);
  EXPECT_EQ(Total(ReadCounts(tmp.path() + "/out")), lines);
  EXPECT_EQ(std::distance(fs::directory_iterator(markers), fs::directory_iterator()), 3);
}

TEST(StreamingTest, MapOnlyJobWritesOnePartFilePerMapTask) {
  ScratchDir tmp;
  std::string input = tmp.path() + "/in";
  fs::create_directories(input);
  std::vector<std::string> texts = {"alpha one\nalpha\ttwo\n", "beta\n", "gamma x\ngamma y\n"};
  for (size_t f = 0; f < texts.size(); ++f) {
    WriteFile(input + "/f" + std::to_string(f) + ".txt", texts[f]);
  }
  CommandResult r =
      AmpmrRun(tmp, {"--workers", "2", "--input", input, "--output", tmp.path() + "/out",
                     "--mapper", "exec:tr a-z A-Z", "--reducer", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp.path() + "/out")) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_THAT(names, ::testing::ElementsAre("_SUCCESS", "part-00000", "part-00001", "part-00002"));
  // One part per map task, its lines as the mapper wrote them.
  std::multiset<std::string> parts;
  for (int i = 0; i < 3; ++i)
    parts.insert(ReadFile(tmp.path() + "/out/part-0000" + std::to_string(i)));
  EXPECT_EQ(parts, (std::multiset<std::string>{"ALPHA ONE\nALPHA\tTWO\n", "BETA\n",
                                               "GAMMA X\nGAMMA Y\n"}));
  std::map<std::string, long long> counters = ReportedCounters(r.out);
  EXPECT_EQ(counters["ampmr.map_output_records"], 5);
}

}  // namespace
}  // namespace ampmr::testing
