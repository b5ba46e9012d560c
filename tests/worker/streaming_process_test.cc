#include "worker/task/streaming_process.h"

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"

extern char** environ;

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::CollectingEmitter;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// Every test runs with a 60 s --task-timeout, so a deadlock fails instead of
// hanging.
StreamingOptions Options(const std::string& command) {
  StreamingOptions options;
  options.command = command;
  for (char** e = environ; *e != nullptr; ++e) options.env.emplace_back(*e);
  options.progress = std::make_shared<ProgressClock>(60);
  return options;
}

std::unique_ptr<StreamingProcess> Start(StreamingOptions options) {
  auto process = StreamingProcess::Start(std::move(options));
  EXPECT_THAT(process, IsOk());
  return process.ok() ? std::move(process).value() : nullptr;
}

// An Emitter that keeps the raw lines it is given.
class LineCollector final : public Emitter {
 public:
  void Emit(absl::string_view key, absl::string_view value) override {
    lines.push_back(absl::StrCat(key, "<pair>", value));
  }
  void EmitLine(absl::string_view line) override {
    lines.emplace_back(line);
    bytes += line.size() + 1;
    if (on_line) on_line(line);
  }
  void IncrementCounter(absl::string_view name, int64_t amount) override {
    AddCounter(&counters, name, amount);
  }
  std::vector<std::string> lines;
  int64_t bytes = 0;
  Counters counters;
  std::function<void(absl::string_view)> on_line;
};

// True once `pid` no longer runs (gone, or a zombie nobody reaped yet),
// waiting up to 10 s for a killed process to die.
bool ProcessEnds(pid_t pid) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

