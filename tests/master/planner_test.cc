#include "master/planner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// Debian's Abseil and GoogleTest have no matcher for the value of a StatusOr.
MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

// PlanSplits, each split as a worker is sent it.
absl::StatusOr<std::vector<v1::Split>> PlanAsSplits(
    const std::vector<std::string>& files, int64_t split_size, PlanStats* stats = nullptr,
    size_t max_splits = std::numeric_limits<size_t>::max()) {
  absl::StatusOr<SplitPlan> plan = PlanSplits(files, split_size, stats, max_splits);
  if (!plan.ok()) return plan.status();
  std::vector<v1::Split> splits;
  for (size_t i = 0; i < plan->size(); ++i) splits.push_back(plan->Split(i));
  return splits;
}

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ampmr_planner_XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }

  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

  // Writes `contents` to `name`, creating parent directories.
  std::string Write(const std::string& name, const std::string& contents) const {
    std::string p = Path(name);
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  std::string MakeDir(const std::string& name) const {
    std::filesystem::create_directories(Path(name));
    return Path(name);
  }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::pair<int64_t, int64_t>> Ranges(const std::vector<v1::Split>& splits) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const v1::Split& s : splits) out.emplace_back(s.start(), s.length());
  return out;
}

std::vector<std::pair<int64_t, int64_t>> PlanOne(const std::string& path, int64_t split_size) {
  absl::StatusOr<std::vector<v1::Split>> splits = PlanAsSplits({path}, split_size);
  EXPECT_THAT(splits, IsOk());
  if (!splits.ok()) return {};
  for (const v1::Split& s : *splits) EXPECT_EQ(s.path(), path);
  return Ranges(*splits);
}

// --- ExpandInputs ---

TEST(ExpandInputsTest, FileIsTakenAsIs) {
  TempDir dir;
  std::string f = dir.Write("a.txt", "x\n");
  EXPECT_THAT(ExpandInputs({f}), IsOkAndHolds(ElementsAre(f)));
}

TEST(ExpandInputsTest, DirectoryIsListedRecursivelySkippingHiddenAndUnderscoreNames) {
  TempDir dir;
  dir.Write("in/b.txt", "b\n");
  dir.Write("in/a.txt", "a\n");
  dir.Write("in/sub/c.txt", "c\n");
  dir.Write("in/sub/deeper/d.txt", "d\n");
  dir.Write("in/.hidden", "h\n");
  dir.Write("in/_SUCCESS", "");
  dir.Write("in/sub/_logs/history", "l\n");
  dir.Write("in/.git/config", "g\n");
  dir.MakeDir("in/empty");
  EXPECT_THAT(ExpandInputs({dir.Path("in")}),
              IsOkAndHolds(ElementsAre(dir.Path("in/a.txt"), dir.Path("in/b.txt"),
                                       dir.Path("in/sub/c.txt"), dir.Path("in/sub/deeper/d.txt"))));
}

TEST(ExpandInputsTest, NamedHiddenFileAndDirectoryAreTaken) {
  TempDir dir;
  std::string success = dir.Write("out/_SUCCESS", "");
  dir.Write("_in/x.txt", "x\n");
  EXPECT_THAT(ExpandInputs({success, dir.Path("_in")}),
              IsOkAndHolds(ElementsAre(dir.Path("_in/x.txt"), success)));
}

TEST(ExpandInputsTest, ResultIsSortedAndDeduplicated) {
  TempDir dir;
  std::string a = dir.Write("in/a.txt", "a\n");
  std::string b = dir.Write("in/b.txt", "b\n");
  std::string z = dir.Write("z.txt", "z\n");
  EXPECT_THAT(ExpandInputs({z, b, dir.Path("in") + "/", a, dir.Path("in"), dir.Path("in/*")}),
              IsOkAndHolds(ElementsAre(a, b, z)));
}

