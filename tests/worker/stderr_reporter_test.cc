#include "worker/task/stderr_reporter.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_util.h"
#include "worker/task/line_reader.h"
#include "worker/task/utf8.h"

namespace ampmr::worker {
namespace {

using ::ampmr::worker::testing::CollectingEmitter;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(StderrReporterTest, CountersAddUpAndStatusIsKeptApart) {
  StderrReporter r;
  CollectingEmitter out;
  r.OnLine("reporter:counter:G,C,3", &out);
  r.OnLine("reporter:counter:G,C,4\r", &out);
  r.OnLine("reporter:counter:G,with,comma, -1", &out);
  r.OnLine("reporter:status:working", &out);
  EXPECT_THAT(out.counters, ElementsAre(Pair("G.C", 7), Pair("G.with,comma", -1)));
  EXPECT_EQ(r.status(), "working");
  EXPECT_EQ(r.Tail(), "");
}

TEST(StderrReporterTest, MalformedReporterLinesAreOrdinaryStderr) {
  StderrReporter r;
  CollectingEmitter out;
  for (const char* line : {"reporter:counter:G,C", "reporter:counter:,C,1",
                           "reporter:counter:G,C,x", "reporter:counter:G,,1"}) {
    r.OnLine(line, &out);
  }
  EXPECT_THAT(out.counters, IsEmpty());
  EXPECT_EQ(r.Tail(),
            "reporter:counter:G,C | reporter:counter:,C,1 | reporter:counter:G,C,x | "
            "reporter:counter:G,,1");
}

TEST(StderrReporterTest, TailIsBoundedInLinesAndBytes) {
  StderrReporter r;
  CollectingEmitter out;
  for (int i = 0; i < 100; ++i) r.OnLine("line " + std::to_string(i), &out);
  EXPECT_EQ(r.Tail(),
            "line 90 | line 91 | line 92 | line 93 | line 94 | line 95 | line 96 | line 97 | "
            "line 98 | line 99");
  r.OnLine(std::string(5000, 'x') + "END", &out);
  std::string tail = r.Tail();
  EXPECT_LE(tail.size(), StderrReporter::kTailBytes + 3);
  EXPECT_EQ(tail.substr(0, 3), "...");
  EXPECT_EQ(tail.substr(tail.size() - 4), "xEND");
}

TEST(Utf8Test, KeepsValidTextEscapesTheRest) {
  EXPECT_EQ(ToPrintableUtf8("plain\ttab"), "plain\ttab");
  EXPECT_EQ(ToPrintableUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(ToPrintableUtf8("\xff\xc3(\x01\n\\"), "\\xff\\xc3(\\x01\\x0a\\\\");
  EXPECT_EQ(ToPrintableUtf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(ToPrintableUtf8("\xc0\xaf"), "\\xc0\\xaf");           // overlong
}

TEST(LineReaderTest, HandsOutWholeLinesAcrossReadsAndGrowsForLongOnes) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  LineReader reader(16, SIZE_MAX);
  std::vector<std::string> lines;
  auto collect = [&lines](absl::string_view l) { lines.emplace_back(l); };
  std::string long_line(100, 'L');
  std::string data = "ab\ncd" + std::string("e\n") + long_line + "\nlast";
  ASSERT_EQ(write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fds[1]);
  while (reader.ReadFrom(fds[0]) > 0) reader.ForEachLine(collect);
  reader.FlushLast(collect);
  close(fds[0]);
  EXPECT_THAT(lines, ElementsAre("ab", "cde", long_line, "last"));
}

TEST(LineReaderTest, CutsLinesLongerThanTheMaximum) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  LineReader reader(64, 8);
  std::vector<std::string> lines;
  auto collect = [&lines](absl::string_view l) { lines.emplace_back(l); };
  std::string data = "0123456789abcdefXY\nz\n";
  ASSERT_EQ(write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fds[1]);
  while (reader.ReadFrom(fds[0]) > 0) reader.ForEachLine(collect);
  reader.FlushLast(collect);
  close(fds[0]);
  EXPECT_THAT(lines, ElementsAre("01234567", "89abcdef", "XY", "z"));
}

}  // namespace
}  // namespace ampmr::worker