std::vector<pid_t> ReadPids(const std::string& path) {
  std::vector<pid_t> pids;
  for (absl::string_view s :
       absl::StrSplit(ReadFile(path), absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    int pid;
    if (absl::SimpleAtoi(s, &pid)) pids.push_back(pid);
  }
  return pids;
}

TEST(StreamingProcessTest, StdoutLinesGoToEmitLineAsWritten) {
  auto p = Start(Options("cat"));
  LineCollector out;
  ASSERT_THAT(p->Write("a\tb\nno tab\n\xff\xfe\t\x01\nlast", &out), IsOk());
  ASSERT_THAT(p->Finish(&out), IsOk());
  EXPECT_THAT(out.lines, ElementsAre("a\tb", "no tab", "\xff\xfe\t\x01", "last"));
}

TEST(StreamingProcessTest, DefaultEmitLineSplitsAtTheFirstTab) {
  auto p = Start(Options("printf 'k\\tv\\tw\\nkey only\\n'"));
  CollectingEmitter out;
  ASSERT_THAT(p->Finish(&out), IsOk());
  EXPECT_THAT(out.pairs, ElementsAre(Pair("k", "v\tw"), Pair("key only", "")));
}

TEST(StreamingProcessTest, ChildWritingLotsBeforeReadingDoesNotDeadlock) {
  // 24 MB out before reading a byte of the 24 MB in, in both directions far
  // more than the pipes hold.
  auto p = Start(Options("head -c 24000000 /dev/zero | tr '\\0' 'x' | fold -w 99; echo; wc -c"));
  LineCollector out;
  std::string block(1 << 20, 'y');
  for (size_t i = 0; i < block.size(); i += 100) block[i] = '\n';
  for (int i = 0; i < 24; ++i) ASSERT_THAT(p->Write(block, &out), IsOk());
  ASSERT_THAT(p->Finish(&out), IsOk());
  ASSERT_FALSE(out.lines.empty());
  EXPECT_EQ(out.lines.back(), std::to_string(24 << 20));
  EXPECT_EQ(out.bytes - static_cast<int64_t>(out.lines.back().size() + 1),
            24000000 + 24000000 / 99 + 1);
}

// The write system calls this process has made (all its threads).
int64_t WriteCalls() {
  std::ifstream io("/proc/self/io");
  std::string name;
  int64_t value;
  while (io >> name >> value) {
    if (name == "syscw:") return value;
  }
  ADD_FAILURE() << "no syscw in /proc/self/io";
  return 0;
}

TEST(StreamingProcessTest, AReaderOfSmallPiecesGetsItsInputInLargeWrites) {
  // awk reads the pipe a page at a time and works on each. Writing whenever
  // the pipe has room would take a write (and a wake-up) every page or few
  // it reads, some 3,000 for these 32 MB; written once the pipe is down to
  // half, each write is about half a pipe (some 70 in all).
  auto p = Start(Options("awk '{ n += NF } END { print n, NR }'"));
  LineCollector out;
  std::string block;
  for (int i = 0; i < 10000; ++i) absl::StrAppend(&block, std::string(99, 'x'), "\n");
  const int64_t before = WriteCalls();
  for (int i = 0; i < 32; ++i) ASSERT_THAT(p->Write(block, &out), IsOk());
  const int64_t writes = WriteCalls() - before;
  ASSERT_THAT(p->Finish(&out), IsOk());
  EXPECT_THAT(out.lines, ElementsAre("320000 320000"));
  EXPECT_LT(writes, 500);
}

TEST(StreamingProcessTest, AReaderThatPausesStillGetsAllItsInput) {
  // It reads 1 MiB, stops reading for a while (the task then looks at the
  // pipe less and less often), then reads the rest.
  auto p = Start(Options("head -c 1048576 | wc -c; sleep 0.3; wc -c"));
  LineCollector out;
  const std::string block(1 << 20, 'x');
  for (int i = 0; i < 8; ++i) ASSERT_THAT(p->Write(block, &out), IsOk());
  ASSERT_THAT(p->Finish(&out), IsOk());
  EXPECT_THAT(out.lines, ElementsAre("1048576", std::to_string(7 << 20)));
}

TEST(StreamingProcessTest, ChildThatExitsWithoutReadingItsInputSucceeds) {
  // Our writes then fail with EPIPE; this test process does not ignore
  // SIGPIPE, so it would die if the signal were not kept from it.
  auto p = Start(Options("echo done"));
  LineCollector out;
  std::string block(1 << 20, 'z');
  for (int i = 0; i < 50; ++i) ASSERT_THAT(p->Write(block, &out), IsOk());
  ASSERT_THAT(p->Finish(&out), IsOk());
  EXPECT_THAT(out.lines, ElementsAre("done"));
}

TEST(StreamingProcessTest, NonZeroExitFailsWithStatusAndStderrTail) {
  auto p = Start(Options("cat >/dev/null; echo 'first problem' >&2; echo 'oops: bad' >&2; exit 3"));
  LineCollector out;
  ASSERT_THAT(p->Write("x\n", &out), IsOk());
  EXPECT_THAT(p->Finish(&out), StatusIs(absl::StatusCode::kAborted,
                                        "exited with status 3; stderr: first problem | oops: bad"));
}

TEST(StreamingProcessTest, EarlyFailureIsReportedByWrite) {
  auto p = Start(Options("echo broken >&2; exit 5"));
  LineCollector out;
  std::string block(1 << 20, 'z');
  // Once the child is seen to have exited (shortly after our writes start
  // failing), Write reports how.
  absl::Status s;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (s.ok() && absl::Now() < deadline) s = p->Write(block, &out);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted, HasSubstr("exited with status 5")));
  EXPECT_THAT(p->Finish(&out), StatusIs(absl::StatusCode::kAborted, HasSubstr("broken")));
}

TEST(StreamingProcessTest, DeathBySignalNamesTheSignal) {
  auto p = Start(Options("echo about to crash >&2; kill -SEGV $$"));
  LineCollector out;
  EXPECT_THAT(p->Finish(&out),
              StatusIs(absl::StatusCode::kAborted, AllOf(HasSubstr("killed by signal 11 (SIGSEGV)"),
                                                         HasSubstr("stderr: about to crash"))));
}

