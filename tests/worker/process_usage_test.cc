// ProcessUsage on real processes: a child's CPU and memory count in its
// parent's tree, while it runs and after it was reaped.
#include "worker/process_usage.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

// The child's own CPU time so far.
double ChildCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(ProcessUsageTest, AReapedChildsCpuCountsInTheTree) {
  absl::Time start = absl::Now();
  ProcessUsage usage(getpid());
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    volatile unsigned spin = 0;
    while (ChildCpuSeconds() < 0.5) ++spin;
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  // Over a pretend second of wall time, the percentage is the CPU seconds.
  UsageSample sample = usage.Sample(start + absl::Seconds(1));
  EXPECT_GE(sample.cpu_percent, 45.0);  // the child's 0.5 s (ticks are 10 ms)
  EXPECT_GT(sample.rss_bytes, 0);
  // Nothing ran since: the next sample is near zero.
  EXPECT_LT(usage.Sample(start + absl::Seconds(2)).cpu_percent, 40.0);
}

TEST(ProcessUsageTest, ARunningChildsMemoryCountsInTheTree) {
  ProcessUsage usage(getpid());
  int64_t alone = usage.Sample(absl::Now()).rss_bytes;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  constexpr size_t kBytes = size_t{256} << 20;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    volatile char* block = static_cast<volatile char*>(malloc(kBytes));
    for (size_t i = 0; i < kBytes; i += 4096) block[i] = 1;  // resident now
    char c = 'r';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    pause();  // until killed
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  int64_t with_child = usage.Sample(absl::Now()).rss_bytes;
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  EXPECT_GE(with_child - alone, static_cast<int64_t>(kBytes) * 9 / 10);
}

TEST(ProcessUsageTest, AGoneRootUsesNothing) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // its pid is free now
  ProcessUsage usage(child);
  UsageSample sample = usage.Sample(absl::Now() + absl::Seconds(1));
  EXPECT_EQ(sample.cpu_percent, 0);
  EXPECT_EQ(sample.rss_bytes, 0);
}

// Processes that exit while the tree is read (a /proc/PID/stat opened, then
// its process reaped before the read: ESRCH) are skipped, never thrown over.
TEST(ProcessUsageTest, ProcessesExitingWhileTheTreeIsReadAreSkipped) {
  pid_t churn = fork();
  ASSERT_GE(churn, 0);
  if (churn == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // gone with the test, however it ends
    for (;;) {
      pid_t p = fork();
      if (p == 0) _exit(0);
      if (p > 0) waitpid(p, nullptr, 0);
    }
  }
  ProcessUsage usage(getpid());
  int64_t sampled = 0;
  const absl::Time end = absl::Now() + absl::Seconds(1);
  while (absl::Now() < end) {
    usage.Sample(absl::Now());
    ++sampled;
  }
  kill(churn, SIGKILL);
  waitpid(churn, nullptr, 0);
  EXPECT_GT(sampled, 0);
}

}  // namespace
}  // namespace ampmr::worker
