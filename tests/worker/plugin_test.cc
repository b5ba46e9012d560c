// Plugins loaded from real shared objects (built by tests/worker/CMakeLists.txt
// and examples/), through the task factories and the map and reduce tasks.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/task/map_output.h"
#include "worker/task/map_task.h"
#include "worker/task/plugin_loader.h"
#include "worker/task/task_factory.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::CollectingEmitter;
using ::ampmr::worker::testing::DecodeRun;
using ::ampmr::worker::testing::NaiveWordCount;
using ::ampmr::worker::testing::Pairs;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::VectorPairs;
using ::ampmr::worker::testing::WriteFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TaskSpec Plugin(const std::string& path) { return TaskSpec{TaskSpec::Kind::kPlugin, path}; }

AttemptContext MapContext() {
  AttemptContext c;
  c.job_id = "j1";
  c.task_id = "m3";
  c.attempt_id = "j1-m3-a2";
  c.partition = 3;
  c.input_file = "/data/in.txt";
  c.input_start = 100;
  c.input_length = 50;
  c.env["p"] = "pv";
  return c;
}

MapInput Input(absl::string_view data) {
  MapInput in;
  in.data = data;
  return in;
}

TEST(PluginLoaderTest, LoadsAPluginOfThisVersion) {
  auto plugin = LoadPlugin(TEST_PLUGIN);
  ASSERT_THAT(plugin, IsOk());
  EXPECT_EQ((*plugin)->interface_version, plugin::kInterfaceVersion);
  EXPECT_STREQ((*plugin)->name, "test");
  // Loading again is the same plugin.
  EXPECT_EQ(*LoadPlugin(TEST_PLUGIN), *plugin);
}

TEST(PluginLoaderTest, OtherInterfaceVersionIsRefusedNamingPathAndBothVersions) {
  EXPECT_THAT(LoadPlugin(WRONG_VERSION_PLUGIN),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(std::string("plugin ") + WRONG_VERSION_PLUGIN),
                             HasSubstr("built for plugin interface version 999"),
                             HasSubstr("this worker speaks version 1"))));
}

TEST(PluginLoaderTest, MissingFileSymbolOrSharedObjectAreClearErrors) {
  ScratchDir dir;
  EXPECT_THAT(
      LoadPlugin(dir.Join("absent.so")),
      StatusIs(absl::StatusCode::kNotFound, AllOf(HasSubstr("plugin " + dir.Join("absent.so")),
                                                  HasSubstr("No such file or directory"))));
  EXPECT_THAT(LoadPlugin(NO_ENTRY_PLUGIN),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(std::string("plugin ") + NO_ENTRY_PLUGIN),
                             HasSubstr("no symbol ampmr_plugin_entry"))));
  WriteFile(dir.Join("text.so"), "not an ELF file\n");
  EXPECT_THAT(
      LoadPlugin(dir.Join("text.so")),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("plugin " + dir.Join("text.so")), HasSubstr("cannot load"))));
}

TEST(PluginTest, MapperSeesItsTaskAndParametersAndCountsLines) {
  auto mapper = MakeMapper(Plugin(TEST_PLUGIN), MapContext());
  ASSERT_THAT(mapper, IsOk());
  CollectingEmitter out;
  ASSERT_THAT((*mapper)->Map(Input("a\nb\r\n"), &out), IsOk());
  ASSERT_THAT((*mapper)->Map(Input("c"), &out), IsOk());
  ASSERT_THAT((*mapper)->Finish(&out), IsOk());
  const std::string info = "j1-m3-a2|/data/in.txt|100|50|pv";
  EXPECT_THAT(out.pairs, ElementsAre(Pair("a", info), Pair("b", info), Pair("c", info)));
  EXPECT_THAT(out.counters, ElementsAre(Pair("test.lines", 3)));
}

TEST(PluginTest, ErrorsAndExceptionsFailTheCall) {
  auto mapper = MakeMapper(Plugin(TEST_PLUGIN), MapContext());
  ASSERT_THAT(mapper, IsOk());
  CollectingEmitter out;
  EXPECT_THAT((*mapper)->Map(Input("ok\nfail\n"), &out),
              StatusIs(absl::StatusCode::kInvalidArgument, "bad line: fail"));
  EXPECT_THAT((*mapper)->Map(Input("throw\n"), &out),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("threw an exception: thrown for line: throw")));
}

TEST(PluginTest, ReducerGetsEachKeyOnceWithAllItsValues) {
  AttemptContext context;
  context.is_map = false;
  auto reducer = MakeReducer(Plugin(TEST_PLUGIN), context);
  ASSERT_THAT(reducer, IsOk());
  VectorPairs in({{"a", "1"},
                  {"a", "2"},
                  {"first-only", "x"},
                  {"first-only", "y"},
                  {"first-only", "z"},
                  {"k", ""},
                  {"z", "3"},
                  {"z", "4"}});
  CollectingEmitter out;
  ASSERT_THAT((*reducer)->Reduce(&in, &out), IsOk());
  EXPECT_THAT(out.pairs, ElementsAre(Pair("a", "1,2"), Pair("first-only", "x"), Pair("k", ""),
                                     Pair("z", "3,4")));
  EXPECT_THAT(out.counters, ElementsAre(Pair("test.groups", 4)));
}