TEST(ExpandInputsTest, GlobMatchesFilesAndExpandsDirectories) {
  TempDir dir;
  std::string a = dir.Write("in/a.txt", "a\n");
  std::string b = dir.Write("in/b.log", "b\n");
  std::string c = dir.Write("in/sub/c.log", "c\n");
  dir.Write("in/_SUCCESS", "");
  dir.Write("in/.x.txt", "");
  EXPECT_THAT(ExpandInputs({dir.Path("in/*.txt")}), IsOkAndHolds(ElementsAre(a)));
  EXPECT_THAT(ExpandInputs({dir.Path("in/*")}), IsOkAndHolds(ElementsAre(a, b, c)));
  EXPECT_THAT(ExpandInputs({dir.Path("in/?.log")}), IsOkAndHolds(ElementsAre(b)));
  EXPECT_THAT(ExpandInputs({dir.Path("in/[ab].*")}), IsOkAndHolds(ElementsAre(a, b)));
  EXPECT_THAT(ExpandInputs({dir.Path("in/{a.txt,sub}")}), IsOkAndHolds(ElementsAre(a, c)));
  EXPECT_THAT(ExpandInputs({dir.Path("*/sub/*.log")}), IsOkAndHolds(ElementsAre(c)));
}

TEST(ExpandInputsTest, GlobMatchingNothingIsAnError) {
  TempDir dir;
  dir.Write("in/a.txt", "a\n");
  dir.Write("in/_b.csv", "b\n");
  std::string pattern = dir.Path("in/*.csv");
  EXPECT_THAT(
      ExpandInputs({dir.Path("in/a.txt"), pattern}),
      StatusIs(absl::StatusCode::kInvalidArgument, "input " + pattern + ": matches no files"));
  std::string missing_dir = dir.Path("nowhere/*.txt");
  EXPECT_THAT(ExpandInputs({missing_dir}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    "input " + missing_dir + ": matches no files"));
}

TEST(ExpandInputsTest, MissingPathIsNamedExactly) {
  TempDir dir;
  std::string good = dir.Write("a.txt", "a\n");
  std::string missing = dir.Path("x/y");
  EXPECT_THAT(
      ExpandInputs({good, missing}),
      StatusIs(absl::StatusCode::kNotFound, "input " + missing + ": no such file or directory"));
}

TEST(ExpandInputsTest, DanglingSymlinkInDirectoryIsNamed) {
  TempDir dir;
  dir.Write("in/a.txt", "a\n");
  std::filesystem::create_symlink(dir.Path("gone"), dir.Path("in/link"));
  EXPECT_THAT(ExpandInputs({dir.Path("in")}),
              StatusIs(absl::StatusCode::kNotFound,
                       "input " + dir.Path("in/link") + ": no such file or directory"));
}

TEST(ExpandInputsTest, SymlinkCycleIsListedOnce) {
  TempDir dir;
  std::string a = dir.Write("in/a.txt", "a\n");
  std::filesystem::create_directory_symlink(dir.Path("in"), dir.Path("in/loop"));
  EXPECT_THAT(ExpandInputs({dir.Path("in")}), IsOkAndHolds(ElementsAre(a)));
}

TEST(ExpandInputsTest, EmptyDirectoryExpandsToNothing) {
  TempDir dir;
  EXPECT_THAT(ExpandInputs({dir.MakeDir("empty")}), IsOkAndHolds(IsEmpty()));
}

TEST(ExpandInputsTest, RefusesEmptyPathAndSpecialFiles) {
  EXPECT_THAT(ExpandInputs({""}),
              StatusIs(absl::StatusCode::kInvalidArgument, "input \"\": empty path"));
  EXPECT_THAT(ExpandInputs({"/dev/null"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "input /dev/null: not a regular file or directory"));
}

TEST(ExpandInputsTest, UnreadableFileIsNamed) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads every file";
  TempDir dir;
  std::string f = dir.Write("in/secret.txt", "s\n");
  chmod(f.c_str(), 0);
  EXPECT_THAT(ExpandInputs({dir.Path("in")}),
              StatusIs(absl::StatusCode::kPermissionDenied, "input " + f + ": permission denied"));
}

