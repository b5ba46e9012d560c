#include "worker/task/reduce_task.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/task/counters.h"
#include "worker/task/map_task.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::EncodeRun;
using ::ampmr::worker::testing::GutenbergDir;
using ::ampmr::worker::testing::NaiveWordCount;
using ::ampmr::worker::testing::ParseCountLines;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ReduceTaskOptions Options(const std::string& temp_path, const char* reducer,
                          std::vector<ReduceInput> inputs) {
  ReduceTaskOptions options;
  v1::TaskContext* task = options.run.mutable_task();
  task->set_job_id("j1");
  task->set_task_id("r0");
  task->set_attempt_id("j1-r0-a1");
  task->set_reducer(reducer);
  options.run.set_temp_path(temp_path);
  options.inputs = std::move(inputs);
  return options;
}

// Runs a word count map task over a whole file.
v1::MapDone MapWholeFile(const std::string& path, const std::string& work_dir, int index,
                         int reduces) {
  MapTaskOptions options;
  v1::TaskContext* task = options.run.mutable_task();
  task->set_attempt_id("j1-m" + std::to_string(index) + "-a1");
  task->set_mapper("builtin:wordcount");
  task->set_combiner("builtin:sum");
  task->set_reduces(reduces);
  options.run.mutable_split()->set_path(path);
  options.run.mutable_split()->set_length(static_cast<int64_t>(ReadFile(path).size()));
  options.work_dir = work_dir;
  auto done = RunMapTask(options);
  EXPECT_THAT(done, IsOk());
  return done.ok() ? *done : v1::MapDone();
}

TEST(RunReduceTaskTest, WordCountOfTwoBooksEqualsNaiveCount) {
  ScratchDir dir;
  const std::vector<std::string> books = {GutenbergDir() + "/pg-metamorphosis.txt",
                                          GutenbergDir() + "/pg-being_ernest.txt"};
  std::string all_text;
  for (const auto& book : books) {
    std::string text = ReadFile(book);
    if (text.empty()) GTEST_SKIP() << "no corpus at " << book;
    all_text += text + "\n";  // a book boundary is a word boundary
  }
  constexpr int kReduces = 3;
  std::vector<v1::MapDone> maps;
  for (size_t i = 0; i < books.size(); ++i) {
    maps.push_back(MapWholeFile(books[i], dir.Join("work"), static_cast<int>(i), kReduces));
  }

  std::map<std::string, int64_t> counted;
  for (int r = 0; r < kReduces; ++r) {
    std::vector<ReduceInput> inputs;
    int64_t records = 0;
    int64_t bytes = 0;
    for (const v1::MapDone& m : maps) {
      const v1::PartitionInfo& p = m.partitions(r);
      inputs.push_back({m.output_path(), p.offset(), p.length()});
      records += p.records();
      bytes += p.length();
    }
    const std::string part = dir.Join("out/_tmp/j1-r" + std::to_string(r) + "-a1/part");
    auto done = RunReduceTask(Options(part, "builtin:sum", inputs));
    ASSERT_THAT(done, IsOk());
    const std::string text = ReadFile(part);
    EXPECT_EQ(done->output_bytes(), static_cast<int64_t>(text.size()));
    std::map<std::string, int64_t> part_counts = ParseCountLines(text);
    const auto& c = done->framework_counters();
    EXPECT_EQ(c.reduce_input_records(), records);
    EXPECT_EQ(c.reduce_input_groups(), static_cast<int64_t>(part_counts.size()));
    EXPECT_EQ(c.reduce_output_records(), static_cast<int64_t>(part_counts.size()));
    EXPECT_EQ(c.shuffled_bytes(), bytes);
    // Lines are sorted bytewise by key, each key once.
    std::vector<std::string> keys;
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      keys.emplace_back(line.substr(0, line.find('\t')));
    }
    EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
    EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
    for (const auto& [word, n] : part_counts) counted[word] += n;
  }
  EXPECT_EQ(counted, NaiveWordCount(all_text));
}