TEST(PluginTest, RolesThePluginLacksAreClearErrors) {
  EXPECT_THAT(MakeMapper(Plugin(NO_MAPPER_PLUGIN)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(NO_MAPPER_PLUGIN), HasSubstr("provides no mapper"))));
  // Without a combiner factory, the reducer serves as combiner.
  EXPECT_THAT(MakeCombiner(Plugin(NO_MAPPER_PLUGIN)), IsOk());
}

TEST(PluginTest, UnsortedCombinerOutputIsSortedAgain) {
  // The test plugin's combiner emits its groups in reverse order.
  ScratchDir dir;
  MapOutputOptions options;
  options.partitions = 1;
  options.combiner = Plugin(TEST_PLUGIN);
  options.combiner_context = MapContext();
  options.spill_prefix = dir.Join("attempt");
  auto collector = MapOutputCollector::Create(options);
  ASSERT_THAT(collector, IsOk());
  for (const char* k : {"b", "a", "c", "a", "b"}) (*collector)->Emit(k, "v");
  auto extents = (*collector)->Finish(dir.Join("out"));
  ASSERT_THAT(extents, IsOk());
  EXPECT_THAT(DecodeRun(ReadFile(dir.Join("out"))),
              ElementsAre(Pair("a", "v,v"), Pair("b", "v,v"), Pair("c", "v")));
  v1::FrameworkCounters framework;
  Counters counters;
  (*collector)->AddCountersTo(&framework, &counters);
  EXPECT_EQ(counters["test.groups"], 3);
  EXPECT_EQ(framework.combine_output_records(), 3);
}

// A map task of `plugin` over `text`, written to dir/in.
MapTaskOptions PluginMapTask(const ScratchDir& dir, const std::string& plugin,
                             const std::string& text) {
  WriteFile(dir.Join("in"), text);
  MapTaskOptions options;
  v1::TaskContext* task = options.run.mutable_task();
  task->set_job_id("j1");
  task->set_task_id("m0");
  task->set_attempt_id("j1-m0-a1");
  task->set_mapper("plugin:" + plugin);
  task->set_reduces(1);
  options.run.mutable_split()->set_path(dir.Join("in"));
  options.run.mutable_split()->set_length(static_cast<int64_t>(text.size()));
  options.work_dir = dir.Join("w");
  return options;
}

TEST(PluginTest, WordCountExampleCountsLikeTheBuiltin) {
  ScratchDir dir;
  std::string text = "The cat and the hat.\nA cat\tsat; the END\n\nend";
  MapTaskOptions options = PluginMapTask(dir, WORDCOUNT_PLUGIN, text);
  options.run.mutable_task()->set_combiner(std::string("plugin:") + WORDCOUNT_PLUGIN);
  auto done = RunMapTask(options);
  ASSERT_THAT(done, IsOk());
  Pairs pairs = DecodeRun(ReadFile(done->output_path()));
  std::map<std::string, int64_t> counts;
  for (const auto& [k, v] : pairs) counts[k] += std::stoll(v);
  EXPECT_EQ(counts, NaiveWordCount(text));
  EXPECT_EQ(done->counters().at("wordcount.words"), 11);
  EXPECT_EQ(done->counters().at("wordcount.lines"), 4);
}

// The test plugin's mapper with --task-timeout `timeout`.
MapTaskOptions SleepyMapTask(const ScratchDir& dir, const std::string& text, double timeout) {
  MapTaskOptions options = PluginMapTask(dir, TEST_PLUGIN, text);
  options.run.mutable_task()->set_timeout_seconds(timeout);
  return options;
}

// An in-process mapper cannot be stopped mid-call: one call that makes no
// progress for longer than --task-timeout fails the attempt once it returns.

TEST(PluginTest, InProcessMapperThatStallsPastTheTaskTimeoutFails) {
  ScratchDir dir;
  MapTaskOptions options = SleepyMapTask(dir, "a\nsleep-ms:700\nb\n", 0.3);
  EXPECT_THAT(RunMapTask(options), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                            HasSubstr("no progress for --task-timeout 0.3s")));
}

TEST(PluginTest, InProcessMapperProgressingBlockByBlockOutlivesTheTaskTimeout) {
  ScratchDir dir;
  // Eight blocks of one line each, 100 ms apiece: 0.8 s in all, never 0.5 s
  // without progress.
  std::string text;
  for (int i = 0; i < 8; ++i) text += "sleep-ms:100\n";
  MapTaskOptions options = SleepyMapTask(dir, text, 0.5);
  options.read_block_size = 13;  // one line
  auto done = RunMapTask(options);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->framework_counters().map_output_records(), 8);
}

}  // namespace

}  // namespace ampmr::worker