// --- PlanSplits ---

TEST(PlanSplitsTest, BoundariesLandRightAfterNewlines) {
  TempDir dir;
  std::string f = dir.Write("f", "aaaa\nbbbb\ncccc\n");  // newlines at 4, 9, 14
  EXPECT_THAT(PlanOne(f, 5), ElementsAre(Pair(0, 5), Pair(5, 5), Pair(10, 5)));
  EXPECT_THAT(PlanOne(f, 9), ElementsAre(Pair(0, 5), Pair(5, 5), Pair(10, 5)));
  EXPECT_THAT(PlanOne(f, 10), ElementsAre(Pair(0, 10), Pair(10, 5)));
  EXPECT_THAT(PlanOne(f, 14), ElementsAre(Pair(0, 10), Pair(10, 5)));
  EXPECT_THAT(PlanOne(f, 15), ElementsAre(Pair(0, 15)));
  EXPECT_THAT(PlanOne(f, std::numeric_limits<int64_t>::max()), ElementsAre(Pair(0, 15)));
}

TEST(PlanSplitsTest, LineLongerThanSplitSizeIsOneSplit) {
  TempDir dir;
  std::string f = dir.Write("f", "a\n" + std::string(100, 'x') + "\nb\n");  // 105 bytes
  EXPECT_THAT(PlanOne(f, 10), ElementsAre(Pair(0, 2), Pair(2, 101), Pair(103, 2)));
  EXPECT_THAT(PlanOne(f, 1), ElementsAre(Pair(0, 2), Pair(2, 101), Pair(103, 2)));
}

TEST(PlanSplitsTest, LastLineWithoutNewlineEndsAtEof) {
  TempDir dir;
  std::string f = dir.Write("f", "one\ntwo\nthree");  // 13 bytes
  EXPECT_THAT(PlanOne(f, 5), ElementsAre(Pair(0, 4), Pair(4, 4), Pair(8, 5)));
  EXPECT_THAT(PlanOne(f, 4), ElementsAre(Pair(0, 4), Pair(4, 4), Pair(8, 5)));
  std::string g = dir.Write("g", std::string(50, 'y'));
  EXPECT_THAT(PlanOne(g, 8), ElementsAre(Pair(0, 50)));
}

TEST(PlanSplitsTest, FilesInOrderAndEmptyFilesMakeNoSplit) {
  TempDir dir;
  std::string b = dir.Write("b", "1\n2\n");
  std::string empty = dir.Write("empty", "");
  std::string a = dir.Write("a", "3\n");
  absl::StatusOr<std::vector<v1::Split>> splits = PlanAsSplits({b, empty, a}, 2);
  ASSERT_THAT(splits, IsOk());
  ASSERT_EQ(splits->size(), 3u);
  EXPECT_EQ((*splits)[0].path(), b);
  EXPECT_EQ((*splits)[1].path(), b);
  EXPECT_EQ((*splits)[2].path(), a);
  EXPECT_THAT(Ranges(*splits), ElementsAre(Pair(0, 2), Pair(2, 2), Pair(0, 2)));
}

