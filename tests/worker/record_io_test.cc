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

TEST(RecordIoTest, EncodingIsVarintLengthsThenBytes) {
  std::string out;
  AppendRecord(&out, "ab", "xyz");
  EXPECT_EQ(out, std::string("\x02\x03"
                             "abxyz",
                             7));
  std::string big_value(300, 'v');
  out.clear();
  AppendRecord(&out, "", big_value);
  // 300 = 0b10_0101100 -> 0xac 0x02
  EXPECT_EQ(out.substr(0, 3), std::string("\x00\xac\x02", 3));
  EXPECT_EQ(out.size(), 3 + 300u);
  EXPECT_EQ(EncodedRecordSize("", big_value), out.size());
}

TEST(RecordIoTest, WriterReaderRoundTrip) {
  ScratchDir dir;
  Pairs pairs = {{"", ""},
                 {"k", "v"},
                 {std::string("nul\0key", 7), std::string("\xff\x00", 2)},
                 {std::string(200, 'K'), std::string(100000, 'V')}};
  for (int i = 0; i < 5000; ++i) pairs.emplace_back("key" + std::to_string(i), "1");
  // A small buffer forces many flushes, including writes larger than it.
  auto writer = RecordWriter::Create(dir.Join("run"), 64);
  ASSERT_THAT(writer, IsOk());
  for (const auto& [k, v] : pairs) ASSERT_THAT((*writer)->Add(k, v), IsOk());
  const uint64_t size = (*writer)->offset();
  ASSERT_THAT((*writer)->Close(), IsOk());
  std::string data = ReadFile(dir.Join("run"));
  EXPECT_EQ(data.size(), size);
  EXPECT_EQ(data, EncodeRun(pairs));
  EXPECT_EQ(DecodeRun(data), pairs);
}

TEST(RecordIoTest, ReaderExposesEncodedRecord) {
  std::string data = EncodeRun({{"a", "1"}, {"key", std::string(200, 'v')}});
  RecordReader reader(data, "run");
  absl::string_view k, v;
  ASSERT_TRUE(reader.Next(&k, &v));
  EXPECT_EQ(reader.record(), EncodeRun({{"a", "1"}}));
  ASSERT_TRUE(reader.Next(&k, &v));
  EXPECT_EQ(reader.record(), EncodeRun({{"key", std::string(200, 'v')}}));
}

TEST(RecordIoTest, EmptyInputHasNoRecords) {
  RecordReader reader("", "empty");
  absl::string_view k, v;
  EXPECT_FALSE(reader.Next(&k, &v));
  EXPECT_THAT(reader.status(), IsOk());
}

TEST(RecordIoTest, TruncationIsDataLossNamingFileAndOffset) {
  std::string data = EncodeRun({{"first", "1"}, {"second", "22"}});
  const size_t second_at = EncodedRecordSize("first", "1");
  // Every truncation inside the second record is caught at its offset.
  for (size_t cut = second_at + 1; cut < data.size(); ++cut) {
    RecordReader reader(absl::string_view(data).substr(0, cut), "/w/a.out", 1000);
    absl::string_view k, v;
    ASSERT_TRUE(reader.Next(&k, &v));
    EXPECT_EQ(k, "first");
    EXPECT_FALSE(reader.Next(&k, &v));
    EXPECT_THAT(reader.status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("/w/a.out at offset " + std::to_string(1000 + second_at))))
        << "cut=" << cut;
    EXPECT_FALSE(reader.Next(&k, &v));  // stays failed
  }
}

TEST(RecordIoTest, OverlongVarintIsDataLoss) {
  std::string data(11, '\xff');  // never terminates within 10 bytes
  RecordReader reader(data, "bad");
  absl::string_view k, v;
  EXPECT_FALSE(reader.Next(&k, &v));
  EXPECT_THAT(reader.status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bad key length")));
}

TEST(RecordIoTest, HugeLengthIsDataLossNotACrash) {
  std::string data;
  char buf[kMaxVarint64Length];
  data.append(buf, EncodeVarint64(buf, ~uint64_t{0} - 3));
  data.append(buf, EncodeVarint64(buf, 10));
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
