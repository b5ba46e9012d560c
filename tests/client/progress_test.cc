#include "client/progress.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ampmr::client {
namespace {

using ::testing::StartsWith;

v1::JobStatus Mapping() {
  v1::JobStatus s;
  s.set_job_id("j1");
  s.set_state(v1::MAPPING);
  s.mutable_spec()->set_reducer("builtin:sum");
  s.mutable_map()->set_total(40);
  s.mutable_map()->set_done(12);
  s.mutable_map()->set_running(4);
  s.mutable_reduce()->set_total(8);
  return s;
}

TEST(ProgressLineTest, PhaseMapReduceElapsed) {
  EXPECT_EQ(FormatProgressLine(Mapping(), absl::Seconds(65)),
            "MAPPING  map 12/40 (4 running)  reduce 0/8  1m05s");
}

TEST(ProgressLineTest, DefaultReducerCountsAsReduce) {
  v1::JobStatus s = Mapping();
  s.mutable_spec()->clear_reducer();
  s.set_state(v1::REDUCING);
  s.mutable_map()->set_done(40);
  s.mutable_map()->set_running(0);
  s.mutable_reduce()->set_done(3);
  EXPECT_EQ(FormatProgressLine(s, absl::Seconds(7.25)), "REDUCING  map 40/40  reduce 3/8  7.2s");
}

TEST(ProgressLineTest, MapOnlyJobHasNoReducePart) {
  v1::JobStatus s = Mapping();
  s.mutable_spec()->set_reducer("none");
  s.set_state(v1::PENDING);
  EXPECT_EQ(FormatProgressLine(s, absl::ZeroDuration()), "PENDING  map 12/40 (4 running)  0.0s");
}

TEST(ProgressLineTest, ShowsFailedAttemptsOfBothPhases) {
  v1::JobStatus s = Mapping();
  s.mutable_map()->set_failed_attempts(2);
  s.mutable_reduce()->set_failed_attempts(1);
  EXPECT_EQ(FormatProgressLine(s, absl::Seconds(3)),
            "MAPPING  map 12/40 (4 running)  reduce 0/8  3 failed attempts  3.0s");
}

// Reads what is in the pipe now without blocking.
std::string Drain(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

class PipeFixture {
 public:
  PipeFixture() { EXPECT_EQ(pipe2(fds_, O_NONBLOCK | O_CLOEXEC), 0); }
  ~PipeFixture() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }

 private:
  int fds_[2];
};

TEST(ProgressDisplayTest, RedrawsOneLineAndErasesItAtTheEnd) {
  PipeFixture pipe;
  ProgressDisplay display(pipe.write_fd(), /*enabled=*/true);
  display.Update(Mapping());
  // The ticker may have redrawn already; every draw has the same shape.
  EXPECT_THAT(Drain(pipe.read_fd()), StartsWith("\rMAPPING  map 12/40 (4 running)  reduce 0/8  0."));
  display.Finish();
  const std::string tail = Drain(pipe.read_fd());
  ASSERT_GE(tail.size(), 4u);
  EXPECT_EQ(tail.substr(tail.size() - 4), "\r\x1b[K");
  display.Update(Mapping());  // after Finish: nothing
  EXPECT_EQ(Drain(pipe.read_fd()), "");
}

TEST(ProgressDisplayTest, PrintPutsALineAboveTheProgressLine) {
  PipeFixture pipe;
  ProgressDisplay display(pipe.write_fd(), /*enabled=*/true);
  display.Print("before any status\n");
  EXPECT_EQ(Drain(pipe.read_fd()), "before any status\n");
  display.Update(Mapping());
  Drain(pipe.read_fd());
  display.Print("ampmr: lost the master\n");
  EXPECT_THAT(Drain(pipe.read_fd()), StartsWith("\r\x1b[Kampmr: lost the master\n"
                                                "\rMAPPING  map 12/40 (4 running)  reduce 0/8  0."));
  display.Finish();
  Drain(pipe.read_fd());
  display.Print("after\n");
  EXPECT_EQ(Drain(pipe.read_fd()), "after\n");
}

TEST(ProgressDisplayTest, DisabledPrintsOnlyWhatIsPrinted) {
  PipeFixture pipe;
  ProgressDisplay display(pipe.write_fd(), /*enabled=*/false);
  display.Update(Mapping());
  display.Print("ampmr: lost the master\n");
  EXPECT_EQ(Drain(pipe.read_fd()), "ampmr: lost the master\n");
}

TEST(ProgressDisplayTest, DisabledWritesNothing) {
  PipeFixture pipe;
  {
    ProgressDisplay display(pipe.write_fd(), /*enabled=*/false);
    display.Update(Mapping());
    display.Finish();
  }
  EXPECT_EQ(Drain(pipe.read_fd()), "");
}

TEST(ProgressDisplayTest, FinishWithoutUpdateWritesNothing) {
  PipeFixture pipe;
  { ProgressDisplay display(pipe.write_fd(), /*enabled=*/true); }
  EXPECT_EQ(Drain(pipe.read_fd()), "");
}

}  // namespace
}  // namespace ampmr::client
