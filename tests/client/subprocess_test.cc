#include "client/subprocess.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/stand_in.h"
#include "tests/status_matchers.h"

namespace ampmr::client {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::ReadFile;
using ::ampmr::testing::ScratchDir;
using ::ampmr::testing::StatusIs;

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

TEST(SubprocessTest, CapturesStdoutAndLogsStderr) {
  ScratchDir dir;
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 4"};
  options.log_path = dir / "log";
  options.capture_stdout = true;
  auto child = Subprocess::Spawn(options);
  ASSERT_THAT(child, IsOk());
  std::string out;
  char buf[64];
  ssize_t n;
  while ((n = read((*child)->stdout_fd(), buf, sizeof(buf))) > 0) out.append(buf, n);
  EXPECT_EQ(out, "out\n");
  ASSERT_TRUE((*child)->WaitUntil(Soon()));
  EXPECT_EQ((*child)->ExitDescription(), "exited with status 4");
  EXPECT_EQ(ReadFile(dir / "log"), "err\n");
}

TEST(SubprocessTest, ExecFailureIsReported) {
  ScratchDir dir;
  SpawnOptions options;
  options.argv = {dir / "nope"};
  options.log_path = dir / "log";
  EXPECT_THAT(Subprocess::Spawn(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot start " + (dir / "nope") + ": No such file or directory"));
}

TEST(SubprocessTest, ChildGetsDefaultSignalsWhateverTheParentBlocked) {
  ScratchDir dir;
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  struct sigaction ignore = {}, old_action;
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGTERM, &ignore, &old_action), 0);

  SpawnOptions options;
  options.argv = {"/bin/sleep", "600"};
  options.log_path = dir / "log";
  auto child = Subprocess::Spawn(options);

  sigaction(SIGTERM, &old_action, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_THAT(child, IsOk());
  EXPECT_FALSE((*child)->TryReap());
  (*child)->Signal(SIGTERM);
  ASSERT_TRUE((*child)->WaitUntil(Soon()));
  EXPECT_EQ((*child)->ExitDescription(), "killed by SIGTERM");
}

TEST(SubprocessTest, RunsInItsOwnProcessGroup) {
  ScratchDir dir;
  SpawnOptions options;
  options.argv = {"/bin/sleep", "600"};
  options.log_path = dir / "log";
  auto child = Subprocess::Spawn(options);
  ASSERT_THAT(child, IsOk());
  EXPECT_EQ(getpgid((*child)->pid()), (*child)->pid());
  EXPECT_NE(getpgid((*child)->pid()), getpgrp());
}

TEST(SubprocessTest, WaitUntilTimesOutAndDestructorKills) {
  ScratchDir dir;
  SpawnOptions options;
  options.argv = {"/bin/sleep", "600"};
  options.log_path = dir / "log";
  auto child = Subprocess::Spawn(options);
  ASSERT_THAT(child, IsOk());
  const pid_t pid = (*child)->pid();
  EXPECT_FALSE((*child)->WaitUntil(absl::Now() + absl::Milliseconds(50)));
  child->reset();
  EXPECT_FALSE(ampmr::testing::ProcessAlive(pid));
}

TEST(SubprocessTest, DescribeWaitStatus) {
  EXPECT_EQ(DescribeWaitStatus(0), "exited with status 0");
  EXPECT_EQ(DescribeWaitStatus(3 << 8), "exited with status 3");
  EXPECT_EQ(DescribeWaitStatus(SIGSEGV), "killed by SIGSEGV");
}

}  // namespace
}  // namespace ampmr::client
