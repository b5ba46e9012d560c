#include "common/subprocess.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

// A directory removed with everything in it at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = getenv("TMPDIR");
    std::string templ =
        absl::StrCat(tmp != nullptr && tmp[0] ? tmp : "/tmp", "/ampmr-subprocess-XXXXXX");
    EXPECT_NE(mkdtemp(templ.data()), nullptr);
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Everything readable from `fd` until end of file, or what came before
// `deadline` (a leaked write end would keep the pipe open forever).
std::string ReadAll(int fd, absl::Time deadline = Soon()) {
  std::string out;
  char buf[4096];
  for (;;) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return out + "<timed out>";
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// True once `pid` no longer runs (gone, or a zombie nobody reaped yet),
// waiting up to 10 s for a killed process to die.
bool ProcessEnds(pid_t pid) {
  const absl::Time deadline = Soon();
  while (absl::Now() < deadline) {
    const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    const size_t paren = stat.rfind(')');
    if (stat.empty() ||
        (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z')) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// Starts `options`, expecting success.
std::unique_ptr<Subprocess> Start(const SubprocessOptions& options) {
  absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Start(options);
  EXPECT_THAT(child, IsOk());
  return child.ok() ? *std::move(child) : nullptr;
}

// `/bin/sh -c command` with its stdout on a pipe.
SubprocessOptions Shell(const std::string& command) {
  SubprocessOptions options;
  options.argv = ShellCommand(command);
  options.fds.emplace(1, ChildFd::PipeFromChild());
  return options;
}

// Runs `options` (stdout on a pipe) to the end: its stdout.
std::string Output(const SubprocessOptions& options) {
  std::unique_ptr<Subprocess> child = Start(options);
  if (child == nullptr) return "<not started>";
  std::string out = ReadAll(child->fd(1));
  EXPECT_TRUE(child->WaitUntil(Soon()));
  EXPECT_EQ(child->ExitDescription(), "exited with status 0") << out;
  return out;
}

TEST(SubprocessTest, ReportsTheExitStatus) {
  std::unique_ptr<Subprocess> child = Start(Shell("exit 3"));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitUntil(Soon()));
  EXPECT_TRUE(child->reaped());
  EXPECT_TRUE(WIFEXITED(child->wait_status()));
  EXPECT_EQ(WEXITSTATUS(child->wait_status()), 3);
  EXPECT_EQ(child->ExitDescription(), "exited with status 3");
}

TEST(SubprocessTest, ReportsDeathBySignal) {
  std::unique_ptr<Subprocess> child = Start(Shell("kill -SEGV $$"));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitUntil(Soon()));
  EXPECT_THAT(child->ExitDescription(), ::testing::StartsWith("killed by signal 11 (SIGSEGV)"));
}

TEST(SubprocessTest, DescribesWaitStatusesInOneWording) {
  EXPECT_EQ(DescribeWaitStatus(0), "exited with status 0");
  EXPECT_EQ(DescribeWaitStatus(3 << 8), "exited with status 3");
  EXPECT_EQ(DescribeWaitStatus(SIGKILL), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(DescribeWaitStatus(SIGSEGV | 0x80), "killed by signal 11 (SIGSEGV), core dumped");
  EXPECT_EQ(DescribeWaitStatus(-1), "ended with an unknown status");
}

TEST(SubprocessTest, CapturesStdoutAndAppendsStderrToAFile) {
  ScratchDir dir;
  std::ofstream(dir / "log") << "before\n";
  SubprocessOptions options = Shell("echo out; echo err >&2; exit 4");
  options.fds.emplace(2, ChildFd::AppendTo(dir / "log"));
  std::unique_ptr<Subprocess> child = Start(options);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(ReadAll(child->fd(1)), "out\n");
  ASSERT_TRUE(child->WaitUntil(Soon()));
  EXPECT_EQ(child->ExitDescription(), "exited with status 4");
  EXPECT_EQ(ReadFile(dir / "log"), "before\nerr\n");
  struct stat st;
  ASSERT_EQ(stat((dir / "log").c_str(), &st), 0);
  std::filesystem::remove(dir / "new.log");
  SubprocessOptions fresh = Shell("echo err >&2");
  fresh.fds.emplace(2, ChildFd::AppendTo(dir / "new.log"));
  Output(fresh);
  EXPECT_EQ(ReadFile(dir / "new.log"), "err\n");
  ASSERT_EQ(stat((dir / "new.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(SubprocessTest, StdinFromAPipeOrDevNull) {
  SubprocessOptions options = Shell("cat");
  options.fds.emplace(0, ChildFd::PipeToChild());
  std::unique_ptr<Subprocess> child = Start(options);
  ASSERT_NE(child, nullptr);
  ASSERT_EQ(write(child->fd(0), "hello\n", 6), 6);
  child->CloseFd(0);
  EXPECT_EQ(child->fd(0), -1);
  EXPECT_EQ(ReadAll(child->fd(1)), "hello\n");

  SubprocessOptions null = Shell("cat; echo end");
  null.fds.emplace(0, ChildFd::Null());
  EXPECT_EQ(Output(null), "end\n");
}

TEST(SubprocessTest, Fds3And4ArePipesOrACopiedSocket) {
  // Pipes: the child reads fd 3 and writes fd 4.
  SubprocessOptions pipes;
  pipes.argv = ShellCommand("read line <&3; echo \"got $line\" >&4");
  pipes.fds.emplace(3, ChildFd::PipeToChild());
  pipes.fds.emplace(4, ChildFd::PipeFromChild());
  std::unique_ptr<Subprocess> child = Start(pipes);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->fd(0), -1);  // not mapped: no pipe
  ASSERT_EQ(write(child->fd(3), "ping\n", 5), 5);
  EXPECT_EQ(ReadAll(child->fd(4)), "got ping\n");
  ASSERT_TRUE(child->WaitUntil(Soon()));
  EXPECT_EQ(child->ExitDescription(), "exited with status 0");

  // One socket as both, the way handler children get theirs.
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  SubprocessOptions socket;
  socket.argv = ShellCommand("read line <&3; echo \"got $line\" >&4");
  socket.fds.emplace(3, ChildFd::Dup(sv[1]));
  socket.fds.emplace(4, ChildFd::Dup(sv[1]));
  child = Start(socket);
  ASSERT_NE(child, nullptr);
  close(sv[1]);  // the child has its copies
  ASSERT_EQ(write(sv[0], "pong\n", 5), 5);
  EXPECT_EQ(ReadAll(sv[0]), "got pong\n");
  close(sv[0]);
}

TEST(SubprocessTest, DescriptorsCanSwapPlaces) {
  // The child's 1 is the parent's 2 and its 2 the parent's 1: no dup2
  // may overwrite a source another descriptor still needs.
  int out[2], err[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(err, O_CLOEXEC), 0);
  int saved1 = dup(1), saved2 = dup(2);
  dup2(out[1], 2);
  dup2(err[1], 1);
  SubprocessOptions options;
  options.argv = ShellCommand("echo to-out; echo to-err >&2");
  options.fds.emplace(1, ChildFd::Dup(2));
  options.fds.emplace(2, ChildFd::Dup(1));
  std::unique_ptr<Subprocess> child = Start(options);
  dup2(saved1, 1);
  dup2(saved2, 2);
  close(saved1);
  close(saved2);
  close(out[1]);
  close(err[1]);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(ReadAll(out[0]), "to-out\n");
  EXPECT_EQ(ReadAll(err[0]), "to-err\n");
  close(out[0]);
  close(err[0]);
}

TEST(SubprocessTest, NoOtherDescriptorReachesTheChild) {
  // Opened without close-on-exec, as a careless library might.
  const int leaked = open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 0);
  const int high = fcntl(leaked, F_DUPFD, 200);
  ASSERT_GE(high, 200);
  SubprocessOptions options =
      Shell(absl::StrCat("for fd in ", leaked, " ", high,
                         " 3; do [ -e /proc/$$/fd/$fd ] && echo open $fd; done; "
                         "echo checked"));
  EXPECT_EQ(Output(options), "checked\n");
  // A mapped descriptor does, even on a number the parent uses.
  SubprocessOptions mapped =
      Shell(absl::StrCat("[ -e /proc/$$/fd/", leaked, " ] && echo mapped; [ -e /proc/$$/fd/", high,
                         " ] && echo leaked; echo ok"));
  mapped.fds.emplace(leaked, ChildFd::Null());
  EXPECT_EQ(Output(mapped), "mapped\nok\n");
  close(leaked);
  close(high);
}

TEST(SubprocessTest, NonBlockingPipesWithTheirSize) {
  SubprocessOptions options = Shell("cat");
  options.fds.emplace(0, ChildFd::PipeToChild());
  options.nonblocking_pipes = true;
  options.pipe_size = 1 << 20;
  std::unique_ptr<Subprocess> child = Start(options);
  ASSERT_NE(child, nullptr);
  for (int fd : {child->fd(0), child->fd(1)}) {
    EXPECT_NE(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_GE(fcntl(fd, F_GETPIPE_SZ), 1 << 20);
    EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  }
  // The child's ends block: cat sees its input whole.
  child->CloseFd(0);
  EXPECT_EQ(ReadAll(child->fd(1)), "");
}

TEST(SubprocessTest, RunsInItsOwnProcessGroup) {
  SubprocessOptions options;
  options.argv = {"/bin/sleep", "600"};
  std::unique_ptr<Subprocess> child = Start(options);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(getpgid(child->pid()), child->pid());
  EXPECT_NE(getpgid(child->pid()), getpgrp());
}

// The pid a `sleep 600 &` in the child printed on its stdout.
pid_t StrayPid(Subprocess* child) {
  std::string line;
  char c;
  while (read(child->fd(1), &c, 1) == 1 && c != '\n') line.push_back(c);
  pid_t pid = 0;
  EXPECT_TRUE(absl::SimpleAtoi(line, &pid)) << line;
  return pid;
}

TEST(SubprocessTest, KillEndsTheWholeProcessGroup) {
  std::unique_ptr<Subprocess> child = Start(Shell("sleep 600 & echo $!; exec sleep 600"));
  ASSERT_NE(child, nullptr);
  const pid_t stray = StrayPid(child.get());
  ASSERT_GT(stray, 0);
  EXPECT_EQ(getpgid(stray), child->pid());
  child->Kill();
  EXPECT_EQ(child->ExitDescription(), "killed by signal 9 (SIGKILL)");
  EXPECT_TRUE(ProcessEnds(stray));
}

TEST(SubprocessTest, ReapingKillsStraysLeftInTheGroup) {
  std::unique_ptr<Subprocess> child = Start(Shell("sleep 600 & echo $!"));
  ASSERT_NE(child, nullptr);
  const pid_t stray = StrayPid(child.get());
  ASSERT_TRUE(child->WaitUntil(Soon()));
  EXPECT_EQ(child->ExitDescription(), "exited with status 0");
  EXPECT_TRUE(ProcessEnds(stray));
}

TEST(SubprocessTest, SignalReachesTheGroupAndTerminateEscalates) {
  // The shell ignores SIGTERM; its child started before the trap does not.
  std::unique_ptr<Subprocess> child =
      Start(Shell("sleep 600 & stray=$!; trap '' TERM; echo $stray; while :; do sleep 1; done"));
  ASSERT_NE(child, nullptr);
  const pid_t stray = StrayPid(child.get());
  child->Signal(SIGTERM);
  EXPECT_TRUE(ProcessEnds(stray));
  EXPECT_FALSE(child->HasExited());
  child->Terminate(absl::Milliseconds(100));
  EXPECT_TRUE(child->reaped());
  EXPECT_EQ(child->ExitDescription(), "killed by signal 9 (SIGKILL)");
}

TEST(SubprocessTest, WaitUntilTimesOutAndDestructorKills) {
  SubprocessOptions options;
  options.argv = {"/bin/sleep", "600"};
  std::unique_ptr<Subprocess> child = Start(options);
  ASSERT_NE(child, nullptr);
  const pid_t pid = child->pid();
  EXPECT_FALSE(child->WaitUntil(absl::Now() + absl::Milliseconds(50)));
  EXPECT_FALSE(child->TryReap());
  EXPECT_EQ(child->ExitDescription(), "running");
  child.reset();
  EXPECT_NE(kill(pid, 0), 0);  // gone, and reaped (no zombie)
}

TEST(SubprocessTest, EnvironmentIsInheritedWithAdditions) {
  ASSERT_EQ(setenv("AMPMR_SUBPROCESS_TEST", "parent", 1), 0);
  SubprocessOptions options;
  options.argv = {"/usr/bin/env"};
  options.fds.emplace(1, ChildFd::PipeFromChild());
  options.env = {"AMPMR_SUBPROCESS_TEST=child", "AMPMR_SUBPROCESS_ADDED=1"};
  std::vector<std::string> lines = absl::StrSplit(Output(options), '\n', absl::SkipEmpty());
  unsetenv("AMPMR_SUBPROCESS_TEST");
  EXPECT_THAT(lines, ::testing::Contains("AMPMR_SUBPROCESS_TEST=child"));
  EXPECT_THAT(lines, ::testing::Not(::testing::Contains("AMPMR_SUBPROCESS_TEST=parent")));
  EXPECT_THAT(lines, ::testing::Contains("AMPMR_SUBPROCESS_ADDED=1"));
  EXPECT_THAT(lines, ::testing::Contains(absl::StrCat("PATH=", getenv("PATH"))));
}

TEST(SubprocessTest, EnvironmentGivenWhole) {
  SubprocessOptions options;
  options.argv = {"/usr/bin/env"};
  options.fds.emplace(1, ChildFd::PipeFromChild());
  options.inherit_env = false;
  options.env = {"A=1", "B=two words"};
  EXPECT_EQ(Output(options), "A=1\nB=two words\n");
}

TEST(SubprocessTest, WorkingDirectory) {
  ScratchDir dir;
  SubprocessOptions options;
  options.argv = {"/bin/pwd"};
  options.fds.emplace(1, ChildFd::PipeFromChild());
  options.working_dir = dir.path();
  EXPECT_EQ(Output(options), std::filesystem::canonical(dir.path()).string() + "\n");

  options.working_dir = dir / "missing";
  EXPECT_THAT(Subprocess::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot start /bin/pwd: cannot enter " + (dir / "missing") +
                           ": No such file or directory"));
}

TEST(SubprocessTest, ExecFailureIsReported) {
  ScratchDir dir;
  SubprocessOptions options;
  options.argv = {dir / "nope"};
  EXPECT_THAT(Subprocess::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot start " + (dir / "nope") + ": No such file or directory"));
  std::ofstream(dir / "not-executable") << "#!/bin/sh\n";
  options.argv = {dir / "not-executable"};
  EXPECT_THAT(Subprocess::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot start " + (dir / "not-executable") + ": Permission denied"));
}

TEST(SubprocessTest, BadOptionsAreRefused) {
  EXPECT_THAT(Subprocess::Start(SubprocessOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, "subprocess: empty argv"));
  SubprocessOptions options = Shell("true");
  options.fds.emplace(3, ChildFd::Dup(-1));
  EXPECT_THAT(Subprocess::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("descriptor 3")));
  options = Shell("true");
  options.fds.emplace(2, ChildFd::AppendTo("/nonexistent-dir/log"));
  EXPECT_THAT(Subprocess::Start(options),
              StatusIs(absl::StatusCode::kNotFound,
                       "cannot start /bin/sh: open /nonexistent-dir/log: No such file or "
                       "directory"));
}

// The SigBlk and SigIgn masks of a child started now.
std::vector<uint64_t> ChildSignalMasks() {
  std::string out = Output(Shell("exec grep -E '^(SigBlk|SigIgn)' /proc/self/status"));
  std::vector<uint64_t> masks;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    masks.push_back(f.size() == 2 ? std::strtoull(f[1].c_str(), nullptr, 16) : ~0ull);
  }
  return masks;
}

TEST(SubprocessTest, ChildStartsWithDefaultSignalsAndAnEmptyMask) {
  // As in the worker: SIGPIPE ignored, SIGTERM and SIGINT blocked; and more.
  struct sigaction ignore = {}, old_pipe, old_term, old_usr1;
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_pipe);
  sigaction(SIGTERM, &ignore, &old_term);
  sigaction(SIGUSR1, &ignore, &old_usr1);
  sigset_t blocked, old_mask;
  sigemptyset(&blocked);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGRTMIN + 3}) sigaddset(&blocked, sig);
  pthread_sigmask(SIG_BLOCK, &blocked, &old_mask);
  std::vector<uint64_t> masks = ChildSignalMasks();
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGUSR1, &old_usr1, nullptr);
  EXPECT_THAT(masks, ElementsAre(0u, 0u));  // nothing blocked, nothing ignored
}

TEST(SubprocessTest, SignalTheParentBlockedAndIgnoredKillsTheChild) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  struct sigaction ignore = {}, old_action;
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGTERM, &ignore, &old_action), 0);
  SubprocessOptions options;
  options.argv = {"/bin/sleep", "600"};
  std::unique_ptr<Subprocess> child = Start(options);
  sigaction(SIGTERM, &old_action, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_NE(child, nullptr);
  EXPECT_FALSE(child->TryReap());
  child->Signal(SIGTERM);
  ASSERT_TRUE(child->WaitUntil(Soon()));
  EXPECT_EQ(child->ExitDescription(), "killed by signal 15 (SIGTERM)");
}

