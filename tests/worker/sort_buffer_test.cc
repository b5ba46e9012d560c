#include "worker/task/sort_buffer.h"

#include <algorithm>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_util.h"
#include "worker/task/record_io.h"
#include "worker/task/run_writer.h"
#include "worker/task/stable_hash.h"

namespace ampmr::worker {
namespace {

using ::ampmr::worker::testing::DecodeRun;
using ::ampmr::worker::testing::Pairs;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;

int First(absl::string_view) { return 0; }
int ByHash(absl::string_view key) { return static_cast<int>(StableHash64(key) % 2); }

// What Sort must give: bytewise key order, emit order among equal keys.
Pairs Expected(Pairs pairs) {
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return pairs;
}

Pairs SortedBy(SortBuffer* buffer, int partition) {
  Pairs out;
  buffer->Sort();
  auto sorted = buffer->Sorted(partition);
  absl::string_view k;
  absl::string_view v;
  while (sorted->Next(&k, &v)) out.emplace_back(std::string(k), std::string(v));
  return out;
}

// Keys built to hit every path: shared prefixes longer and shorter than 8
// bytes, zero bytes against padding, bytes >= 0x80, empty keys, many
// duplicates, groups big enough to radix and small enough to insert.
std::string RandomKey(std::mt19937* rng) {
  static const std::vector<std::string> stems = {"",
                                                 "a",
                                                 "ab",
                                                 "the",
                                                 "abcdefgh",
                                                 "abcdefghi",
                                                 std::string("abcdefgh\0", 9),
                                                 std::string("ab\0", 3),
                                                 "zz",
                                                 "\xff",
                                                 std::string("\x80\0", 2)};
  std::string key = stems[(*rng)() % stems.size()];
  int extra = static_cast<int>((*rng)() % 12);
  for (int i = 0; i < extra; ++i) {
    static const char alphabet[] = {'\0', 'a', 'b', 'z', '\x7f', '\x80', '\xff'};
    key.push_back(alphabet[(*rng)() % sizeof(alphabet)]);
  }
  return key;
}

TEST(SortBufferTest, RadixSortEqualsStableSortOnTrickyKeys) {
  for (int seed = 0; seed < 20; ++seed) {
    std::mt19937 rng(seed);
    size_t n = seed < 10 ? static_cast<size_t>(rng() % 50) : 20000 + rng() % 30000;
    SortBuffer buffer(2);
    Pairs in[2];
    for (size_t i = 0; i < n; ++i) {
      std::string key = RandomKey(&rng);
      int p = static_cast<int>(StableHash64(key) % 2);
      std::string value = std::to_string(i);
      buffer.Add(key, value, ByHash);
      in[p].emplace_back(key, value);
    }
    for (int p = 0; p < 2; ++p) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " partition " << p);
      ASSERT_EQ(SortedBy(&buffer, p), Expected(in[p]));
    }
  }
}

TEST(SortBufferTest, ManyEqualKeysKeepTheirOrder) {
  SortBuffer buffer(1);
  Pairs in;
  for (int i = 0; i < 100000; ++i) {
    static const std::string keys[] = {"the", "thee", std::string("the\0", 4)};
    in.emplace_back(keys[i % 3], std::to_string(i));
    buffer.Add(in.back().first, in.back().second, First);
  }
  EXPECT_EQ(SortedBy(&buffer, 0), Expected(in));
}

TEST(SortBufferTest, SortsAgainAfterClear) {
  SortBuffer buffer(1);
  buffer.Add("b", "1", First);
  buffer.Add("a", "2", First);
  EXPECT_EQ(SortedBy(&buffer, 0), (Pairs{{"a", "2"}, {"b", "1"}}));
  buffer.Clear();
  buffer.Add("d", "3", First);
  buffer.Add("c", "4", First);
  EXPECT_EQ(SortedBy(&buffer, 0), (Pairs{{"c", "4"}, {"d", "3"}}));
}

TEST(SortBufferTest, EmptyKeysAndValues) {
  SortBuffer buffer(1);
  Pairs in = {{"", ""}, {"b", ""}, {"", "x"}, {"a", ""}, {"", ""}};
  for (const auto& [k, v] : in) buffer.Add(k, v, First);
  EXPECT_EQ(SortedBy(&buffer, 0), Expected(in));
}

