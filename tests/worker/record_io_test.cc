#include "worker/task/record_io.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::DecodeRun;
using ::ampmr::worker::testing::EncodeRun;
using ::ampmr::worker::testing::Pairs;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::testing::HasSubstr;

TEST(RecordIoTest, EncodingIsKeyGroupsOfValues) {
  std::string out;
  AppendGroup(&out, "ab", {"xyz", ""});
  EXPECT_EQ(out, std::string("\x02"
                             "ab"
                             "\x04"
                             "xyz"
                             "\x01"
                             "\x00",
                             9));
  std::string big_value(299, 'v');
  out.clear();
  AppendGroup(&out, "", {big_value});
  // 299 + 1 = 0b10_0101100 -> 0xac 0x02
  EXPECT_EQ(out.substr(0, 3), std::string("\x00\xac\x02", 3));
  EXPECT_EQ(out.size(), 3 + 299u + 1);
  EXPECT_EQ(EncodedValueSize(big_value), 2 + 299u);
  char buf[kMaxVarint64Length + 299];
  EXPECT_EQ(EncodeValue(buf, big_value) - buf, 2 + 299);
}

TEST(RecordIoTest, WriterReaderRoundTrip) {
  ScratchDir dir;
  Pairs pairs = {{"", ""},
                 {"", "again"},
                 {"k", "v"},
                 {std::string("nul\0key", 7), std::string("\xff\x00", 2)},
                 {std::string(200, 'K'), std::string(100000, 'V')},
                 {std::string(200, 'K'), std::string(127, 'W')},
                 {std::string(200, 'K'), std::string(126, 'X')}};
  for (int i = 0; i < 5000; ++i) pairs.emplace_back("key" + std::to_string(i / 3), "1");
  // A small buffer forces many flushes, including writes larger than it.
  auto writer = RecordWriter::Create(dir.Join("run"), 64);
  ASSERT_THAT(writer, IsOk());
  for (const auto& [k, v] : pairs) ASSERT_THAT((*writer)->Add(k, v), IsOk());
  ASSERT_THAT((*writer)->EndGroup(), IsOk());
  const uint64_t size = (*writer)->offset();
  ASSERT_THAT((*writer)->Close(), IsOk());
  std::string data = ReadFile(dir.Join("run"));
  EXPECT_EQ(data.size(), size);
  // Adjacent records of one key share a group.
  EXPECT_EQ(data, EncodeRun(pairs));
  EXPECT_EQ(DecodeRun(data), pairs);
}

TEST(RecordIoTest, GroupsStartedByHandKeepTheirEncodedValues) {
  ScratchDir dir;
  auto writer = RecordWriter::Create(dir.Join("run"), 64);
  ASSERT_THAT(writer, IsOk());
  char buf[64];
  char* end = EncodeValue(EncodeValue(buf, "1"), "22");
  ASSERT_THAT((*writer)->StartGroup("a"), IsOk());
  ASSERT_THAT((*writer)->AddEncodedValues(absl::string_view(buf, end - buf)), IsOk());
  // A group started by hand is not continued by Add, even for its key: the
  // writer does not know that key.
  ASSERT_THAT((*writer)->Add("a", "3"), IsOk());
  ASSERT_THAT((*writer)->Add("b", "4"), IsOk());
  ASSERT_THAT((*writer)->Close(), IsOk());
  std::string data = ReadFile(dir.Join("run"));
  std::string expected;
  AppendGroup(&expected, "a", {"1", "22"});
  AppendGroup(&expected, "a", {"3"});
  AppendGroup(&expected, "b", {"4"});
  EXPECT_EQ(data, expected);
  EXPECT_EQ(DecodeRun(data), (Pairs{{"a", "1"}, {"a", "22"}, {"a", "3"}, {"b", "4"}}));
}

TEST(RecordIoTest, ReaderSaysWhereGroupsStart) {
  std::string data;
  AppendGroup(&data, "a", {"1", std::string(300, 'v')});
  AppendGroup(&data, "a", {"2"});
  AppendGroup(&data, "b", {"3"});
  RecordReader reader(data, "run");
  absl::string_view k, v;
  std::vector<bool> starts;
  Pairs pairs;
  while (reader.Next(&k, &v)) {
    starts.push_back(reader.new_group());
    pairs.emplace_back(std::string(k), std::string(v));
  }
  EXPECT_THAT(reader.status(), IsOk());
  EXPECT_THAT(starts, ::testing::ElementsAre(true, false, true, true));
  EXPECT_EQ(pairs, (Pairs{{"a", "1"}, {"a", std::string(300, 'v')}, {"a", "2"}, {"b", "3"}}));
}

