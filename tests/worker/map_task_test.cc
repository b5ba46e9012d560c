#include "worker/task/map_task.h"

#include <unistd.h>

#include <atomic>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/task/counters.h"
#include "worker/task/stable_hash.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::DecodeRun;
using ::ampmr::worker::testing::NaiveWordCount;
using ::ampmr::worker::testing::Pairs;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kText[] =
    "preamble line that is not in the split\n"
    "The cat sat on the mat.\n"
    "the Cat, the hat\tand THE bat\n"
    "\n"
    "a line with a very long word Pneumonoultramicroscopicsilicovolcanoconiosis end\n"
    "trailing line outside the split\n";

// Options for attempt j1-m3-a1 over [start, start+length) of path.
MapTaskOptions Options(const std::string& work_dir, const std::string& path, int64_t start,
                       int64_t length, const char* mapper = "builtin:wordcount",
                       const char* combiner = "builtin:sum", int reduces = 3) {
  MapTaskOptions options;
  v1::TaskContext* task = options.run.mutable_task();
  task->set_job_id("j1");
  task->set_task_id("m3");
  task->set_attempt_id("j1-m3-a1");
  task->set_partition(3);
  task->set_mapper(mapper);
  task->set_combiner(combiner);
  task->set_reducer("builtin:sum");
  task->set_reduces(reduces);
  options.run.mutable_split()->set_path(path);
  options.run.mutable_split()->set_start(start);
  options.run.mutable_split()->set_length(length);
  options.work_dir = work_dir;
  return options;
}

// The split of kText: from the 2nd line to the end of the 5th.
struct MidSplit {
  int64_t start;
  int64_t length;
  std::string text;
};
MidSplit MiddleOfText() {
  std::string text = kText;
  size_t start = text.find('\n') + 1;
  size_t end = text.find("trailing line");
  return {static_cast<int64_t>(start), static_cast<int64_t>(end - start),
          text.substr(start, end - start)};
}

std::vector<Pairs> Partitions(const v1::MapDone& done) {
  std::string data = ReadFile(done.output_path());
  std::vector<Pairs> out;
  for (const v1::PartitionInfo& p : done.partitions()) {
    out.push_back(DecodeRun(absl::string_view(data).substr(p.offset(), p.length())));
  }
  return out;
}

TEST(RunMapTaskTest, WordCountOfASplitInTheMiddleOfAFile) {
  ScratchDir dir;
  WriteFile(dir.Join("input.txt"), kText);
  const MidSplit split = MiddleOfText();
  auto done =
      RunMapTask(Options(dir.Join("work"), dir.Join("input.txt"), split.start, split.length));
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->attempt_id(), "j1-m3-a1");
  EXPECT_EQ(done->output_path(), dir.Join("work") + "/j1-m3-a1.out");
  ASSERT_EQ(done->partitions_size(), 3);

  std::map<std::string, int64_t> counts = NaiveWordCount(split.text);
  std::vector<Pairs> expected(3);
  for (const auto& [word, n] : counts) {
    expected[PartitionOf(word, 3)].emplace_back(word, std::to_string(n));
  }
  EXPECT_EQ(Partitions(*done), expected);

  int64_t words = 0;
  for (const auto& [word, n] : counts) words += n;
  const auto& c = done->framework_counters();
  EXPECT_EQ(c.map_input_records(), 4);
  EXPECT_EQ(c.map_input_bytes(), split.length);
  EXPECT_EQ(c.map_output_records(), words);
  EXPECT_EQ(c.combine_input_records(), words);
  EXPECT_EQ(c.combine_output_records(), static_cast<int64_t>(counts.size()));
  EXPECT_EQ(c.spilled_bytes(), static_cast<int64_t>(ReadFile(done->output_path()).size()));
  EXPECT_THAT(ScratchDir::ListOf(dir.Join("work")), ElementsAre("j1-m3-a1.out"));
}