TEST(SortBufferTest, PartitionerRunsOncePerDistinctKey) {
  SortBuffer buffer(3);
  int calls = 0;
  auto partition_of = [&calls](absl::string_view key) {
    ++calls;
    return static_cast<int>(key.size() % 3);
  };
  Pairs in[3];
  for (int i = 0; i < 3000; ++i) {
    std::string key = std::string(1 + i % 7, 'a') + (i % 2 == 0 ? "" : "-longer-than-eight");
    buffer.Add(key, std::to_string(i), partition_of);
    in[key.size() % 3].emplace_back(key, std::to_string(i));
  }
  EXPECT_EQ(calls, 14);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(SortedBy(&buffer, p), Expected(in[p])) << p;
}

// Past 64K pairs with more than half of them distinct keys, the buffer stops
// looking keys up: a key seen again gets an entry of its own, and its pairs
// must still come out together, in emit order, with the first entry's.
// (Bytewise, and by a --sort-key order, where a sort that moved equal keys
// would show.)
TEST(SortBufferTest, KeysSeenAgainAfterLookupsStopKeepEmitOrder) {
  KeySpec spec;
  spec.sort_keys.push_back(SortKey{});
  spec.sort_keys.back().start_char = 3;  // "unique12" and "ze12" tie on "12"
  const KeyComparator by_field(spec);
  for (const KeyComparator* order : {static_cast<const KeyComparator*>(nullptr), &by_field}) {
    SortBuffer buffer(2);
    Pairs in[2];
    auto add = [&](const std::string& key, const std::string& value) {
      buffer.Add(key, value, ByHash);
      in[ByHash(key)].emplace_back(key, value);
    };
    for (int i = 0; i < 70000; ++i) add("unique" + std::to_string(i), std::to_string(i));
    for (int i = 0; i < 50000; ++i) {
      static const std::string again[] = {"unique7", "unique123456789", "",
                                          "zz",      "unique69999",     "ze12"};
      add(again[i % 6], "again" + std::to_string(i));
    }
    buffer.Sort(order);
    for (int p = 0; p < 2; ++p) {
      std::stable_sort(in[p].begin(), in[p].end(), [order](const auto& a, const auto& b) {
        return order == nullptr ? a.first < b.first : order->Less(a.first, b.first);
      });
      Pairs out;
      auto sorted = buffer.Sorted(p);
      absl::string_view k;
      absl::string_view v;
      while (sorted->Next(&k, &v)) out.emplace_back(std::string(k), std::string(v));
      EXPECT_TRUE(out == in[p]) << "partition " << p << (order ? " by field" : " bytewise");
    }
  }
}

// With --sort-key the keys sort by the comparator (prefixes that tie for
// different bytes included), and only equal bytes group.
TEST(SortBufferTest, SortKeyOrderIsStableSortByTheComparator) {
  KeySpec spec;
  spec.sort_keys.push_back(SortKey{});
  spec.sort_keys.back().numeric = true;
  spec.sort_keys.back().reverse = true;
  const KeyComparator order(spec);
  std::mt19937 rng(7);
  SortBuffer buffer(1);
  Pairs in;
  static const std::vector<std::string> keys = {
      "10", "010", "9", "09x", "abc", "", "-3", "1e", "1f", "100000000000000000000", "7.5", "7.50"};
  for (int i = 0; i < 5000; ++i) {
    in.emplace_back(keys[rng() % keys.size()], std::to_string(i));
    buffer.Add(in.back().first, in.back().second, First);
  }
  std::stable_sort(in.begin(), in.end(),
                   [&order](const auto& a, const auto& b) { return order.Less(a.first, b.first); });
  buffer.Sort(&order);
  Pairs out;
  auto sorted = buffer.Sorted(0);
  EXPECT_EQ(sorted->size(), in.size());
  absl::string_view k;
  absl::string_view v;
  while (sorted->Next(&k, &v)) out.emplace_back(std::string(k), std::string(v));
  EXPECT_EQ(out, in);
}