TEST(RunReduceTaskTest, DefaultReducerIsIdentityAndMergesStably) {
  ScratchDir dir;
  const std::string m0 = EncodeRun({{"a", "m0"}, {"b", "m0"}});
  const std::string m1 = EncodeRun({{"a", "m1"}, {"c", "m1"}});
  WriteFile(dir.Join("m0"), m0);
  WriteFile(dir.Join("m1"), "junk" + m1 + "more junk");
  const auto size = [](const std::string& s) { return static_cast<int64_t>(s.size()); };
  auto done = RunReduceTask(Options(
      dir.Join("part"), "", {{dir.Join("m0"), 0, size(m0)}, {dir.Join("m1"), 4, size(m1)}}));
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(ReadFile(dir.Join("part")), "a\tm0\na\tm1\nb\tm0\nc\tm1\n");
  EXPECT_EQ(done->attempt_id(), "j1-r0-a1");
  EXPECT_EQ(done->framework_counters().reduce_input_groups(), 3);
  EXPECT_EQ(done->framework_counters().reduce_input_records(), 4);
  EXPECT_EQ(done->framework_counters().shuffled_bytes(), size(m0) + size(m1));
}

TEST(RunReduceTaskTest, NoInputsWritesAnEmptyPart) {
  ScratchDir dir;
  auto done = RunReduceTask(Options(dir.Join("sub/dir/part"), "builtin:sum", {}));
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(ReadFile(dir.Join("sub/dir/part")), "");
  EXPECT_EQ(done->output_bytes(), 0);
  EXPECT_EQ(done->framework_counters().reduce_input_groups(), 0);
}

TEST(RunReduceTaskTest, NonIntegerForSumFailsNamingKeyAndRemovesOutput) {
  ScratchDir dir;
  const std::string m0 = EncodeRun({{"fine", "1"}, {"the", "x"}});
  WriteFile(dir.Join("m0"), m0);
  auto done = RunReduceTask(Options(dir.Join("part"), "builtin:sum",
                                    {{dir.Join("m0"), 0, static_cast<int64_t>(m0.size())}}));
  EXPECT_THAT(done, StatusIs(absl::StatusCode::kInvalidArgument,
                             HasSubstr("attempt=j1-r0-a1: reducer builtin:sum: sum: key "
                                       "\"the\": value \"x\" is not a 64-bit integer")));
  EXPECT_THAT(dir.List(), ::testing::ElementsAre("m0"));
}

TEST(RunReduceTaskTest, MissingInputIsNotFoundNamingPath) {
  ScratchDir dir;
  auto done = RunReduceTask(Options(dir.Join("part"), "builtin:sum", {{"/no/such/map.out", 0, 5}}));
  EXPECT_THAT(done, StatusIs(absl::StatusCode::kNotFound,
                             "attempt=j1-r0-a1: open /no/such/map.out: No such file or directory"));
  EXPECT_THAT(dir.List(), IsEmpty());
}

TEST(RunReduceTaskTest, ShortOrCorruptInputIsDataLoss) {
  ScratchDir dir;
  std::string run = EncodeRun({{"a", "1"}, {"b", "2"}});
  WriteFile(dir.Join("m0"), run);
  EXPECT_THAT(RunReduceTask(Options(dir.Join("part"), "builtin:sum", {{dir.Join("m0"), 0, 100}})),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(dir.Join("m0") + " is 10 bytes")));
  // Group "b" starts at 5; its value "2" at 7 is cut.
  EXPECT_THAT(RunReduceTask(Options(dir.Join("part"), "builtin:sum", {{dir.Join("m0"), 0, 8}})),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("corrupt record in " + dir.Join("m0") + " at offset 7")));
  EXPECT_THAT(dir.List(), ::testing::ElementsAre("m0"));
}

TEST(RunReduceTaskTest, CancelledRemovesOutput) {
  ScratchDir dir;
  WriteFile(dir.Join("m0"), EncodeRun({{"a", "1"}}));
  std::atomic<bool> cancelled{true};
  ReduceTaskOptions options = Options(dir.Join("part"), "builtin:sum", {{dir.Join("m0"), 0, 5}});
  options.cancelled = &cancelled;
  EXPECT_THAT(RunReduceTask(options),
              StatusIs(absl::StatusCode::kCancelled, "attempt=j1-r0-a1: cancelled"));
  EXPECT_THAT(dir.List(), ::testing::ElementsAre("m0"));
}

TEST(RunReduceTaskTest, NoneReducerOrFailingExecReducerFails) {
  ScratchDir dir;
  EXPECT_THAT(RunReduceTask(Options(dir.Join("part"), "none", {})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("map-only")));
  EXPECT_THAT(RunReduceTask(Options(dir.Join("part"), "exec:exit 4", {})),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("exited with status 4")));
  EXPECT_THAT(dir.List(), IsEmpty());
}

}  // namespace
}  // namespace ampmr::worker
