#include "common/key_prefix.h"

#include <cstring>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace ampmr {
namespace {

// The straightforward prefix: the first min(size, 8) bytes, big-endian,
// zero padded.
uint64_t NaivePrefix(absl::string_view key) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) {
    v = (v << 8) | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0);
  }
  return v;
}

TEST(KeyPrefixTest, EverySizeEqualsTheNaivePrefixAndReadsNoFurther) {
  const std::string bytes =
      "\x01\xff\x80"
      "abc\0d\x7f"
      "efghij";
  for (size_t n = 0; n <= bytes.size(); ++n) {
    // A copy of exactly n bytes, so a read past the end would be a heap
    // overflow under a sanitizer.
    std::unique_ptr<char[]> key(new char[n == 0 ? 1 : n]);
    std::memcpy(key.get(), bytes.data(), n);
    absl::string_view view(key.get(), n);
    EXPECT_EQ(KeyPrefix(view), NaivePrefix(view)) << n;
  }
}

TEST(KeyPrefixTest, CompareGivenPrefixesIsBytewise) {
  const std::string keys[] = {"",         "a",         std::string("a\0", 2),        "ab",
                              "abcdefgh", "abcdefghi", std::string("abcdefgh\0", 9), "abcdefgha",
                              "\xff",     "b"};
  for (const std::string& a : keys) {
    for (const std::string& b : keys) {
      int want = a.compare(b);
      want = (want > 0) - (want < 0);
      int got = CompareGivenPrefixes(KeyPrefix(a), a, KeyPrefix(b), b);
      EXPECT_EQ((got > 0) - (got < 0), want) << a << " " << b;
      if (KeyPrefix(a) == KeyPrefix(b)) EXPECT_EQ(SameKeyGivenPrefix(a, b), a == b);
    }
  }
}

}  // namespace
}  // namespace ampmr
