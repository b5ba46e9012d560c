#include "worker/task/stable_hash.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

// These values are a contract between every map and reduce process: if one
// changes, keys go to different reduces than before. Change them only with
// the hash, deliberately.
TEST(StableHashTest, KnownValues) {
  struct Case {
    const char* key;
    uint64_t hash;
  };
  const Case cases[] = {
      {"", 0xbcfbcb996a299119ULL},
      {"a", 0xf91e72fa324903beULL},
      {"the", 0xd2e39adccca45b09ULL},
      {"word", 0x24753487d8ee3605ULL},
      {"hello", 0x86d228ba0e600405ULL},
      {"12345678", 0x41b8663721a29a43ULL},
      {"123456789", 0x8c0a89108e56c859ULL},
      {"0123456789abcdef", 0x56bb9ec8c81b6bc7ULL},
      {"0123456789abcdefg", 0x62d76e53dd8541eaULL},
      {"The quick brown fox jumps over the lazy dog", 0xa1c0b1c4a20aba47ULL},
  };
  for (const Case& c : cases) EXPECT_EQ(StableHash64(c.key), c.hash) << c.key;
}

TEST(StableHashTest, DependsOnlyOnTheBytes) {
  std::string a = "some key with bytes \x01\xff in it";
  std::string b = a;  // a different buffer, same bytes
  EXPECT_EQ(StableHash64(a), StableHash64(b));
  // Embedded NULs count.
  EXPECT_NE(StableHash64(std::string("a\0", 2)), StableHash64("a"));
}

TEST(StableHashTest, DistinguishesNearbyKeys) {
  std::vector<uint64_t> seen;
  for (int len = 0; len < 40; ++len) {
    std::string key(len, 'x');
    seen.push_back(StableHash64(key));
    key.push_back('y');
    seen.push_back(StableHash64(key));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
}

TEST(PartitionOfTest, KnownValues) {
  EXPECT_EQ(PartitionOf("the", 7), 3);
  EXPECT_EQ(PartitionOf("a", 7), 6);
  EXPECT_EQ(PartitionOf("word", 10), 3);
}

TEST(PartitionOfTest, InRangeAndSpread) {
  for (int reduces : {1, 2, 3, 7, 64}) {
    std::vector<int> hits(reduces);
    for (int i = 0; i < 10000; ++i) {
      int p = PartitionOf("key" + std::to_string(i), reduces);
      ASSERT_GE(p, 0);
      ASSERT_LT(p, reduces);
      ++hits[p];
    }
    // Every partition gets a fair share (expected 10000/R each).
    for (int h : hits) EXPECT_GT(h, 10000 / reduces / 2) << "reduces=" << reduces;
  }
}

TEST(PartitionOfTest, OneOrFewerReducesIsPartitionZero) {
  EXPECT_EQ(PartitionOf("anything", 1), 0);
  EXPECT_EQ(PartitionOf("anything", 0), 0);
}

}  // namespace
}  // namespace ampmr::worker
