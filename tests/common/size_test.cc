#include "common/size.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

int64_t Parsed(const std::string& text) {
  absl::StatusOr<int64_t> v = ParseSize(text);
  EXPECT_THAT(v, IsOk()) << text;
  return v.ok() ? *v : -1;
}

TEST(ParseSizeTest, PlainBytes) {
  EXPECT_EQ(Parsed("1"), 1);
  EXPECT_EQ(Parsed("4096"), 4096);
  EXPECT_EQ(Parsed("100B"), 100);
  EXPECT_EQ(Parsed("  1048576  "), 1048576);
}

TEST(ParseSizeTest, UnitsArePowersOf1024InEitherCase) {
  EXPECT_EQ(Parsed("64K"), 64 * 1024);
  EXPECT_EQ(Parsed("64k"), 64 * 1024);
  EXPECT_EQ(Parsed("64M"), int64_t{64} << 20);
  EXPECT_EQ(Parsed("1G"), int64_t{1} << 30);
  EXPECT_EQ(Parsed("2T"), int64_t{2} << 40);
  EXPECT_EQ(Parsed("64KB"), 64 * 1024);
  EXPECT_EQ(Parsed("64kb"), 64 * 1024);
  EXPECT_EQ(Parsed("64KiB"), 64 * 1024);
  EXPECT_EQ(Parsed("64MiB"), int64_t{64} << 20);
  EXPECT_EQ(Parsed("64 M"), int64_t{64} << 20);
}

TEST(ParseSizeTest, FractionsOfAUnit) {
  EXPECT_EQ(Parsed("1.5K"), 1536);
  EXPECT_EQ(Parsed("0.5M"), 512 * 1024);
  EXPECT_EQ(Parsed(".5K"), 512);
  EXPECT_EQ(Parsed("0.1K"), 102);  // a fraction of a byte is dropped
}

TEST(ParseSizeTest, LargeWholeNumbersAreExact) {
  EXPECT_EQ(Parsed("9007199254740993"), int64_t{9007199254740993});  // 2^53 + 1
  EXPECT_EQ(Parsed("8388607T"), int64_t{8388607} << 40);
}

TEST(ParseSizeTest, BadInputsAreInvalidArgumentNamingTheText) {
  for (const char* text : {"",      "   ",    "K",   "B",   "abc",  "-5",   "+5",    "0",
                           "0K",    "0.0001", "12X", "64Q", "64KK", "1e3",  "1.2.3", "6 4M",
                           "64MBB", "64KiBs", "inf", "nan", "0x10", "1,000"}) {
    EXPECT_THAT(ParseSize(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                          AllOf(HasSubstr(std::string("\"") + text + "\""),
                                                HasSubstr("want a positive number of bytes"))))
        << "text: " << text;
  }
}

TEST(ParseSizeTest, OverflowIsRefused) {
  EXPECT_THAT(ParseSize("9223372036854775807"), IsOk());
  EXPECT_THAT(ParseSize("9223372036854775808"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSize("8388608T"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSize("99999999999G"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSize("9999999999.5T"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FormatSizeTest, PicksTheLargestWholeUnit) {
  EXPECT_EQ(FormatSize(0), "0B");
  EXPECT_EQ(FormatSize(100), "100B");
  EXPECT_EQ(FormatSize(1023), "1023B");
  EXPECT_EQ(FormatSize(1024), "1K");
  EXPECT_EQ(FormatSize(1536), "1.5K");
  EXPECT_EQ(FormatSize(67108864), "64M");
  EXPECT_EQ(FormatSize(int64_t{1} << 30), "1G");
  EXPECT_EQ(FormatSize(int64_t{3} << 40), "3T");
  EXPECT_EQ(FormatSize(int64_t{5000} << 40), "5000T");
}

TEST(FormatSizeTest, RoundsToOneDecimalWithoutShowingTheNextUnitsWorth) {
  EXPECT_EQ(FormatSize(1048575), "1M");   // not "1024.0K"
  EXPECT_EQ(FormatSize(1024 + 1), "1K");  // 1.001K
  EXPECT_EQ(FormatSize(1024 * 10 + 700), "10.7K");
}

TEST(FormatSizeTest, RoundTripsThroughParseSize) {
  for (int64_t bytes :
       {int64_t{1}, int64_t{512}, int64_t{1536}, int64_t{64} << 20, int64_t{3} << 30}) {
    EXPECT_EQ(Parsed(FormatSize(bytes)), bytes) << FormatSize(bytes);
  }
}

}  // namespace
}  // namespace ampmr