TEST(PlanSplitsTest, RefusesNonPositiveSplitSizeAndMissingFile) {
  TempDir dir;
  std::string f = dir.Write("f", "x\n");
  EXPECT_THAT(PlanAsSplits({f}, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, "split_size: must be > 0, got 0"));
  EXPECT_THAT(PlanAsSplits({f}, -1), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string missing = dir.Path("gone");
  EXPECT_THAT(
      PlanAsSplits({f, missing}, 10),
      StatusIs(absl::StatusCode::kNotFound, "input " + missing + ": no such file or directory"));
}

// Checks every rule of PlanSplits against `text`, the contents of the file
// the splits were planned from; together the rules determine the splits.
void CheckSplitsOf(const std::string& text, const std::vector<v1::Split>& splits,
                   int64_t split_size) {
  int64_t size = static_cast<int64_t>(text.size());
  std::string joined;
  int64_t expected_start = 0;
  for (size_t i = 0; i < splits.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "split_size=" << split_size << " split " << i);
    int64_t start = splits[i].start(), length = splits[i].length(), end = start + length;
    ASSERT_EQ(start, expected_start);
    ASSERT_GT(length, 0);
    ASSERT_LE(end, size);
    std::string bytes = text.substr(start, length);
    if (end < size) {
      ASSERT_EQ(bytes.back(), '\n');
    }
    if (length > split_size) {  // only a single line may be longer
      ASSERT_EQ(bytes.find('\n'), bytes.back() == '\n' ? bytes.size() - 1 : std::string::npos);
    } else if (end < size) {  // maximal: the next line would not have fitted
      size_t next_nl = text.find('\n', end);
      int64_t next_end = next_nl == std::string::npos ? size : next_nl + 1;
      ASSERT_GT(next_end - start, split_size);
    }
    joined += bytes;
    expected_start = end;
  }
  ASSERT_EQ(expected_start, size);
  ASSERT_TRUE(joined == text) << "splits do not reproduce the file";
}

TEST(PlanSplitsTest, SplitsOfABookReproduceItForManySplitSizes) {
  const std::string book = "/work/shared/data/gutenberg/pg-frankenstein.txt";
  if (access(book.c_str(), R_OK) != 0) GTEST_SKIP() << book << " is not here";
  std::string text = ReadFile(book);
  ASSERT_GT(text.size(), 100000u);
  for (int64_t split_size :
       {1,    2,    3,     7,     50,    64,    79,     80,     81,     100,    1000,
        4095, 4096, 10007, 65535, 65536, 65537, 100000, 131072, 200001, 1 << 20}) {
    absl::StatusOr<std::vector<v1::Split>> splits = PlanAsSplits({book}, split_size);
    ASSERT_THAT(splits, IsOk());
    for (const v1::Split& s : *splits) ASSERT_EQ(s.path(), book);
    CheckSplitsOf(text, *splits, split_size);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(PlanSplitsTest, LongLinesAmongShortOnesFollowTheRules) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    int len = (i * 7919) % 13 == 0 ? 70000 + i : (i * 31) % 90;
    text += std::string(len, 'a' + i % 26) + "\n";
  }
  text += "tail without newline";
  std::string f = dir.Write("f", text);
  for (int64_t split_size : {1, 100, 4096, 65536, 70001, 300000}) {
    absl::StatusOr<std::vector<v1::Split>> splits = PlanAsSplits({f}, split_size);
    ASSERT_THAT(splits, IsOk());
    CheckSplitsOf(text, *splits, split_size);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(PlanSplitsTest, HundredThousandSplitsTakeOneSequentialPass) {
  TempDir dir;
  std::string text;
  char line[16];
  for (int i = 0; i < 100000; ++i) {
    snprintf(line, sizeof(line), "line %06d\n", i);  // 12 bytes
    text += line;
  }
  std::string f = dir.Write("f", text);
  PlanStats stats;
  absl::StatusOr<std::vector<v1::Split>> splits = PlanAsSplits({f}, 12, &stats);
  ASSERT_THAT(splits, IsOk());
  ASSERT_EQ(splits->size(), 100000u);
  for (int i = 0; i < 100000; ++i) {
    ASSERT_EQ((*splits)[i].start(), 12 * i);
    ASSERT_EQ((*splits)[i].length(), 12);
  }
  EXPECT_LE(stats.bytes_read, 2 * static_cast<int64_t>(text.size()));
  EXPECT_LE(stats.reads, 100);  // one per window, not one per split
}

TEST(PlanSplitsTest, ShortLineBeforeLongLineIsNotRescanned) {
  TempDir dir;
  const int64_t mib = 1 << 20;
  std::string text = "a\n" + std::string(3 * mib, 'x') + "\n";
  std::string f = dir.Write("f", text);
  PlanStats stats;
  absl::StatusOr<std::vector<v1::Split>> splits = PlanAsSplits({f}, mib, &stats);
  ASSERT_THAT(splits, IsOk());
  EXPECT_THAT(Ranges(*splits), ElementsAre(Pair(0, 2), Pair(2, 3 * mib + 1)));
  EXPECT_LE(stats.bytes_read, static_cast<int64_t>(text.size()) + 128 * 1024);
}

// A 10 GiB sparse file with a newline ending every MiB: planning reads a
// window near each boundary, not the file.
TEST(PlanSplitsTest, HugeFileIsPlannedFromSmallReads) {
  TempDir dir;
  const int64_t mib = 1 << 20, size = int64_t{10} << 30;
  std::string f = dir.Path("huge");
  int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, size), 0);
  for (int64_t end = mib; end <= size; end += mib) ASSERT_EQ(pwrite(fd, "\n", 1, end - 1), 1);
  close(fd);

  PlanStats stats;
  absl::StatusOr<std::vector<v1::Split>> splits = PlanAsSplits({f}, 64 * mib, &stats);
  ASSERT_THAT(splits, IsOk());
  ASSERT_EQ(splits->size(), 160u);
  for (int i = 0; i < 160; ++i) {
    EXPECT_EQ((*splits)[i].start(), i * 64 * mib);
    EXPECT_EQ((*splits)[i].length(), 64 * mib);
  }
  EXPECT_LE(stats.bytes_read, 16 * mib);

  // A limit half a MiB past a newline: the search walks back to it.
  stats = PlanStats();
  splits = PlanAsSplits({f}, 64 * mib + mib / 2, &stats);
  ASSERT_THAT(splits, IsOk());
  ASSERT_EQ(splits->size(), 160u);
  EXPECT_EQ((*splits)[1].start(), 64 * mib);
  EXPECT_LE(stats.bytes_read, 160 * (mib / 2 + 64 * 1024));
}

