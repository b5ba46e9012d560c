// KeyComparator and ParseSortKeys: the order is checked against GNU sort(1)
// itself (LC_ALL=C, -t TAB) on the same random lines, for a set of key
// definitions; the parser's errors name what is wrong.
#include "common/key_comparator.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/key_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr {
namespace {

using ::ampmr::testing::StatusIs;
using ::testing::HasSubstr;

// A field that exercises numeric and bytewise rules: signs, leading zeros,
// fractions, blanks, empty fields, letters.
std::string RandomField(std::mt19937* rng) {
  static const char* kPieces[] = {"", "0", "00", "-", "-0", "1", "01", "9", "10", "-10", "2.5",
                                  "2.50", "-2.5", ".5", "-.5", "abc", "Ab", " 7", "  -3", "1e3",
                                  "+4", "x9", "99999999999999999999", "-99999999999999999998",
                                  "3.14159", "0.000", "b"};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kPieces) / sizeof(kPieces[0]) - 1);
  std::string f = kPieces[pick(*rng)];
  if ((*rng)() % 4 == 0) f += kPieces[pick(*rng)];
  return f;
}

std::vector<std::string> RandomLines(int n, std::mt19937* rng) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) {
    int fields = 1 + static_cast<int>((*rng)() % 4);
    std::vector<std::string> f;
    for (int j = 0; j < fields; ++j) f.push_back(RandomField(rng));
    lines.push_back(absl::StrJoin(f, "\t"));
  }
  return lines;
}

