// Exec (Hadoop Streaming) mappers, reducers and combiners run by the real map
// and reduce tasks, with real shell commands.
#include "worker/task/exec_task.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/task/counters.h"
#include "worker/task/map_task.h"
#include "worker/task/reduce_task.h"
#include "worker/task/stderr_log.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::DecodeRun;
using ::ampmr::worker::testing::EncodeRun;
using ::ampmr::worker::testing::Pairs;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::WriteFile;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// Map attempt j1-m3-a1 over [start, start + length) of `path`.
MapTaskOptions MapOptions(const std::string& work_dir, const std::string& path, int64_t start,
                          int64_t length, const std::string& mapper,
                          const std::string& combiner = "", int reduces = 1) {
  MapTaskOptions options;
  v1::TaskContext* task = options.run.mutable_task();
  task->set_job_id("j1");
  task->set_task_id("m3");
  task->set_attempt_id("j1-m3-a1");
  task->set_partition(3);
  task->set_mapper(mapper);
  task->set_combiner(combiner);
  task->set_reduces(reduces);
  options.run.mutable_split()->set_path(path);
  options.run.mutable_split()->set_start(start);
  options.run.mutable_split()->set_length(length);
  options.work_dir = work_dir;
  return options;
}

MapTaskOptions WholeFile(const ScratchDir& dir, const std::string& text, const std::string& mapper,
                         const std::string& combiner = "", int reduces = 1) {
  WriteFile(dir.Join("in"), text);
  return MapOptions(dir.Join("w"), dir.Join("in"), 0, static_cast<int64_t>(text.size()), mapper,
                    combiner, reduces);
}

// Makes the map-only form of `options`; the part file is the return value.
std::string MapOnly(const ScratchDir& dir, MapTaskOptions* options) {
  options->run.mutable_task()->set_reducer("none");
  options->run.set_output_dir(dir.Join("out"));
  return dir.Join("out/part-00003");
}

std::vector<Pairs> Partitions(const v1::MapDone& done) {
  std::string data = ReadFile(done.output_path());
  std::vector<Pairs> out;
  for (const v1::PartitionInfo& p : done.partitions()) {
    out.push_back(DecodeRun(absl::string_view(data).substr(p.offset(), p.length())));
  }
  return out;
}

// Reduce attempt j1-r1-a1 of the runs `runs` (each sorted), into dir/part.
ReduceTaskOptions ReduceOptions(const ScratchDir& dir, const std::string& reducer,
                                const std::vector<Pairs>& runs) {
  ReduceTaskOptions options;
  v1::TaskContext* task = options.run.mutable_task();
  task->set_job_id("j1");
  task->set_task_id("r1");
  task->set_attempt_id("j1-r1-a1");
  task->set_partition(1);
  task->set_reducer(reducer);
  options.run.set_temp_path(dir.Join("part"));
  for (size_t i = 0; i < runs.size(); ++i) {
    std::string path = dir.Join("run" + std::to_string(i));
    std::string data = EncodeRun(runs[i]);
    WriteFile(path, data);
    options.inputs.push_back({path, 0, static_cast<int64_t>(data.size())});
  }
  return options;
}

TEST(ExecMapperTest, ReadsItsSplitAndItsLinesBecomeSortedPairs) {
  ScratchDir dir;
  const std::string text = "outside\nb\t2\na\t1\nkey only\nc\t3\tx\nalso outside\n";
  WriteFile(dir.Join("in"), text);
  int64_t start = 8;
  int64_t length = static_cast<int64_t>(text.find("also")) - start;
  auto done = RunMapTask(MapOptions(dir.Join("w"), dir.Join("in"), start, length, "exec:cat"));
  ASSERT_THAT(done, IsOk());
  EXPECT_THAT(Partitions(*done), ElementsAre(ElementsAre(Pair("a", "1"), Pair("b", "2"),
                                                         Pair("c", "3\tx"), Pair("key only", ""))));
  EXPECT_EQ(done->framework_counters().map_input_records(), 4);
  EXPECT_EQ(done->framework_counters().map_output_records(), 4);
}