TEST(StreamingProcessTest, ReporterLinesAreCountersAndStatusNotStderr) {
  auto p = Start(
      Options("echo 'reporter:counter:Words,Seen,5' >&2; echo 'reporter:status:half way' >&2;"
              "echo 'reporter:counter:Words,Seen,7' >&2; echo 'reporter:counter:a,b,c,-2' >&2;"
              "echo 'reporter:counter:bad' >&2; echo plain >&2; exit 1"));
  LineCollector out;
  EXPECT_THAT(p->Finish(&out),
              StatusIs(absl::StatusCode::kAborted,
                       AllOf(HasSubstr("exited with status 1; last status: half way; "
                                       "stderr: reporter:counter:bad | plain"),
                             Not(HasSubstr("Words")))));
  EXPECT_THAT(out.counters, ElementsAre(Pair("Words.Seen", 12), Pair("a.b,c", -2)));
  EXPECT_EQ(p->status_message(), "half way");
}

TEST(StreamingProcessTest, StderrTailIsTheLastTenLines) {
  auto p = Start(Options("for i in $(seq 1 30); do echo line$i >&2; done; exit 1"));
  LineCollector out;
  absl::Status s = p->Finish(&out);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted,
                          HasSubstr("stderr: line21 | line22 | line23 | line24 | line25 | "
                                    "line26 | line27 | line28 | line29 | line30")));
  EXPECT_THAT(s.message(), Not(HasSubstr("line20")));
}

TEST(StreamingProcessTest, StderrTailIsValidUtf8AndOneLine) {
  auto p = Start(Options("printf 'caf\\303\\251 \\377\\001 end\\r\\n' >&2; exit 1"));
  LineCollector out;
  EXPECT_THAT(p->Finish(&out), StatusIs(absl::StatusCode::kAborted,
                                        HasSubstr("stderr: caf\xc3\xa9 \\xff\\x01 end\\x0d")));
}

