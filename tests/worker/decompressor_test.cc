// Decompressor and SplitReader over compressed files made by the real gzip,
// bzip2 and zstd tools: whole contents, concatenated streams, and the errors
// for truncated and corrupt files.
#include "worker/task/decompressor.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/task/split_reader.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::WriteFile;
using ::testing::HasSubstr;

std::string Text(int lines, int seed) {
  std::string s;
  for (int i = 0; i < lines; ++i) absl::StrAppend(&s, "line ", seed, " ", i * 7919 % 1000, "\n");
  return s;
}

// Reads `path` whole through a SplitReader with a small block.
absl::StatusOr<std::string> ReadSplit(const std::string& path) {
  auto reader = SplitReader::Open(path, 0, 1, 4096);
  if (!reader.ok()) return reader.status();
  std::string all;
  while (true) {
    absl::string_view chunk;
    int64_t offset;
    absl::Status s = (*reader)->Next(&chunk, &offset);
    if (!s.ok()) return s;
    if (chunk.empty()) return all;
    EXPECT_EQ(offset, static_cast<int64_t>(all.size()));
    EXPECT_EQ(chunk.back(), '\n');
    all.append(chunk.data(), chunk.size());
  }
}

void Compress(const std::string& tool, const std::string& from, const std::string& to,
              bool append = false) {
  std::string command = absl::StrCat(tool, " -c '", from, "' ", append ? ">>" : ">", " '", to, "'");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

class EachCodec : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(EachCodec, ConcatenatedStreamsReadWhole) {
  const auto [tool, ext] = GetParam();
  ScratchDir dir;
  WriteFile(dir.Join("a"), Text(20000, 1));
  WriteFile(dir.Join("b"), Text(3000, 2));
  const std::string file = dir.Join(absl::StrCat("x", ext));
  Compress(tool, dir.Join("a"), file);
  Compress(tool, dir.Join("b"), file, /*append=*/true);
  absl::StatusOr<std::string> got = ReadSplit(file);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, Text(20000, 1) + Text(3000, 2));
}

TEST_P(EachCodec, TruncatedFileFailsNamingIt) {
  const auto [tool, ext] = GetParam();
  ScratchDir dir;
  WriteFile(dir.Join("a"), Text(20000, 1));
  const std::string whole = dir.Join(absl::StrCat("w", ext));
  Compress(tool, dir.Join("a"), whole);
  std::string data = ReadFile(whole);
  const std::string cut = dir.Join(absl::StrCat("cut", ext));
  WriteFile(cut, data.substr(0, data.size() / 2));
  EXPECT_THAT(ReadSplit(cut).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(cut + ": truncated")));
  std::string bad = data;
  for (size_t i = bad.size() / 3; i < bad.size() / 3 + 64; ++i) bad[i] = static_cast<char>(~bad[i]);
  const std::string corrupt = dir.Join(absl::StrCat("bad", ext));
  WriteFile(corrupt, bad);
  EXPECT_THAT(ReadSplit(corrupt).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(corrupt + ": corrupt")));
}

INSTANTIATE_TEST_SUITE_P(Codecs, EachCodec,
                         ::testing::Values(std::make_pair("gzip", ".gz"),
                                           std::make_pair("bzip2", ".bz2"),
                                           std::make_pair("zstd -q", ".zst")));

TEST(DecompressorTest, EmptyFileIsEmpty) {
  ScratchDir dir;
  WriteFile(dir.Join("e.gz"), "");
  absl::StatusOr<std::string> got = ReadSplit(dir.Join("e.gz"));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "");
}

}  // namespace
}  // namespace ampmr::worker