TEST(ExecMapperTest, EnvironmentNamesTheAttemptAndTheSplitAndHasEnvParameters) {
  ScratchDir dir;
  MapTaskOptions options =
      WholeFile(dir, "0123456789\n", "exec:env | grep -E '^(mapreduce_|FOO=)' | sort");
  (*options.run.mutable_task()->mutable_env())["FOO"] = "bar baz";
  (*options.run.mutable_task()->mutable_env())["mapreduce_job_id"] = "overridden";
  std::string part = MapOnly(dir, &options);
  ASSERT_THAT(RunMapTask(options), IsOk());
  EXPECT_EQ(ReadFile(part),
            "FOO=bar baz\n"
            "mapreduce_job_id=overridden\n"
            "mapreduce_map_input_file=" +
                dir.Join("in") +
                "\n"
                "mapreduce_map_input_length=11\n"
                "mapreduce_map_input_start=0\n"
                "mapreduce_task_attempt_id=j1-m3-a1\n"
                "mapreduce_task_id=m3\n"
                "mapreduce_task_ismap=true\n"
                "mapreduce_task_partition=3\n");
}

TEST(ExecMapperTest, MapOnlyWritesItsLinesAsWrittenNonUtf8Included) {
  ScratchDir dir;
  const std::string text = "k\tv\nno tab\n\xff\xfe\x80 bytes\tv\xc3\n\nlast";
  MapTaskOptions options = WholeFile(dir, text, "exec:cat");
  std::string part = MapOnly(dir, &options);
  auto done = RunMapTask(options);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(ReadFile(part), text + "\n");
  EXPECT_EQ(done->framework_counters().map_output_records(), 5);
}

TEST(ExecMapperTest, ReporterCountersReachTheMapDone) {
  ScratchDir dir;
  MapTaskOptions options = WholeFile(
      dir, "a\nb\nc\n",
      "exec:n=0; while read l; do n=$((n+1)); echo \"$l\"; done; "
      "echo \"reporter:counter:Lines,Read,$n\" >&2; echo reporter:counter:Lines,Read,10 >&2",
      "", 2);
  auto done = RunMapTask(options);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->counters().at("Lines.Read"), 13);
}

TEST(ExecMapperTest, FailureNamesCommandStatusAttemptAndStderrAndLeavesNothing) {
  ScratchDir dir;
  const std::string command = "echo Traceback >&2; echo 'ValueError: no' >&2; exit 2";
  auto done = RunMapTask(WholeFile(dir, "x\n", "exec:" + command));
  // Seen while feeding the input ("... on PATH: ...") or at its end.
  EXPECT_THAT(done, StatusIs(absl::StatusCode::kAborted,
                             AllOf(HasSubstr("attempt=j1-m3-a1: mapper exec:" + command),
                                   HasSubstr(": exited with status 2; stderr: Traceback | "
                                             "ValueError: no"))));
  EXPECT_THAT(ScratchDir::ListOf(dir.Join("w")), IsEmpty());
}