TEST(RecordIoTest, EmptyInputHasNoRecords) {
  RecordReader reader("", "empty");
  absl::string_view k, v;
  EXPECT_FALSE(reader.Next(&k, &v));
  EXPECT_THAT(reader.status(), IsOk());
}

TEST(RecordIoTest, TruncationIsDataLossNamingFileAndOffset) {
  // Group 1 at 0: 05 "first" 02 "1" 00 (9 bytes). Group 2 at 9: 06
  // "second" (to 16), 03 "22" (to 19), 04 "333" (to 23), 00 (24 bytes).
  std::string data = EncodeRun({{"first", "1"}, {"second", "22"}, {"second", "333"}});
  ASSERT_EQ(data.size(), 24u);
  // Every cut inside group 2 is caught, at the group while its key is cut,
  // else at the value that is cut or missing (the end counts as one), after
  // the values before it.
  for (size_t cut = 10; cut < data.size(); ++cut) {
    const size_t whole = cut < 19 ? 0 : (cut < 23 ? 1 : 2);
    const size_t at = cut < 16 ? 9 : (cut < 19 ? 16 : (cut < 23 ? 19 : 23));
    RecordReader reader(absl::string_view(data).substr(0, cut), "/w/a.out", 1000);
    absl::string_view k, v;
    ASSERT_TRUE(reader.Next(&k, &v));
    EXPECT_EQ(k, "first");
    for (size_t i = 0; i < whole; ++i) {
      ASSERT_TRUE(reader.Next(&k, &v)) << "cut=" << cut;
      EXPECT_EQ(k, "second");
    }
    EXPECT_FALSE(reader.Next(&k, &v)) << "cut=" << cut;
    EXPECT_THAT(reader.status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("/w/a.out at offset " + std::to_string(1000 + at))))
        << "cut=" << cut;
    EXPECT_FALSE(reader.Next(&k, &v));  // stays failed
  }
}

TEST(RecordIoTest, GroupWithNoValuesIsDataLoss) {
  std::string data(
      "\x01"
      "a"
      "\x00",
      3);
  RecordReader reader(data, "empty-group");
  absl::string_view k, v;
  EXPECT_FALSE(reader.Next(&k, &v));
  EXPECT_THAT(reader.status(), StatusIs(absl::StatusCode::kDataLoss,
                                        HasSubstr("at offset 0: group with no values")));
}

TEST(RecordIoTest, OverlongVarintIsDataLoss) {
  std::string data(11, '\xff');  // never terminates within 10 bytes
  RecordReader reader(data, "bad");
  absl::string_view k, v;
  EXPECT_FALSE(reader.Next(&k, &v));
  EXPECT_THAT(reader.status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bad key length")));
}

TEST(RecordIoTest, HugeLengthIsDataLossNotACrash) {
  {
    std::string data("\x01k", 2);
    char buf[kMaxVarint64Length];
    data.append(buf, EncodeVarint64(buf, ~uint64_t{0}));
    data.append("short");
    RecordReader reader(data, "huge value");
    absl::string_view k, v;
    EXPECT_FALSE(reader.Next(&k, &v));
    EXPECT_THAT(reader.status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("overruns")));
  }
  std::string data;
  char buf[kMaxVarint64Length];
  data.append(buf, EncodeVarint64(buf, ~uint64_t{0} - 3));
  data.append("short");
  RecordReader reader(data, "huge");
  absl::string_view k, v;
  EXPECT_FALSE(reader.Next(&k, &v));
  EXPECT_THAT(reader.status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("overruns")));
}

TEST(RecordIoTest, CreateInMissingDirectoryNamesPath) {
  auto writer = RecordWriter::Create("/nonexistent-dir/x/run");
  EXPECT_THAT(writer,
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("create /nonexistent-dir/x/run")));
}

}  // namespace
}  // namespace ampmr::worker