TEST(SubprocessTest, DiesWithTheThreadThatStartedIt) {
  std::unique_ptr<Subprocess> child;
  SubprocessOptions options;
  options.argv = {"/bin/sleep", "600"};
  options.die_with_parent = true;
  std::thread([&] { child = Start(options); }).join();
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitUntil(Soon()));
  EXPECT_EQ(child->ExitDescription(), "killed by signal 9 (SIGKILL)");
}

// Records what it is told, and whether the group's leader was still
// unreaped (its id not reusable) when told that the group ends.
class RecordingListener final : public ProcessGroupListener {
 public:
  void GroupStarted(pid_t pgid) override { events.push_back(absl::StrCat("+", pgid)); }
  void GroupEnding(pid_t pgid) override {
    events.push_back(absl::StrCat("-", pgid));
    leader_unreaped = waitid(P_PID, pgid, &info_, WEXITED | WNOHANG | WNOWAIT) == 0;
  }
  std::vector<std::string> events;
  bool leader_unreaped = false;

 private:
  siginfo_t info_;
};

TEST(SubprocessTest, ListenerHearsOfTheGroupBeforeItsLeaderIsReaped) {
  RecordingListener listener;
  SubprocessOptions options;
  options.argv = {"/bin/sleep", "600"};
  options.group_listener = &listener;
  std::unique_ptr<Subprocess> child = Start(options);
  ASSERT_NE(child, nullptr);
  const pid_t pid = child->pid();
  EXPECT_THAT(listener.events, ElementsAre(absl::StrCat("+", pid)));
  child->Kill();
  EXPECT_THAT(listener.events, ElementsAre(absl::StrCat("+", pid), absl::StrCat("-", pid)));
  EXPECT_TRUE(listener.leader_unreaped);

  // A child that never ran is not a group to watch.
  listener.events.clear();
  options.argv = {"/nonexistent/binary"};
  EXPECT_THAT(Subprocess::Start(options), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(listener.events, ::testing::IsEmpty());
}

TEST(SubprocessTest, ChildrenStartedAtOnceOnManyThreadsGetOnlyTheirOwnDescriptors) {
  // If a child started on one thread held another's pipe open, that pipe
  // would not reach end of file when its own child exits.
  std::vector<std::unique_ptr<Subprocess>> sleepers(20);
  std::thread starter([&] {
    for (auto& s : sleepers) s = Start(Shell("exec sleep 600"));
  });
  for (int i = 0; i < 20; ++i) {
    std::unique_ptr<Subprocess> child = Start(Shell(absl::StrCat("echo ", i)));
    ASSERT_NE(child, nullptr);
    EXPECT_EQ(ReadAll(child->fd(1)), absl::StrCat(i, "\n"));
  }
  starter.join();
}

TEST(SubprocessTest, LooksUpUsers) {
  absl::StatusOr<RunAs> root = LookUpUser("root");
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  EXPECT_THAT(root->groups, ::testing::Contains(0u));
  EXPECT_THAT(LookUpUser("no-such-user-ampmr"),
              StatusIs(absl::StatusCode::kNotFound, "no user \"no-such-user-ampmr\""));
}

// "uid gid groups..." of a child run as `who`, from its /proc/self/status
// (real, effective, saved and filesystem ids must all agree).
std::string IdentityOfChild(const RunAs& who) {
  SubprocessOptions options = Shell("exec grep -E '^(Uid|Gid|Groups)' /proc/self/status");
  options.run_as = who;
  std::string out;
  for (absl::string_view line : absl::StrSplit(Output(options), '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar("\t "), absl::SkipEmpty());
    if (f.empty()) continue;
    if (f[0] != "Groups:" && (f.size() != 5 || f[1] != f[2] || f[1] != f[3] || f[1] != f[4])) {
      return absl::StrCat("ids differ: ", line);
    }
    for (size_t i = 1; i < (f[0] == "Groups:" ? f.size() : 2); ++i)
      absl::StrAppend(&out, f[i], " ");
  }
  return out;
}

TEST(SubprocessTest, RunsAsAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  absl::StatusOr<RunAs> nobody = LookUpUser("nobody");
  ASSERT_THAT(nobody, IsOk());
  SubprocessOptions id;
  id.argv = {"/usr/bin/id", "-u"};
  id.fds.emplace(1, ChildFd::PipeFromChild());
  id.run_as = *nobody;
  EXPECT_EQ(Output(id), absl::StrCat(nobody->uid, "\n"));

  RunAs who{65534, 65534, {65534, 100}};
  EXPECT_EQ(IdentityOfChild(who), "65534 65534 100 65534 ");
  who.groups.clear();  // none at all, not root's
  EXPECT_EQ(IdentityOfChild(who), "65534 65534 ");
}

TEST(SubprocessTest, WorkingDirectoryIsEnteredAsTheUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  ScratchDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0700), 0);  // root's alone
  SubprocessOptions options;
  options.argv = {"/bin/pwd"};
  options.working_dir = dir.path();
  options.run_as = RunAs{65534, 65534, {}};
  EXPECT_THAT(Subprocess::Start(options), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                   "cannot start /bin/pwd: cannot enter " +
                                                       dir.path() + ": Permission denied"));
}

// Without the privilege to change identity, Start() refuses by name.
absl::Status StartAsRootWithoutPrivilege() {
  SubprocessOptions options;
  options.argv = {"/bin/true"};
  options.run_as = RunAs{0, 0, {}};
  return Subprocess::Start(options).status();
}

TEST(SubprocessTest, ChangingIdentityWithoutPrivilegeIsRefused) {
  const std::string want =
      "cannot start /bin/true as uid 0 gid 0 groups []: setgroups: Operation not permitted "
      "(changing identity needs root)";
  if (geteuid() != 0) {
    EXPECT_THAT(StartAsRootWithoutPrivilege(), StatusIs(absl::StatusCode::kPermissionDenied, want));
    return;
  }
  // Root: check it from a child process that gave up root first.
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    absl::Status s = StartAsRootWithoutPrivilege();
    _exit(s.code() == absl::StatusCode::kPermissionDenied && s.message() == want ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(DescribeWaitStatus(status), "exited with status 0");
}

}  // namespace
}  // namespace ampmr