TEST(ExecMapperTest, CancelKillsTheMapperAndFailsTheAttempt) {
  ScratchDir dir;
  std::atomic<bool> cancelled{false};
  MapTaskOptions options =
      WholeFile(dir, "x\n", "exec:echo $$ > " + dir.Join("pid") + "; exec sleep 1000");
  options.cancelled = &cancelled;
  std::thread canceller([&] {
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (ReadFile(dir.Join("pid")).empty() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    cancelled = true;
  });
  absl::Time start = absl::Now();
  auto done = RunMapTask(options);
  canceller.join();
  EXPECT_THAT(done, StatusIs(absl::StatusCode::kCancelled, HasSubstr("attempt=j1-m3-a1")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  std::string pid = ReadFile(dir.Join("pid"));
  ASSERT_FALSE(pid.empty());
  pid.pop_back();
  std::string stat = ReadFile("/proc/" + pid + "/stat");
  EXPECT_TRUE(stat.empty() || absl::StrContains(stat, ") Z ")) << stat;
}

TEST(ExecMapperTest, TaskTimeoutKillsAMapperThatMakesNoProgress) {
  ScratchDir dir;
  MapTaskOptions options = WholeFile(dir, "x\n", "exec:sleep 1000");
  options.run.mutable_task()->set_timeout_seconds(0.2);
  EXPECT_THAT(RunMapTask(options), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                            HasSubstr("no progress for --task-timeout 0.2s")));
}

TEST(ExecCombinerTest, OutputIsParsedBackIntoPairsAndSortedAgain) {
  ScratchDir dir;
  // The combiner reverses its (sorted) input and counts the records it saw.
  MapTaskOptions options = WholeFile(dir, "b\t1\na\t1\nc\t1\na\t1\nd\t1\nb\t1\n", "exec:cat",
                                     "exec:sort -r | uniq -c | awk '{print $2 \"\\t\" $1}'; "
                                     "echo reporter:counter:Combine,Calls,1 >&2",
                                     2);
  auto done = RunMapTask(options);
  ASSERT_THAT(done, IsOk());
  Pairs all;
  for (const Pairs& p : Partitions(*done)) {
    EXPECT_TRUE(std::is_sorted(p.begin(), p.end())) << ::testing::PrintToString(p);
    all.insert(all.end(), p.begin(), p.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_THAT(all, ElementsAre(Pair("a", "2"), Pair("b", "2"), Pair("c", "1"), Pair("d", "1")));
  EXPECT_EQ(done->framework_counters().combine_input_records(), 6);
  EXPECT_EQ(done->framework_counters().combine_output_records(), 4);
  EXPECT_EQ(done->counters().at("Combine.Calls"), 2);  // once per partition
}

TEST(ExecCombinerTest, FailureNamesTheCombiner) {
  ScratchDir dir;
  auto done = RunMapTask(WholeFile(dir, "a\t1\n", "exec:cat", "exec:exit 7"));
  EXPECT_THAT(done, StatusIs(absl::StatusCode::kAborted,
                             HasSubstr("combiner exec:exit 7: exited with status 7")));
}

TEST(ExecReducerTest, GetsSortedPairsAsLinesAndItsLinesAreWrittenAsIs) {
  ScratchDir dir;
  // Input lines as the reducer saw them, then a line without a tab.
  ReduceTaskOptions options =
      ReduceOptions(dir, "exec:cat; echo 'summary without tab'",
                    {{{"a", "1"}, {"c", "3"}}, {{"a", "0"}, {"b", ""}, {"\xff", "\xfe"}}});
  auto done = RunReduceTask(options);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(ReadFile(dir.Join("part")), "a\t1\na\t0\nb\t\nc\t3\n\xff\t\xfe\nsummary without tab\n");
  EXPECT_EQ(done->framework_counters().reduce_input_records(), 5);
  EXPECT_EQ(done->framework_counters().reduce_input_groups(), 4);
  EXPECT_EQ(done->framework_counters().reduce_output_records(), 6);
}

TEST(ExecReducerTest, LinesAcrossAndLongerThanTheInputBlockArriveWhole) {
  ScratchDir dir;
  // Lines go to the reducer in 1 MiB blocks: many short lines cross block
  // ends, and lines of 1 MiB and more (key or value) go on their own.
  Pairs run;
  std::string expected;
  for (int i = 0; i < 60000; ++i) {
    run.emplace_back("k" + std::to_string(100000 + i), std::string(i % 40, 'v'));
    if (i == 30000) run.emplace_back("k130000~", std::string((1 << 20) + 5, 'x'));
    if (i == 40000) run.emplace_back(std::string((1 << 20) - 1, 'K') + "~", "");
  }
  std::sort(run.begin(), run.end());
  for (const auto& [k, v] : run) expected += k + "\t" + v + "\n";
  ReduceTaskOptions options = ReduceOptions(dir, "exec:cat", {run});
  auto done = RunReduceTask(options);
  ASSERT_THAT(done, IsOk());
  EXPECT_TRUE(ReadFile(dir.Join("part")) == expected);
  EXPECT_EQ(done->framework_counters().reduce_input_records(), static_cast<int64_t>(run.size()));
}

TEST(ExecReducerTest, ReducerThatReadsNothingSucceeds) {
  ScratchDir dir;
  Pairs big;
  for (int i = 0; i < 200000; ++i) big.emplace_back("key" + std::to_string(1000000 + i), "value");
  ReduceTaskOptions options = ReduceOptions(dir, "exec:echo 'not reading'", {big});
  auto done = RunReduceTask(options);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(ReadFile(dir.Join("part")), "not reading\n");
  EXPECT_EQ(done->framework_counters().reduce_input_records(), 200000);
}

TEST(ExecReducerTest, EnvironmentNamesTheReduceAttempt) {
  ScratchDir dir;
  ReduceTaskOptions options =
      ReduceOptions(dir, "exec:env | grep -E '^mapreduce_' | sort", {{{"a", "1"}}});
  ASSERT_THAT(RunReduceTask(options), IsOk());
  EXPECT_EQ(ReadFile(dir.Join("part")),
            "mapreduce_job_id=j1\n"
            "mapreduce_task_attempt_id=j1-r1-a1\n"
            "mapreduce_task_id=r1\n"
            "mapreduce_task_ismap=false\n"
            "mapreduce_task_partition=1\n");
}

TEST(ExecReducerTest, CrashFailsTheAttemptAndRemovesThePartFile) {
  ScratchDir dir;
  ReduceTaskOptions options = ReduceOptions(dir, "exec:head -1; kill -SEGV $$", {{{"a", "1"}}});
  EXPECT_THAT(RunReduceTask(options),
              StatusIs(absl::StatusCode::kAborted,
                       AllOf(HasSubstr("attempt=j1-r1-a1: reducer exec:head -1; kill -SEGV $$"),
                             HasSubstr("killed by signal 11 (SIGSEGV)"))));
  EXPECT_FALSE(std::filesystem::exists(dir.Join("part")));
}

TEST(ExecTaskTest, MapperAndCombinerStderrIsKeptInTheAttemptLog) {
  ScratchDir dir;
  MapTaskOptions options = WholeFile(
      dir, "a 1\nb 2\n",
      "exec:echo marker-from-mapper >&2; echo reporter:counter:g,c,1 >&2; tr ' ' '\\t'",
      "exec:echo marker-from-combiner >&2; cat");
  std::string path = StderrLog::PathFor(dir.Join("w"), "j1", "j1-m3-a1");
  options.stderr_log = std::make_shared<StderrLog>(path);
  ASSERT_THAT(RunMapTask(options), IsOk());
  absl::StatusOr<StderrLog::Kept> kept = StderrLog::Read(path);
  ASSERT_THAT(kept, IsOk());
  EXPECT_FALSE(kept->truncated);
  EXPECT_THAT(kept->text, HasSubstr("marker-from-mapper\n"));
  EXPECT_THAT(kept->text, HasSubstr("reporter:counter:g,c,1\n"));  // all of stderr
  EXPECT_THAT(kept->text, HasSubstr("marker-from-combiner\n"));
}

TEST(ExecTaskTest, BuiltinMapperLeavesNoStderrLog) {
  ScratchDir dir;
  MapTaskOptions options = WholeFile(dir, "a b\n", "builtin:wordcount");
  std::string path = StderrLog::PathFor(dir.Join("w"), "j1", "j1-m3-a1");
  options.stderr_log = std::make_shared<StderrLog>(path);
  ASSERT_THAT(RunMapTask(options), IsOk());
  EXPECT_THAT(StderrLog::Read(path), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace ampmr::worker
