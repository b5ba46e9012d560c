#include "worker/task/merge.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::EncodeRun;
using ::ampmr::worker::testing::Pairs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

Pairs Drain(MergingPairs* merge) {
  Pairs out;
  absl::string_view k;
  absl::string_view v;
  while (merge->Next(&k, &v)) out.emplace_back(std::string(k), std::string(v));
  return out;
}

Pairs MergeOf(const std::vector<std::string>& encoded) {
  std::vector<RunInput> runs;
  for (size_t i = 0; i < encoded.size(); ++i) {
    runs.push_back({encoded[i], "run" + std::to_string(i), 0});
  }
  MergingPairs merge(runs);
  Pairs out = Drain(&merge);
  EXPECT_THAT(merge.status(), IsOk());
  return out;
}

TEST(MergingPairsTest, NoRunsIsEmpty) { EXPECT_THAT(MergeOf({}), IsEmpty()); }

TEST(MergingPairsTest, EmptyRunsAreSkipped) {
  EXPECT_THAT(MergeOf({"", EncodeRun({{"a", "1"}, {"c", "3"}}), "", EncodeRun({{"b", "2"}}), ""}),
              ElementsAre(Pair("a", "1"), Pair("b", "2"), Pair("c", "3")));
}

TEST(MergingPairsTest, EqualKeysComeInRunOrderThenRecordOrder) {
  EXPECT_THAT(
      MergeOf({EncodeRun({{"k", "r0a"}, {"k", "r0b"}, {"z", "r0"}}),
               EncodeRun({{"a", "r1"}, {"k", "r1a"}}), EncodeRun({{"k", "r2a"}, {"k", "r2b"}})}),
      ElementsAre(Pair("a", "r1"), Pair("k", "r0a"), Pair("k", "r0b"), Pair("k", "r1a"),
                  Pair("k", "r2a"), Pair("k", "r2b"), Pair("z", "r0")));
}

TEST(MergingPairsTest, BytewiseOrderWithPrefixesAndHighBytes) {
  EXPECT_THAT(MergeOf({EncodeRun({{"", "e"}, {"ab", "1"}, {"\xff", "hi"}}),
                       EncodeRun({{"a", "0"}, {"abc", "2"}, {"b", "3"}})}),
              ElementsAre(Pair("", "e"), Pair("a", "0"), Pair("ab", "1"), Pair("abc", "2"),
                          Pair("b", "3"), Pair("\xff", "hi")));
}

