#include "worker/task/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "worker/task/group_reaper.h"

namespace ampmr::worker {
namespace {

// Pipe buffers this large let a chatty child and the task trade big blocks
// (few system calls); the kernel may cap it (fs.pipe-max-size).
constexpr int kPipeSize = 1 << 20;

// Signals the worker may ignore (SIG_IGN survives exec) that a child must see
// with their default action: a filter that dies quietly of SIGPIPE when its
// reader is gone is normal Unix behaviour.
constexpr int kDefaultSignals[] = {SIGPIPE, SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGCHLD, SIGUSR1,
                                   SIGUSR2, SIGALRM, SIGXFSZ, SIGTSTP, SIGTTIN, SIGTTOU};

void CloseFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

// A pipe whose ends are close-on-exec and not 0, 1 or 2 (so the child's
// dup2 onto 0..2 always clears close-on-exec).
absl::Status MakePipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  for (int i = 0; i < 2; ++i) {
    if (fds[i] > 2) continue;
    int moved = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    ::close(fds[i]);
    fds[i] = moved;
    if (moved < 0) return absl::ErrnoToStatus(errno, "fcntl(F_DUPFD_CLOEXEC)");
  }
  ::fcntl(fds[0], F_SETPIPE_SZ, kPipeSize);
  return absl::OkStatus();
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// posix_spawn (a vfork and an exec, cheap even from a big worker) of
// /bin/sh -c command in a new process group, with default signals and an
// empty mask, and the child's ends of the pipes as 0, 1, 2.
absl::StatusOr<pid_t> Spawn(const std::string& command, const std::vector<std::string>& env,
                            int stdin_fd, int stdout_fd, int stderr_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : kDefaultSignals) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                  const_cast<char*>(command.c_str()), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return absl::ErrnoToStatus(rc, "start /bin/sh");
  return pid;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::string& command, const std::vector<std::string>& env) {
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  absl::Cleanup close_all = [&] {
    for (int* p : {in, out, err}) {
      CloseFd(&p[0]);
      CloseFd(&p[1]);
    }
  };
  for (int* p : {in, out, err}) {
    absl::Status s = MakePipe(p);
    if (!s.ok()) return s;
  }
  absl::StatusOr<pid_t> pid = Spawn(command, env, in[0], out[1], err[1]);
  if (!pid.ok()) return pid.status();
  GroupReaper::Add(*pid);

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0));
  if (pidfd >= 0) ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  for (int fd : {in[1], out[0], err[0]}) SetNonBlocking(fd);
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess(*pid, pidfd, in[1], out[0], err[0]));
  in[1] = out[0] = err[0] = -1;  // owned by the child object now
  return child;
}

ChildProcess::~ChildProcess() {
  CloseStdin();
  CloseStdout();
  CloseStderr();
  if (!reaped_) Reap();
  CloseFd(&pidfd_);
}

void ChildProcess::CloseStdin() { CloseFd(&stdin_fd_); }
void ChildProcess::CloseStdout() { CloseFd(&stdout_fd_); }
void ChildProcess::CloseStderr() { CloseFd(&stderr_fd_); }

bool ChildProcess::HasExited() {
  if (reaped_) return true;
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  if (::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno == ECHILD;  // reaped by someone else (SIGCHLD ignored)
  }
  return info.si_pid == pid_;
}

void ChildProcess::SignalGroup(int signo) {
  if (!reaped_) ::kill(-pid_, signo);
}

void ChildProcess::Terminate(absl::Duration grace) {
  if (reaped_) return;
  SignalGroup(SIGTERM);
  absl::Time deadline = absl::Now() + grace;
  while (!HasExited()) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    int ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
    if (pidfd_ >= 0) {
      struct pollfd p = {pidfd_, POLLIN, 0};
      ::poll(&p, 1, ms);
    } else {
      ::poll(nullptr, 0, ms < 10 ? ms : 10);
    }
  }
  Reap();
}

int ChildProcess::Reap() {
  // The unreaped child keeps its group id from being reused, so killing the
  // group first cannot hit an unrelated process.
  ::kill(-pid_, SIGKILL);
  GroupReaper::Remove(pid_);
  int status = -1;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      status = -1;
      break;
    }
  }
  reaped_ = true;
  return status;
}

std::string DescribeWaitStatus(int status) {
  if (status == -1) return "ended with an unknown status";
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);  // "SEGV"; thread-safe, unlike strsignal
    return absl::StrCat("killed by signal ", sig,
                        name != nullptr ? absl::StrCat(" (SIG", name, ")") : "",
                        WCOREDUMP(status) ? ", core dumped" : "");
  }
  return absl::StrCat("ended with wait status ", status);
}

}  // namespace ampmr::worker