// What `LC_ALL=C sort -t TAB KEYDEF` makes of `lines`.
std::vector<std::string> SortWithSort1(const std::vector<std::string>& lines,
                                       const std::string& keydef) {
  char path[] = "/tmp/ampmr-keycmp-XXXXXX";
  int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  {
    std::ofstream out(path);
    for (const std::string& l : lines) out << l << "\n";
  }
  std::string command =
      absl::StrCat("LC_ALL=C sort -t \"$(printf '\\t')\" ", keydef, " ", path);
  FILE* p = ::popen(command.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << command;
  ::unlink(path);
  std::vector<std::string> sorted = absl::StrSplit(text, '\n');
  if (!sorted.empty() && sorted.back().empty()) sorted.pop_back();
  return sorted;
}

class AgainstSort1 : public ::testing::TestWithParam<const char*> {};

TEST_P(AgainstSort1, SameOrderAsSort1) {
  const std::string keydef = GetParam();
  std::mt19937 rng(12345);
  std::vector<std::string> lines = RandomLines(3000, &rng);
  absl::StatusOr<KeySpec> spec = ParseSortKeys(keydef);
  ASSERT_TRUE(spec.ok()) << spec.status();
  KeyComparator order(*spec);
  std::vector<std::string> ours = lines;
  std::stable_sort(ours.begin(), ours.end(),
                   [&order](const std::string& a, const std::string& b) { return order.Less(a, b); });
  EXPECT_EQ(ours, SortWithSort1(lines, keydef));
}

// Where two keys' OrderPrefix differ, it orders them as Compare does.
TEST_P(AgainstSort1, OrderPrefixAgreesWithCompare) {
  absl::StatusOr<KeySpec> spec = ParseSortKeys(GetParam());
  ASSERT_TRUE(spec.ok()) << spec.status();
  KeyComparator order(*spec);
  std::mt19937 rng(777);
  std::vector<std::string> lines = RandomLines(2000, &rng);
  int decided = 0;
  for (int i = 0; i < 200000; ++i) {
    const std::string& a = lines[rng() % lines.size()];
    const std::string& b = lines[rng() % lines.size()];
    uint64_t pa = order.OrderPrefix(a);
    uint64_t pb = order.OrderPrefix(b);
    int c = order.Compare(a, b);
    if (pa != pb) {
      ++decided;
      ASSERT_EQ(pa < pb, c < 0) << "a=" << a << " b=" << b;
    }
    ASSERT_EQ(order.ComparePrefixed(pa, a, pb, b), c) << "a=" << a << " b=" << b;
  }
  EXPECT_GT(decided, 0);  // the prefix decides some pairs by itself
}

INSTANTIATE_TEST_SUITE_P(KeyDefs, AgainstSort1,
                         ::testing::Values("-k1,1", "-k1,1n", "-k1n -k2nr", "-k1,1n -k2,2nr",
                                           "-k2,2 -k1,1r", "-k2", "-k2n", "-k1.2,1.3",
                                           "-k1.2n,2.1", "-k3,3n -k1,1", "-n", "-r", "-nr",
                                           "-k2,2n -r", "-k1,1.2", "-k2.1,2.0r", "-k 2,2n"));

TEST(KeyComparatorTest, BytewiseWithoutSortKeys) {
  KeyComparator order(KeySpec{});
  EXPECT_TRUE(order.bytewise());
  EXPECT_LT(order.Compare("a", "b"), 0);
  EXPECT_LT(order.Compare("a", "ab"), 0);
  EXPECT_GT(order.Compare("\xff", "a"), 0);
  EXPECT_EQ(order.Compare("x\ty", "x\ty"), 0);
}

TEST(KeyComparatorTest, SecondarySortOrder) {
  absl::StatusOr<KeySpec> spec = ParseSortKeys("-k1,1n -k2,2nr");
  ASSERT_TRUE(spec.ok());
  KeyComparator order(*spec);
  std::vector<std::string> keys = {"1901\t-78", "1900\t5", "1901\t317", "1901\t22", "1900\t50"};
  std::sort(keys.begin(), keys.end(),
            [&order](const std::string& a, const std::string& b) { return order.Less(a, b); });
  EXPECT_EQ(keys, (std::vector<std::string>{"1900\t50", "1900\t5", "1901\t317", "1901\t22",
                                            "1901\t-78"}));
}

TEST(KeyComparatorTest, OtherSeparator) {
  absl::StatusOr<KeySpec> spec = MakeKeySpec(2, ".", 0, "-k2,2n");
  ASSERT_TRUE(spec.ok());
  KeyComparator order(*spec);
  EXPECT_LT(order.Compare("b.9", "a.10"), 0);
  EXPECT_EQ(order.Extract("a.10.x", SortKey{2, 1, 2, 0}), "10");
}

TEST(CompareNumericTest, AsSortDashN) {
  EXPECT_EQ(CompareNumeric("-0", "0"), 0);
  EXPECT_EQ(CompareNumeric("", "abc"), 0);
  EXPECT_EQ(CompareNumeric("007", "7"), 0);
  EXPECT_EQ(CompareNumeric("2.50", "2.5"), 0);
  EXPECT_LT(CompareNumeric("-10", "-9"), 0);
  EXPECT_LT(CompareNumeric("9", "10"), 0);
  EXPECT_LT(CompareNumeric("-.5", "0"), 0);
  EXPECT_LT(CompareNumeric("0", " 0.01"), 0);
  EXPECT_EQ(CompareNumeric("+3", "0"), 0);
}

TEST(ParseSortKeysTest, GlobalOptionsApplyToKeysWithoutTheirOwn) {
  absl::StatusOr<KeySpec> spec = ParseSortKeys("-k1,1 -k2,2n -r");
  ASSERT_TRUE(spec.ok());
  ASSERT_EQ(spec->sort_keys.size(), 2u);
  EXPECT_TRUE(spec->sort_keys[0].reverse);
  EXPECT_FALSE(spec->sort_keys[0].numeric);
  EXPECT_TRUE(spec->sort_keys[1].numeric);
  EXPECT_FALSE(spec->sort_keys[1].reverse);
  EXPECT_TRUE(spec->reverse_last_resort);
}

TEST(ParseSortKeysTest, EmptyIsBytewise) {
  absl::StatusOr<KeySpec> spec = ParseSortKeys("");
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(spec->sort_keys.empty());
}

TEST(ParseSortKeysTest, ErrorsNameThePart) {
  EXPECT_THAT(ParseSortKeys("-k0").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"-k0\": field numbers start at 1")));
  EXPECT_THAT(ParseSortKeys("-k1b").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("option b is not supported (only n and r)")));
  EXPECT_THAT(ParseSortKeys("-t,").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("option -t is not supported")));
  EXPECT_THAT(ParseSortKeys("-k1.0").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("character numbers start at 1")));
  EXPECT_THAT(ParseSortKeys("k1").status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSortKeys("-k").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing key after -k")));
}

TEST(MakeKeySpecTest, ChecksFieldsAndSeparator) {
  EXPECT_THAT(MakeKeySpec(2, ",,", 0, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field_separator: want one")));
  EXPECT_THAT(MakeKeySpec(2, "", 3, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("partition_fields: must be between 1 and the key fields (2), got 3")));
  EXPECT_THAT(MakeKeySpec(-1, "", 0, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_fields")));
  absl::StatusOr<KeySpec> spec = MakeKeySpec(0, "", 0, "");
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(spec->IsDefault());
  spec = MakeKeySpec(2, "", 2, "");
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->PartitionsByFields());
}

}  // namespace
}  // namespace ampmr
