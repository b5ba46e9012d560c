#include "worker/task/map_output.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/key_comparator.h"
#include "worker/task/stable_hash.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::DecodeRun;
using ::ampmr::worker::testing::Pairs;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TaskSpec Builtin(const char* name) { return TaskSpec{TaskSpec::Kind::kBuiltin, name}; }

// Pairs over a small vocabulary, so keys repeat; values number the pairs so
// the order among equal keys is visible.
Pairs SomePairs(int n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  Pairs pairs;
  for (int i = 0; i < n; ++i) {
    std::string key = "w" + std::to_string(rng() % 97);
    if (i % 13 == 0) key += std::string(rng() % 40, 'z');  // some longer than 8 bytes
    pairs.emplace_back(key, std::to_string(i));
  }
  pairs.emplace_back("", "-7");  // the empty key is a key too
  return pairs;
}

// What the output must be with no combiner: per partition, the pairs in that
// partition stably sorted by key.
std::vector<Pairs> ExpectedPartitions(const Pairs& pairs, int reduces) {
  std::vector<Pairs> out(reduces);
  for (const auto& p : pairs) out[PartitionOf(p.first, reduces)].push_back(p);
  for (Pairs& part : out) {
    std::stable_sort(part.begin(), part.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  return out;
}

struct Collected {
  std::vector<PartitionExtent> extents;
  std::vector<Pairs> partitions;
  v1::FrameworkCounters framework;
  Counters counters;  // the user's
  int spills = 0;
};

MapOutputOptions Options(const ScratchDir& dir, int reduces, TaskSpec combiner = {},
                         size_t limit = MapOutputOptions::kDefaultBufferLimit) {
  MapOutputOptions options;
  options.partitions = reduces;
  options.combiner = std::move(combiner);
  options.buffer_limit = limit;
  options.spill_prefix = dir.Join("attempt");
  return options;
}

Collected Collect(const ScratchDir& dir, MapOutputOptions options, const Pairs& pairs) {
  Collected result;
  auto collector = MapOutputCollector::Create(std::move(options));
  EXPECT_THAT(collector, IsOk());
  for (const auto& [k, v] : pairs) (*collector)->Emit(k, v);
  EXPECT_THAT((*collector)->status(), IsOk());
  result.spills = (*collector)->spills();
  auto extents = (*collector)->Finish(dir.Join("out"));
  EXPECT_THAT(extents, IsOk());
  if (!extents.ok()) return result;
  result.extents = *extents;
  (*collector)->AddCountersTo(&result.framework, &result.counters);
  std::string data = ReadFile(dir.Join("out"));
  uint64_t expect_offset = 0;
  for (const PartitionExtent& e : result.extents) {
    EXPECT_EQ(e.offset, expect_offset) << "partitions are back to back";
    expect_offset = e.offset + e.length;
    result.partitions.push_back(DecodeRun(absl::string_view(data).substr(e.offset, e.length)));
    EXPECT_EQ(result.partitions.back().size(), e.records);
  }
  EXPECT_EQ(expect_offset, data.size());
  return result;
}

// Streaming output arrives as blocks of whole lines (EmitLines, in batches
// with the keys looked up ahead) or line by line (EmitLine): the same pairs
// either way, in every case a line can take: no tab (all key), an empty
// value, an empty key, a CR kept as part of the value, keys longer than 8
// bytes, with the sum fast path and without, and with a tiny buffer that
// spills in the middle of a batch.
TEST(MapOutputCollectorTest, BlocksOfLinesGiveWhatLineByLineGives) {
  std::string block;
  for (int i = 0; i < 1000; ++i) {
    const std::string lines[] = {
        "w" + std::to_string(i % 37) + "\t1\n",
        "no-tab-" + std::to_string(i % 5) + "\n",
        "empty-value\t\n",
        "\t2\n",  // the empty key
        "crlf\t3\r\n",
        "a-key-longer-than-eight-" + std::to_string(i % 11) + "\t4\n",
    };
    block += lines[i % 6];
  }
  for (TaskSpec combiner : {TaskSpec{}, Builtin("sum")}) {
    if (combiner.kind != TaskSpec::Kind::kNone) {  // the sum fast path wants integers
      std::string sums;
      for (absl::string_view line : absl::StrSplit(block, '\n', absl::SkipEmpty())) {
        if (absl::StrContains(line, '\t') && !absl::EndsWith(line, "\t") &&
            !absl::EndsWith(line, "\r")) {
          absl::StrAppend(&sums, line, "\n");
        }
      }
      block = sums;
    }
    for (size_t limit : {MapOutputOptions::kDefaultBufferLimit, size_t{512}}) {
      SCOPED_TRACE(::testing::Message() << "limit " << limit << " combiner " << combiner.arg);
      std::vector<Pairs> got[2];
      for (int way = 0; way < 2; ++way) {
        ScratchDir dir;
        auto collector = MapOutputCollector::Create(Options(dir, 3, combiner, limit));
        ASSERT_THAT(collector, IsOk());
        if (way == 0) {
          (*collector)->EmitLines(block);
        } else {
          for (absl::string_view line : absl::StrSplit(block, '\n', absl::SkipEmpty())) {
            (*collector)->EmitLine(line);
          }
        }
        ASSERT_THAT((*collector)->status(), IsOk());
        auto extents = (*collector)->Finish(dir.Join("out"));
        ASSERT_THAT(extents, IsOk());
        std::string data = ReadFile(dir.Join("out"));
        for (const PartitionExtent& e : *extents) {
          got[way].push_back(DecodeRun(absl::string_view(data).substr(e.offset, e.length)));
        }
      }
      EXPECT_EQ(got[0], got[1]);
      bool crlf = false;
      for (const Pairs& part : got[0]) {
        for (const auto& [k, v] : part) crlf = crlf || (k == "crlf" && v == "3\r");
      }
      EXPECT_EQ(crlf, combiner.kind == TaskSpec::Kind::kNone);
    }
  }
}

TEST(MapOutputCollectorTest, NoCombinerSortsStablyPerPartition) {
  ScratchDir dir;
  Pairs pairs = SomePairs(5000);
  Collected out = Collect(dir, Options(dir, 3), pairs);
  EXPECT_EQ(out.spills, 0);
  EXPECT_EQ(out.partitions, ExpectedPartitions(pairs, 3));
  EXPECT_EQ(out.framework.map_output_records(), static_cast<int64_t>(pairs.size()));
  EXPECT_EQ(out.framework.combine_input_records(), 0);
  EXPECT_EQ(out.framework.spilled_bytes(), static_cast<int64_t>(ReadFile(dir.Join("out")).size()));
  EXPECT_THAT(dir.List(), ElementsAre("out"));
}

TEST(MapOutputCollectorTest, TinyBufferSpillsManyRunsAndMergesThem) {
  ScratchDir dir;
  Pairs pairs = SomePairs(5000);
  Collected out = Collect(dir, Options(dir, 4, {}, 4096), pairs);
  EXPECT_GT(out.spills, 5);
  EXPECT_EQ(out.partitions, ExpectedPartitions(pairs, 4));
  // Every run, then the merged output.
  EXPECT_GT(out.framework.spilled_bytes(), static_cast<int64_t>(ReadFile(dir.Join("out")).size()));
  EXPECT_THAT(dir.List(), ElementsAre("out")) << "spill runs are removed";
}

std::map<std::string, int64_t> Sums(const Pairs& pairs) {
  std::map<std::string, int64_t> sums;
  for (const auto& [k, v] : pairs) sums[k] += std::stoll(v);
  return sums;
}

// Sum fast path: per partition, each key once with its sum, sorted.
void ExpectSummed(const Collected& out, const Pairs& pairs, int reduces) {
  std::vector<Pairs> expected(reduces);
  for (const auto& [k, sum] : Sums(pairs)) {
    expected[PartitionOf(k, reduces)].emplace_back(k, std::to_string(sum));
  }
  EXPECT_EQ(out.partitions, expected);
}

TEST(MapOutputCollectorTest, SumCombinerFastPath) {
  ScratchDir dir;
  Pairs pairs = SomePairs(5000);
  pairs.emplace_back("neg", "-12");
  Collected out = Collect(dir, Options(dir, 3, Builtin("sum")), pairs);
  EXPECT_EQ(out.spills, 0);
  ExpectSummed(out, pairs, 3);
  const int64_t distinct = static_cast<int64_t>(Sums(pairs).size());
  EXPECT_EQ(out.framework.map_output_records(), static_cast<int64_t>(pairs.size()));
  EXPECT_EQ(out.framework.combine_input_records(), static_cast<int64_t>(pairs.size()));
  EXPECT_EQ(out.framework.combine_output_records(), distinct);
}

TEST(MapOutputCollectorTest, SumCombinerWithSpillsSumsAgainWhenMerging) {
  ScratchDir dir;
  Pairs pairs = SomePairs(20000);
  Collected out = Collect(dir, Options(dir, 2, Builtin("sum"), 2048), pairs);
  EXPECT_GT(out.spills, 2);
  ExpectSummed(out, pairs, 2);
  EXPECT_THAT(dir.List(), ElementsAre("out"));
}

TEST(MapOutputCollectorTest, CountCombinerRunsOncePerPair) {
  // count is not idempotent: run again while merging it would count spills.
  // Summing its outputs must give each key's number of pairs.
  ScratchDir dir;
  Pairs pairs = SomePairs(5000);
  Collected out = Collect(dir, Options(dir, 2, Builtin("count"), 4096), pairs);
  EXPECT_GT(out.spills, 2);
  std::map<std::string, int64_t> expected;
  for (const auto& p : pairs) ++expected[p.first];
  Pairs all;
  for (const Pairs& part : out.partitions) {
    EXPECT_TRUE(std::is_sorted(part.begin(), part.end(),
                               [](const auto& a, const auto& b) { return a.first < b.first; }));
    all.insert(all.end(), part.begin(), part.end());
  }
  EXPECT_EQ(Sums(all), expected);
  EXPECT_EQ(out.framework.combine_input_records(), static_cast<int64_t>(pairs.size()));
  EXPECT_EQ(out.framework.combine_output_records(), static_cast<int64_t>(all.size()));
}

TEST(MapOutputCollectorTest, IdentityCombinerKeepsEverything) {
  ScratchDir dir;
  Pairs pairs = SomePairs(3000);
  Collected out = Collect(dir, Options(dir, 3, Builtin("identity"), 4096), pairs);
  EXPECT_EQ(out.partitions, ExpectedPartitions(pairs, 3));
}

TEST(MapOutputCollectorTest, EmptyPartitionsTakeNoBytes) {
  ScratchDir dir;
  Collected out = Collect(dir, Options(dir, 5), {{"only", "1"}, {"only", "2"}});
  ASSERT_EQ(out.extents.size(), 5u);
  const int p = PartitionOf("only", 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out.extents[i].length == 0, i != p) << i;
    EXPECT_EQ(out.extents[i].records, i == p ? 2u : 0u);
  }
}

TEST(MapOutputCollectorTest, NoOutputIsAnEmptyFile) {
  ScratchDir dir;
  Collected out = Collect(dir, Options(dir, 2, Builtin("sum")), {});
  EXPECT_EQ(ReadFile(dir.Join("out")), "");
  EXPECT_EQ(out.extents.size(), 2u);
}

TEST(MapOutputCollectorTest, SumFastPathRejectsNonIntegerNamingKey) {
  ScratchDir dir;
  auto collector = MapOutputCollector::Create(Options(dir, 2, Builtin("sum")));
  ASSERT_THAT(collector, IsOk());
  (*collector)->Emit("good", "1");
  (*collector)->Emit("bad", "one");
  (*collector)->Emit("good", "1");
  EXPECT_THAT((*collector)->status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key \"bad\": value \"one\" is not a 64-bit integer")));
  EXPECT_THAT((*collector)->Finish(dir.Join("out")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(dir.List().empty());
}

TEST(MapOutputCollectorTest, CancelledFinishLeavesNothing) {
  ScratchDir dir;
  std::atomic<bool> cancelled{false};
  MapOutputOptions options = Options(dir, 2, {}, 1024);
  options.cancelled = &cancelled;
  auto collector = MapOutputCollector::Create(std::move(options));
  ASSERT_THAT(collector, IsOk());
  for (const auto& [k, v] : SomePairs(1000)) (*collector)->Emit(k, v);
  ASSERT_GT((*collector)->spills(), 0);
  cancelled = true;
  EXPECT_THAT((*collector)->Finish(dir.Join("out")), StatusIs(absl::StatusCode::kCancelled));
  collector->reset();
  EXPECT_TRUE(dir.List().empty());
}

TEST(MapOutputCollectorTest, DestroyedUnfinishedRemovesSpills) {
  ScratchDir dir;
  {
    auto collector = MapOutputCollector::Create(Options(dir, 2, {}, 1024));
    ASSERT_THAT(collector, IsOk());
    for (const auto& [k, v] : SomePairs(1000)) (*collector)->Emit(k, v);
    ASSERT_GT((*collector)->spills(), 0);
    EXPECT_FALSE(dir.List().empty());
  }
  EXPECT_TRUE(dir.List().empty());
}

TEST(MapOutputCollectorTest, UserCountersAreReported) {
  ScratchDir dir;
  auto collector = MapOutputCollector::Create(Options(dir, 1));
  ASSERT_THAT(collector, IsOk());
  (*collector)->IncrementCounter("app.lines", 2);
  (*collector)->IncrementCounter("app.lines", 3);
  ASSERT_THAT((*collector)->Finish(dir.Join("out")), IsOk());
  v1::FrameworkCounters framework;
  Counters counters;
  (*collector)->AddCountersTo(&framework, &counters);
  EXPECT_EQ(counters["app.lines"], 5);
}

TEST(MapOutputCollectorTest, BadCombinerOrPartitionsFailCreate) {
  ScratchDir dir;
  EXPECT_THAT(MapOutputCollector::Create(Options(dir, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      MapOutputCollector::Create(Options(dir, 1, TaskSpec{TaskSpec::Kind::kBuiltin, "nope"})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("combiner")));
  EXPECT_THAT(MapOutputCollector::Create(
                  Options(dir, 1, TaskSpec{TaskSpec::Kind::kPlugin, dir.Join("none.so")})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir.Join("none.so"))));
}


// --key-fields 2 --partition-fields 1 --sort-key "-k1,1 -k2,2nr": lines
// split after the second field, every key of a year in one partition, sorted
// by year then temperature descending, through spills and merges.
TEST(MapOutputCollectorTest, KeyFieldsPartitionFieldsAndSortKey) {
  ScratchDir dir;
  MapOutputOptions options = Options(dir, 3, {}, 2048);
  absl::StatusOr<KeySpec> keys = MakeKeySpec(2, "", 1, "-k1,1 -k2,2nr");
  ASSERT_THAT(keys, IsOk());
  options.keys = *keys;
  auto collector = MapOutputCollector::Create(std::move(options));
  ASSERT_THAT(collector, IsOk());
  std::mt19937 rng(7);
  std::vector<std::string> lines;
  for (int i = 0; i < 2000; ++i) {
    lines.push_back(absl::StrCat(1900 + rng() % 20, "\t", static_cast<int>(rng() % 1000) - 500,
                                 "\tstation", i));
  }
  for (const std::string& line : lines) (*collector)->EmitLine(line);
  EXPECT_GT((*collector)->spills(), 1);
  auto extents = (*collector)->Finish(dir.Join("out"));
  ASSERT_THAT(extents, IsOk());
  std::string data = ReadFile(dir.Join("out"));
  const KeyComparator order(*keys);
  std::map<std::string, int> year_partition;
  size_t records = 0;
  for (int p = 0; p < 3; ++p) {
    const PartitionExtent& e = (*extents)[p];
    Pairs part = DecodeRun(absl::string_view(data).substr(e.offset, e.length));
    records += part.size();
    for (size_t i = 0; i < part.size(); ++i) {
      const auto& [key, value] = part[i];
      EXPECT_THAT(value, ::testing::StartsWith("station"));
      std::string year = key.substr(0, key.find('\t'));
      auto [it, inserted] = year_partition.emplace(year, p);
      EXPECT_EQ(it->second, p) << "year " << year << " in two partitions";
      if (i > 0) EXPECT_FALSE(order.Less(key, part[i - 1].first)) << key << " after " << part[i - 1].first;
    }
  }
  EXPECT_EQ(records, lines.size());
}

// Total order: partition r holds the keys in [cut[r-1], cut[r]).
TEST(MapOutputCollectorTest, CutPointsRangePartition) {
  ScratchDir dir;
  MapOutputOptions options = Options(dir, 3, Builtin("sum"));
  options.cut_points = {"h", "p"};
  auto collector = MapOutputCollector::Create(std::move(options));
  ASSERT_THAT(collector, IsOk());
  for (const char* k : {"a", "h", "g", "zz", "p", "o", "b"}) (*collector)->Emit(k, "1");
  auto extents = (*collector)->Finish(dir.Join("out"));
  ASSERT_THAT(extents, IsOk());
  std::string data = ReadFile(dir.Join("out"));
  std::vector<Pairs> parts;
  for (const PartitionExtent& e : *extents) {
    parts.push_back(DecodeRun(absl::string_view(data).substr(e.offset, e.length)));
  }
  EXPECT_THAT(parts, ElementsAre(Pairs{{"a", "1"}, {"b", "1"}, {"g", "1"}},
                                 Pairs{{"h", "1"}, {"o", "1"}}, Pairs{{"p", "1"}, {"zz", "1"}}));
}

}  // namespace
}  // namespace ampmr::worker
