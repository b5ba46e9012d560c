#include "worker/task/line_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

// A pipe whose read end is non-blocking, as a child's stdout is.
class Pipe {
 public:
  Pipe() {
    EXPECT_EQ(::pipe(fds_), 0);
    ::fcntl(fds_[0], F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    ::close(fds_[0]);
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  void Write(const std::string& s) {
    ASSERT_EQ(::write(fds_[1], s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  void CloseWriter() {
    ::close(fds_[1]);
    fds_[1] = -1;
  }
  int reader() const { return fds_[0]; }

 private:
  int fds_[2];
};

// Lines split across reads come out whole: TakeLines hands out only the
// complete ones, as one block, and keeps the rest for the next read.
TEST(LineReaderTest, TakeLinesGivesWholeLinesAcrossReads) {
  Pipe pipe;
  LineReader reader(16, SIZE_MAX);
  std::vector<std::string> blocks;
  auto take = [&] {
    reader.TakeLines([&](absl::string_view lines) { blocks.emplace_back(lines); });
  };
  pipe.Write("ab\tc\nde");
  ASSERT_GT(reader.ReadFrom(pipe.reader()), 0);
  take();
  pipe.Write("f\n\ng");
  ASSERT_GT(reader.ReadFrom(pipe.reader()), 0);
  take();
  // A line longer than the buffer grows it.
  pipe.Write(std::string(40, 'x'));
  while (reader.ReadFrom(pipe.reader()) > 0) {
  }
  take();
  pipe.Write("\nlast");
  pipe.CloseWriter();
  while (reader.ReadFrom(pipe.reader()) > 0) {
  }
  take();
  std::string rest;
  reader.FlushLast([&](absl::string_view line) { rest = std::string(line); });
  EXPECT_EQ(blocks,
            (std::vector<std::string>{"ab\tc\n", "def\n\n", "g" + std::string(40, 'x') + "\n"}));
  EXPECT_EQ(rest, "last");
}

}  // namespace
}  // namespace ampmr::worker