// Splits of one file name it once; each split names its file by index.
TEST(PlanSplitsTest, SplitsShareTheirFilesName) {
  TempDir dir;
  std::string a = dir.Write("a", "1\n2\n3\n");
  std::string b = dir.Write("b", "4\n5\n");
  absl::StatusOr<SplitPlan> plan = PlanSplits({a, b}, 2);
  ASSERT_THAT(plan, IsOk());
  EXPECT_THAT(plan->files(), ElementsAre(a, b));
  ASSERT_EQ(plan->size(), 5u);
  EXPECT_EQ(plan->ranges()[2].file, 0);
  EXPECT_EQ(plan->ranges()[3].file, 1);
  EXPECT_EQ(plan->ranges()[3].start, 0);
  EXPECT_EQ(plan->Split(4).path(), b);
  EXPECT_EQ(plan->Split(4).start(), 2);
  EXPECT_EQ(plan->Split(4).length(), 2);
}

// Lines longer than the split size: each split is one line, and the file is
// still read in windows, not once per split.
TEST(PlanSplitsTest, SplitsSmallerThanTheirLinesTakeOneSequentialPass) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "a line of twenty b\n";  // 19 bytes
  std::string f = dir.Write("f", text);
  PlanStats stats;
  absl::StatusOr<SplitPlan> plan = PlanSplits({f}, 1, &stats);
  ASSERT_THAT(plan, IsOk());
  ASSERT_EQ(plan->size(), 100000u);
  for (size_t i = 0; i < plan->size(); ++i) {
    ASSERT_EQ(plan->ranges()[i].start, static_cast<int64_t>(19 * i));
    ASSERT_EQ(plan->ranges()[i].length, 19);
  }
  EXPECT_LE(stats.bytes_read, 2 * static_cast<int64_t>(text.size()));
  EXPECT_LE(stats.reads, 100);
}

}  // namespace
}  // namespace ampmr::master
