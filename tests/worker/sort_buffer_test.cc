#include "worker/task/sort_buffer.h"

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_util.h"

namespace ampmr::worker {
namespace {

using ::ampmr::worker::testing::Pairs;

// What Sort must give: bytewise key order, emit order among equal keys.
Pairs Expected(Pairs pairs) {
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return pairs;
}

Pairs SortedBy(SortBuffer* buffer, int partition) {
  Pairs out;
  auto sorted = buffer->Sort(partition);
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
      int p = static_cast<int>(rng() % 2);
      std::string key = RandomKey(&rng);
      std::string value = std::to_string(i);
      buffer.Add(p, key, value);
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
    buffer.Add(0, in.back().first, in.back().second);
  }
  EXPECT_EQ(SortedBy(&buffer, 0), Expected(in));
}

TEST(SortBufferTest, SortsAgainAfterClear) {
  SortBuffer buffer(1);
  buffer.Add(0, "b", "1");
  buffer.Add(0, "a", "2");
  EXPECT_EQ(SortedBy(&buffer, 0), (Pairs{{"a", "2"}, {"b", "1"}}));
  buffer.Clear();
  buffer.Add(0, "d", "3");
  buffer.Add(0, "c", "4");
  EXPECT_EQ(SortedBy(&buffer, 0), (Pairs{{"c", "4"}, {"d", "3"}}));
}

}  // namespace
}  // namespace ampmr::worker