// AddBatch is n calls of Add: batches with repeated keys, keys new in the
// batch, a table that grows, lookups that stop, long and empty keys.
TEST(SortBufferTest, AddBatchEqualsAddOneByOne) {
  std::mt19937 rng(11);
  SortBuffer one_by_one(2);
  SortBuffer batched(2);
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (int i = 0; i < 150000; ++i) {
    // First mostly repeated keys, then mostly distinct ones.
    keys.push_back(i < 40000 ? RandomKey(&rng) : "u" + std::to_string(i));
    values.push_back(std::string(rng() % 3 == 0 ? 200 : 1, static_cast<char>('a' + i % 26)));
  }
  for (size_t i = 0; i < keys.size(); ++i) one_by_one.Add(keys[i], values[i], ByHash);
  for (size_t i = 0; i < keys.size();) {
    const int n = std::min<int>(1 + static_cast<int>(rng() % SortBuffer::kMaxBatch),
                                static_cast<int>(keys.size() - i));
    absl::string_view k[SortBuffer::kMaxBatch];
    absl::string_view v[SortBuffer::kMaxBatch];
    for (int j = 0; j < n; ++j) {
      k[j] = keys[i + j];
      v[j] = values[i + j];
    }
    batched.AddBatch(k, v, n, ByHash);
    i += n;
  }
  EXPECT_EQ(batched.pairs(), keys.size());
  for (int p = 0; p < 2; ++p) EXPECT_EQ(SortedBy(&batched, p), SortedBy(&one_by_one, p)) << p;
}

// Keys cut from one block, whose bytes up to the block's end may be read:
// the prefix loaded at once must equal KeyPrefix's, for keys of every size,
// and for keys within 8 bytes of the end (which are read the careful way).
TEST(SortBufferTest, AddBatchWithReadableBlockEqualsAdd) {
  std::mt19937 rng(5);
  std::string block;
  std::vector<std::pair<size_t, size_t>> at;  // key offset and size
  for (int i = 0; i < 5000; ++i) {
    std::string key = RandomKey(&rng);
    at.emplace_back(block.size(), key.size());
    block += key;
    block += '\t';  // the value: empty, so that keys end near the block's end
  }
  // Exactly as long as the block: a read past it would overflow the heap.
  std::unique_ptr<char[]> copy(new char[block.size()]);
  block.copy(copy.get(), block.size());
  SortBuffer one_by_one(2);
  SortBuffer batched(2);
  for (size_t i = 0; i < at.size(); i += SortBuffer::kMaxBatch) {
    absl::string_view k[SortBuffer::kMaxBatch];
    absl::string_view v[SortBuffer::kMaxBatch];
    const int n = static_cast<int>(std::min<size_t>(SortBuffer::kMaxBatch, at.size() - i));
    std::vector<std::string> values(n);
    for (int j = 0; j < n; ++j) {
      values[j] = std::to_string(i + j);
      k[j] = absl::string_view(copy.get() + at[i + j].first, at[i + j].second);
      v[j] = values[j];
      one_by_one.Add(k[j], v[j], ByHash);
    }
    batched.AddBatch(k, v, n, ByHash, copy.get() + block.size());
  }
  for (int p = 0; p < 2; ++p) EXPECT_EQ(SortedBy(&batched, p), SortedBy(&one_by_one, p)) << p;
}

// A run written from the buffer has one group per distinct key, its values
// in emit order (pieces of a list that grew included), and counts records.
TEST(SortBufferTest, WriteSortedWritesOneGroupPerKey) {
  ScratchDir dir;
  SortBuffer buffer(2);
  Pairs in[2];
  for (int i = 0; i < 30000; ++i) {
    std::string key = i % 2 == 0 ? "the" : "word" + std::to_string(i % 7);
    std::string value = std::to_string(i);
    buffer.Add(key, value, ByHash);
    in[ByHash(key)].emplace_back(key, value);
  }
  buffer.Sort();
  auto run = RunWriter::Create(dir.Join("run"), 2, nullptr);
  ASSERT_TRUE(run.ok());
  buffer.WriteSorted(0, run->get());
  (*run)->StartPartition(1);
  buffer.WriteSorted(1, run->get());
  auto extents = (*run)->Finish();
  ASSERT_TRUE(extents.ok()) << extents.status();
  const std::string data = ReadFile(dir.Join("run"));
  for (int p = 0; p < 2; ++p) {
    SCOPED_TRACE(p);
    const absl::string_view part =
        absl::string_view(data).substr((*extents)[p].offset, (*extents)[p].length);
    EXPECT_EQ(DecodeRun(part), Expected(in[p]));
    EXPECT_EQ((*extents)[p].records, in[p].size());
    RecordReader reader(part, "run");
    absl::string_view k, v;
    std::set<std::string> distinct;
    int groups = 0;
    while (reader.Next(&k, &v)) {
      groups += reader.new_group();
      distinct.insert(std::string(k));
    }
    EXPECT_EQ(groups, static_cast<int>(distinct.size()));
  }
}

}  // namespace
}  // namespace ampmr::worker