TEST(MergingPairsTest, ManyRandomRunsEqualStableSortOfAll) {
  std::mt19937 rng(7);
  std::vector<Pairs> runs(23);
  Pairs all;
  for (size_t r = 0; r < runs.size(); ++r) {
    const int n = static_cast<int>(rng() % 300);  // some runs empty
    for (int i = 0; i < n; ++i) {
      runs[r].emplace_back("k" + std::to_string(rng() % 50),
                           std::to_string(r) + "/" + std::to_string(i));
    }
    std::stable_sort(runs[r].begin(), runs[r].end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    all.insert(all.end(), runs[r].begin(), runs[r].end());
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> encoded;
  for (const Pairs& run : runs) encoded.push_back(EncodeRun(run));
  EXPECT_EQ(MergeOf(encoded), all);
}

// Keys longer than the 8-byte prefix, and runs of one key within a run and
// across runs: the run that goes next changes only where the key does.
TEST(MergingPairsTest, LongKeysAndRunsOfOneKeyAndSameKey) {
  const std::string a(20, 'a');
  const std::string ab = a + "b";
  const std::string ac = a + "c";
  std::vector<std::string> encoded = {EncodeRun({{a, "r0"}, {ab, "r0x"}, {ab, "r0y"}, {ac, "r0"}}),
                                      EncodeRun({{ab, "r1x"}, {ab, "r1y"}, {"b", "r1"}}),
                                      EncodeRun({{a, "r2"}, {ac, "r2"}})};
  std::vector<RunInput> runs;
  for (size_t i = 0; i < encoded.size(); ++i) runs.push_back({encoded[i], "r", 0});
  MergingPairs merge(runs);
  Pairs out;
  std::vector<bool> same;
  absl::string_view k, v;
  while (merge.Next(&k, &v)) {
    out.emplace_back(std::string(k), std::string(v));
    same.push_back(merge.same_key());
  }
  EXPECT_THAT(out, ElementsAre(Pair(a, "r0"), Pair(a, "r2"), Pair(ab, "r0x"), Pair(ab, "r0y"),
                               Pair(ab, "r1x"), Pair(ab, "r1y"), Pair(ac, "r0"), Pair(ac, "r2"),
                               Pair("b", "r1")));
  EXPECT_THAT(same, ElementsAre(false, true, false, true, true, true, false, true, false));
}

// Under a --sort-key order, different keys can share an order prefix (here
// the number 1, and the same size): a run's next key with the prefix of the
// one returned is not taken for the same key.
TEST(MergingPairsTest, OrderPrefixTiesAreNotTakenForTheSameKey) {
  KeySpec spec;
  spec.sort_keys.push_back(SortKey{});
  spec.sort_keys.back().numeric = true;
  const KeyComparator order(spec);
  ASSERT_EQ(order.OrderPrefix("01"), order.OrderPrefix("1a"));
  std::string r0 = EncodeRun({{"01", "r0"}, {"1a", "r0"}});
  std::string r1 = EncodeRun({{"01", "r1"}});
  MergingPairs merge({{r0, "r0", 0}, {r1, "r1", 0}}, &order);
  Pairs out;
  std::vector<bool> same;
  absl::string_view k, v;
  while (merge.Next(&k, &v)) {
    out.emplace_back(std::string(k), std::string(v));
    same.push_back(merge.same_key());
  }
  EXPECT_THAT(out, ElementsAre(Pair("01", "r0"), Pair("01", "r1"), Pair("1a", "r0")));
  EXPECT_THAT(same, ElementsAre(false, true, false));
}

TEST(MergingPairsTest, CorruptRunEndsStreamWithDataLoss) {
  std::string good = EncodeRun({{"a", "1"}, {"b", "2"}});
  std::string bad = EncodeRun({{"aa", "1"}, {"bb", "2"}});
  bad.resize(bad.size() - 1);
  MergingPairs merge({{good, "/w/good", 0}, {bad, "/w/bad.out", 500}});
  Drain(&merge);
  EXPECT_THAT(merge.status(), StatusIs(absl::StatusCode::kDataLoss,
                                       HasSubstr("/w/bad.out at offset 511: group not ended")));
}

// A key's records may be split over groups in a row within a run: they
// still come together, in order, and count as one key.
TEST(MergingPairsTest, GroupsOfOneKeyInARowAreOneKey) {
  std::string r0;
  AppendGroup(&r0, "a", {"r0a"});
  AppendGroup(&r0, "a", {"r0b", "r0c"});
  AppendGroup(&r0, "b", {"r0"});
  std::string r1;
  AppendGroup(&r1, "a", {"r1a"});
  AppendGroup(&r1, "b", {"r1"});
  MergingPairs merge({{r0, "r0", 0}, {r1, "r1", 0}});
  Pairs out;
  std::vector<bool> same;
  absl::string_view k, v;
  while (merge.Next(&k, &v)) {
    out.emplace_back(std::string(k), std::string(v));
    same.push_back(merge.same_key());
  }
  EXPECT_THAT(merge.status(), IsOk());
  EXPECT_THAT(out, ElementsAre(Pair("a", "r0a"), Pair("a", "r0b"), Pair("a", "r0c"),
                               Pair("a", "r1a"), Pair("b", "r0"), Pair("b", "r1")));
  EXPECT_THAT(same, ElementsAre(false, true, true, true, false, true));
}

TEST(MergingPairsTest, ViewsStayValidWhileRunsLive) {
  std::string r0 = EncodeRun({{"a", "1"}, {"c", "3"}});
  std::string r1 = EncodeRun({{"b", "2"}});
  MergingPairs merge({{r0, "r0", 0}, {r1, "r1", 0}});
  std::vector<absl::string_view> keys;
  absl::string_view k, v;
  while (merge.Next(&k, &v)) keys.push_back(k);
  EXPECT_THAT(keys, ElementsAre("a", "b", "c"));
}

}  // namespace
}  // namespace ampmr::worker