TEST(RunMapTaskTest, TinyReadBlocksAndSpillsGiveTheSameOutput) {
  ScratchDir dir;
  WriteFile(dir.Join("input.txt"), kText);
  const MidSplit split = MiddleOfText();
  auto big = RunMapTask(Options(dir.Join("a"), dir.Join("input.txt"), split.start, split.length,
                                "builtin:identity", ""));
  ASSERT_THAT(big, IsOk());
  MapTaskOptions small = Options(dir.Join("b"), dir.Join("input.txt"), split.start, split.length,
                                 "builtin:identity", "");
  small.read_block_size = 7;  // smaller than most lines: the buffer must grow
  small.buffer_limit = 16;    // spill nearly every pair
  auto tiny = RunMapTask(small);
  ASSERT_THAT(tiny, IsOk());
  EXPECT_EQ(Partitions(*tiny), Partitions(*big));
  EXPECT_EQ(tiny->framework_counters().map_input_records(), 4);
  EXPECT_EQ(tiny->framework_counters().map_output_records(), 4);
  EXPECT_GT(tiny->framework_counters().spilled_bytes(), big->framework_counters().spilled_bytes());
  EXPECT_THAT(ScratchDir::ListOf(dir.Join("b")), ElementsAre("j1-m3-a1.out"));
}

TEST(RunMapTaskTest, LastLineWithoutNewlineAtEndOfFile) {
  ScratchDir dir;
  const std::string text = "skip\nk1\tv1\nk2\tv2";
  WriteFile(dir.Join("in"), text);
  auto done = RunMapTask(Options(dir.Join("w"), dir.Join("in"), 5,
                                 static_cast<int64_t>(text.size()) - 5, "builtin:identity", "", 1));
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(Partitions(*done), std::vector<Pairs>({{{"k1", "v1"}, {"k2", "v2"}}}));
  EXPECT_EQ(done->framework_counters().map_input_records(), 2);
}

TEST(RunMapTaskTest, EmptySplitGivesEmptyPartitions) {
  ScratchDir dir;
  WriteFile(dir.Join("in"), "abc\n");
  auto done = RunMapTask(Options(dir.Join("w"), dir.Join("in"), 4, 0));
  ASSERT_THAT(done, IsOk());
  ASSERT_EQ(done->partitions_size(), 3);
  for (const auto& p : done->partitions()) EXPECT_EQ(p.length(), 0);
  EXPECT_EQ(done->framework_counters().map_input_records(), 0);
}

TEST(RunMapTaskTest, AttemptWithNoOutputMakesNoFileNorDirectory) {
  ScratchDir dir;
  WriteFile(dir.Join("in"), "a b\nc\nd e f\n");
  auto done = RunMapTask(Options(dir.Join("w"), dir.Join("in"), 0, 12, "builtin:noop", ""));
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->output_path(), "");
  EXPECT_EQ(done->framework_counters().map_input_records(), 3);
  EXPECT_EQ(done->framework_counters().map_input_bytes(), 12);
  EXPECT_EQ(done->framework_counters().map_output_records(), 0);
  // The work dir is made by the first file an attempt writes, not before.
  EXPECT_THAT(dir.List(), ElementsAre("in"));
}

TEST(RunMapTaskTest, AJobsAttemptsReadTheirFileThroughTheCacheOpenedOnce) {
  ScratchDir dir;
  WriteFile(dir.Join("in"), "a b\nc\n");
  InputFileCache files;
  MapTaskOptions first = Options(dir.Join("w"), dir.Join("in"), 0, 4, "builtin:noop", "");
  first.input_files = &files;
  ASSERT_THAT(RunMapTask(first), IsOk());
  EXPECT_EQ(files.size(), 1u);
  // The name is gone, yet the job's next attempt reads the file it kept open.
  ASSERT_EQ(::unlink(dir.Join("in").c_str()), 0);
  MapTaskOptions second = Options(dir.Join("w"), dir.Join("in"), 4, 2, "builtin:noop", "");
  second.run.mutable_task()->set_attempt_id("j1-m4-a1");
  second.input_files = &files;
  auto done = RunMapTask(second);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->framework_counters().map_input_records(), 1);
  // Another job opens it again, and finds it gone.
  second.run.mutable_task()->set_job_id("j2");
  EXPECT_THAT(RunMapTask(second), StatusIs(absl::StatusCode::kNotFound, HasSubstr("open ")));
}

