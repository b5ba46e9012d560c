#include "worker/task/line_scan.h"

#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

// (line, offset of its first separator or -1), the obvious way.
using Lines = std::vector<std::pair<std::string, long>>;

Lines Naive(const std::string& block, char separator) {
  Lines out;
  size_t p = 0;
  while (p < block.size()) {
    size_t nl = block.find('\n', p);
    if (nl == std::string::npos) nl = block.size();
    std::string line = block.substr(p, nl - p);
    size_t sep = line.find(separator);
    out.emplace_back(line, sep == std::string::npos ? -1 : static_cast<long>(sep));
    p = nl + 1;
  }
  return out;
}

Lines Scanned(const std::string& block, char separator) {
  // Exactly as long as the block, so a read past its end would be a heap
  // overflow under a sanitizer.
  std::unique_ptr<char[]> copy(new char[block.size() + 1]);
  block.copy(copy.get(), block.size());
  const char* begin = copy.get();
  Lines out;
  ForEachLine(begin, begin + block.size(), separator,
              [&](const char* line, const char* sep, const char* end) {
                EXPECT_LE(line, end);
                EXPECT_TRUE(sep == nullptr || (sep >= line && sep < end));
                out.emplace_back(std::string(line, end - line), sep == nullptr ? -1 : sep - line);
              });
  return out;
}

TEST(ForEachLineTest, SmallCases) {
  EXPECT_TRUE(Scanned("", '\t').empty());
  EXPECT_EQ(Scanned("\n", '\t'), (Lines{{"", -1}}));
  EXPECT_EQ(Scanned("a\tb\n\nc", '\t'), (Lines{{"a\tb", 1}, {"", -1}, {"c", -1}}));
  EXPECT_EQ(Scanned("\t\t\n", '\t'), (Lines{{"\t\t", 0}}));
  EXPECT_EQ(Scanned("k,v,w\nx\n", ','), (Lines{{"k,v,w", 1}, {"x", -1}}));
}

// Lines and separators at every place around the 64-byte windows: lines
// longer than a window, separators in a later window than their line's
// start, a separator right after a window's last newline, no final newline.
TEST(ForEachLineTest, EqualsTheObviousSplitOnRandomBlocks) {
  std::mt19937 rng(3);
  for (int round = 0; round < 3000; ++round) {
    const char separator = round % 3 == 0 ? '\t' : (round % 3 == 1 ? ',' : '\0');
    std::string block;
    const size_t size = rng() % 300;
    const int newline_odds = 1 + static_cast<int>(rng() % 40);
    for (size_t i = 0; i < size; ++i) {
      const int r = static_cast<int>(rng() % 100);
      block.push_back(r < newline_odds ? '\n' : (r < newline_odds + 8 ? separator : 'a' + r % 26));
    }
    ASSERT_EQ(Scanned(block, separator), Naive(block, separator)) << "round " << round;
  }
}

}  // namespace
}  // namespace ampmr::worker