TEST(StreamingProcessTest, CancelKillsTheWholeProcessGroup) {
  ScratchDir dir;
  std::atomic<bool> cancelled{false};
  StreamingOptions options =
      Options("sleep 1000 & echo $! > " + dir.Join("pids") + "; echo $$ >> " + dir.Join("pids") +
              "; echo ready; sleep 1000");
  options.cancelled = &cancelled;
  auto p = Start(options);
  LineCollector out;
  out.on_line = [&cancelled](absl::string_view line) {
    if (line == "ready") cancelled = true;
  };
  absl::Time start = absl::Now();
  EXPECT_THAT(p->Finish(&out), StatusIs(absl::StatusCode::kCancelled, HasSubstr("cancelled")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  std::vector<pid_t> pids = ReadPids(dir.Join("pids"));
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) EXPECT_TRUE(ProcessEnds(pid)) << pid;
}

TEST(StreamingProcessTest, ChildIgnoringSigtermIsKilledAfterTheGrace) {
  std::atomic<bool> cancelled{false};
  StreamingOptions options = Options("trap '' TERM; echo ready; while :; do sleep 1; done");
  options.cancelled = &cancelled;
  options.kill_grace = absl::Milliseconds(200);
  auto p = Start(options);
  LineCollector out;
  out.on_line = [&cancelled](absl::string_view) { cancelled = true; };
  absl::Time start = absl::Now();
  EXPECT_THAT(p->Finish(&out), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(StreamingProcessTest, CancelWhileWritingStopsTheWrite) {
  std::atomic<bool> cancelled{false};
  StreamingOptions options = Options("echo ready; sleep 1000");  // never reads
  options.cancelled = &cancelled;
  auto p = Start(options);
  LineCollector out;
  out.on_line = [&cancelled](absl::string_view) { cancelled = true; };
  std::string block(8 << 20, 'q');  // more than the pipe holds
  EXPECT_THAT(p->Write(block, &out), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(p->Finish(&out), StatusIs(absl::StatusCode::kCancelled));
}

TEST(StreamingProcessTest, NoProgressForTheTaskTimeoutKillsAndFailsWithDeadlineExceeded) {
  StreamingOptions options = Options("echo reporter:status:thinking >&2; sleep 1000");
  options.progress = std::make_shared<ProgressClock>(0.3);
  auto p = Start(options);
  LineCollector out;
  EXPECT_THAT(p->Finish(&out),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("no progress for --task-timeout 0.3s; killed its process "
                                       "group"),
                             HasSubstr("last status: thinking"))));
}

TEST(StreamingProcessTest, LastStatusLineIsKeptOnTheProgressClock) {
  StreamingOptions options =
      Options("echo reporter:status:reading >&2; cat > /dev/null; echo reporter:status:done >&2");
  auto clock = options.progress;
  auto p = Start(options);
  LineCollector out;
  ASSERT_THAT(p->Write("a\nb\n", &out), IsOk());
  ASSERT_THAT(p->Finish(&out), IsOk());
  EXPECT_EQ(clock->status(), "done");
}

// --task-timeout counts time without progress, not running time: a child
// that keeps writing output, or only reporter:status lines, may run for
// several timeouts.
TEST(StreamingProcessTest, OutputOrStatusLinesKeepAChildPastTheTaskTimeout) {
  for (const char* line : {"echo tick", "echo reporter:status:tick >&2"}) {
    StreamingOptions options = Options(
        absl::StrCat("for i in 1 2 3 4 5 6 7 8 9 10 11 12; do ", line, "; sleep 0.1; done"));
    options.progress = std::make_shared<ProgressClock>(0.6);
    absl::Time start = absl::Now();
    auto p = Start(options);
    LineCollector out;
    EXPECT_THAT(p->Finish(&out), IsOk()) << line;
    EXPECT_GT(absl::Now() - start, absl::Seconds(1)) << line;  // longer than the timeout
  }
}

TEST(StreamingProcessTest, BackgroundStrayNeitherHoldsTheTaskNorOutlivesIt) {
  // The stray keeps stdout open; the task ends when the command does.
  ScratchDir dir;
  auto p = Start(Options("sleep 1000 & echo $! > " + dir.Join("pid") + "; echo out"));
  LineCollector out;
  absl::Time start = absl::Now();
  ASSERT_THAT(p->Finish(&out), IsOk());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_THAT(out.lines, ElementsAre("out"));
  std::vector<pid_t> pids = ReadPids(dir.Join("pid"));
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(ProcessEnds(pids[0]));
}

TEST(StreamingProcessTest, DestroyingAnUnfinishedProcessKillsIt) {
  ScratchDir dir;
  const std::string pid_file = dir.Join("pid");
  auto p = Start(Options("echo $$ > " + pid_file + ".tmp; mv " + pid_file + ".tmp " + pid_file +
                         "; exec sleep 1000"));
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (ReadPids(pid_file).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  std::vector<pid_t> pids = ReadPids(pid_file);
  ASSERT_EQ(pids.size(), 1u);
  p.reset();
  EXPECT_TRUE(ProcessEnds(pids[0]));
}

TEST(StreamingProcessTest, ChildStartsWithDefaultSignalsAndAnEmptyMask) {
  // As in the worker: SIGPIPE ignored, SIGTERM blocked.
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe;
  sigaction(SIGPIPE, &ignore, &old_pipe);
  sigset_t term, old_mask;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old_mask);
  auto p = Start(Options("exec grep -E '^(SigBlk|SigIgn)' /proc/self/status"));
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);

  LineCollector out;
  ASSERT_THAT(p->Finish(&out), IsOk());
  ASSERT_EQ(out.lines.size(), 2u);
  for (const std::string& line : out.lines) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    ASSERT_EQ(f.size(), 2u) << line;
    uint64_t mask = std::strtoull(f[1].c_str(), nullptr, 16);
    EXPECT_EQ(mask & (1ull << (SIGPIPE - 1)), 0u) << line;
    EXPECT_EQ(mask & (1ull << (SIGTERM - 1)), 0u) << line;
  }
}

}  // namespace
}  // namespace ampmr::worker