TEST(RunMapTaskTest, MissingInputNamesAttemptAndPath) {
  ScratchDir dir;
  auto done = RunMapTask(Options(dir.Join("w"), "/x/y", 0, 10));
  EXPECT_THAT(done, StatusIs(absl::StatusCode::kNotFound,
                             "attempt=j1-m3-a1: open /x/y: No such file or directory"));
  EXPECT_THAT(ScratchDir::ListOf(dir.Join("w")), IsEmpty());
}

TEST(RunMapTaskTest, FileShorterThanSplitFails) {
  ScratchDir dir;
  WriteFile(dir.Join("in"), "short\n");
  auto done = RunMapTask(Options(dir.Join("w"), dir.Join("in"), 0, 100));
  EXPECT_THAT(done, StatusIs(absl::StatusCode::kFailedPrecondition,
                             HasSubstr("attempt=j1-m3-a1: read " + dir.Join("in"))));
  EXPECT_THAT(ScratchDir::ListOf(dir.Join("w")), IsEmpty());
}

TEST(RunMapTaskTest, NonIntegerForSumCombinerFailsNamingKey) {
  ScratchDir dir;
  const std::string text = "a\t1\nb\tlots\n";
  WriteFile(dir.Join("in"), text);
  auto done = RunMapTask(Options(dir.Join("w"), dir.Join("in"), 0,
                                 static_cast<int64_t>(text.size()), "builtin:identity"));
  EXPECT_THAT(done, StatusIs(absl::StatusCode::kInvalidArgument,
                             HasSubstr("attempt=j1-m3-a1: sum: key \"b\": value \"lots\"")));
  EXPECT_THAT(ScratchDir::ListOf(dir.Join("w")), IsEmpty());
}

TEST(RunMapTaskTest, CancelledLeavesNothing) {
  ScratchDir dir;
  WriteFile(dir.Join("in"), kText);
  std::atomic<bool> cancelled{true};
  MapTaskOptions options = Options(dir.Join("w"), dir.Join("in"), 0, sizeof(kText) - 1);
  options.cancelled = &cancelled;
  EXPECT_THAT(RunMapTask(options),
              StatusIs(absl::StatusCode::kCancelled, "attempt=j1-m3-a1: cancelled"));
  EXPECT_THAT(ScratchDir::ListOf(dir.Join("w")), IsEmpty());
}

TEST(RunMapTaskTest, MissingPluginNamesThePathAndTheAttempt) {
  ScratchDir dir;
  WriteFile(dir.Join("in"), "x\n");
  std::string plugin = "plugin:" + dir.Join("none.so");
  EXPECT_THAT(RunMapTask(Options(dir.Join("w"), dir.Join("in"), 0, 2, plugin.c_str(), "")),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::StartsWith("attempt=j1-m3-a1: plugin " + dir.Join("none.so"))));
}

TEST(RunMapTaskTest, BadMapperSpecIsInvalidArgument) {
  ScratchDir dir;
  EXPECT_THAT(RunMapTask(Options(dir.Join("w"), dir.Join("in"), 0, 2, "builtin:nope", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("builtin:nope")));
}

TEST(RunMapTaskTest, MapOnlyWritesPartFileLinesInInputOrder) {
  ScratchDir dir;
  const std::string text = "b\t2\na\t1\nnotab\n";
  WriteFile(dir.Join("in"), text);
  MapTaskOptions options =
      Options(dir.Join("w"), dir.Join("in"), 0, static_cast<int64_t>(text.size()),
              "builtin:identity", "builtin:sum", 0);
  options.run.mutable_task()->set_reducer("none");
  options.run.set_output_dir(dir.Join("out/j1-m3-a1"));
  auto done = RunMapTask(options);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->output_path(), dir.Join("out/j1-m3-a1/part-00003"));
  // The identity mapper's lines are written as they are, like a streaming
  // mapper's.
  EXPECT_EQ(ReadFile(done->output_path()), text);
  EXPECT_EQ(done->partitions_size(), 0);
  EXPECT_EQ(done->framework_counters().map_input_records(), 3);
  EXPECT_EQ(done->framework_counters().map_output_records(), 3);
}

}  // namespace
}  // namespace ampmr::worker
