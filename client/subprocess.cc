#include "client/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace ampmr::client {
namespace {

// The file descriptors the child needs, opened by the parent before fork.
struct ChildFds {
  int stdin_fd;
  int stdout_fd;
  int stderr_fd;
  int exec_error_fd;  // CLOEXEC: closes on a successful exec
};

absl::Status ErrnoError(absl::string_view what, int error) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(error)));
}

void CloseIfOpen(int fd) {
  if (fd >= 0) close(fd);
}

// dup2 that also clears FD_CLOEXEC when `fd` already is `target`.
void MoveTo(int fd, int target) {
  if (fd == target) {
    fcntl(fd, F_SETFD, 0);
  } else {
    dup2(fd, target);
  }
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(char* const argv[], const ChildFds& fds, pid_t parent) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl took effect.
  if (getppid() != parent) _exit(127);

  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  MoveTo(fds.stdin_fd, 0);
  MoveTo(fds.stdout_fd, 1);
  MoveTo(fds.stderr_fd, 2);
  // Everything else is CLOEXEC already where we opened it; this also covers
  // descriptors libraries opened without it.
  if (fds.exec_error_fd > 2) {
    close_range(3, fds.exec_error_fd - 1, 0);
    close_range(fds.exec_error_fd + 1, ~0U, 0);
  }
  execv(argv[0], argv);
  const int error = errno;
  ssize_t ignored = write(fds.exec_error_fd, &error, sizeof(error));
  (void)ignored;
  _exit(127);
}

// Waits for the exec result: EOF means exec succeeded; an int is its errno.
int ReadExecError(int fd) {
  int error = 0;
  ssize_t n;
  do {
    n = read(fd, &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  return n == sizeof(error) ? error : 0;
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  return -1;
#endif
}

// The descriptors Spawn() opens before fork: the child's ends, dup'ed onto
// its 0, 1 and 2, and the parent's. All CLOEXEC; the destructor closes
// whatever is still open.
struct SpawnFds {
  int log = -1;
  int null = -1;
  int out_read = -1;
  int out_write = -1;
  int exec_error_read = -1;
  int exec_error_write = -1;

  ~SpawnFds() {
    CloseChildEnds();
    for (int* fd : {&out_read, &exec_error_read}) CloseAndClear(fd);
  }
  absl::Status Open(const SpawnOptions& options) {
    log = open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0) {
      return ErrnoError(absl::StrCat("open ", options.log_path), errno);
    }
    null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0) return ErrnoError("open /dev/null", errno);
    int out[2] = {-1, -1};
    if (options.capture_stdout && pipe2(out, O_CLOEXEC) != 0) {
      return ErrnoError("pipe", errno);
    }
    out_read = out[0];
    out_write = out[1];
    int exec_error[2];
    if (pipe2(exec_error, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
    exec_error_read = exec_error[0];
    exec_error_write = exec_error[1];
    return absl::OkStatus();
  }
  void CloseChildEnds() {
    for (int* fd : {&log, &null, &out_write, &exec_error_write}) {
      CloseAndClear(fd);
    }
  }
  static void CloseAndClear(int* fd) {
    CloseIfOpen(*fd);
    *fd = -1;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  SpawnFds fds;
  AMPMR_RETURN_IF_ERROR(fds.Open(options));
  std::vector<char*> argv;
  for (const std::string& arg : options.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  const ChildFds child_fds{fds.null, options.capture_stdout ? fds.out_write : fds.log, fds.log,
                           fds.exec_error_write};
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) ExecChild(argv.data(), child_fds, parent);
  const int fork_error = errno;
  fds.CloseChildEnds();
  if (pid < 0) return ErrnoError("fork", fork_error);
  // Also here, so Signal() reaches the group even before the child ran.
  setpgid(pid, pid);
  const int exec_error = ReadExecError(fds.exec_error_read);
  if (exec_error != 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start ", options.argv[0], ": ", strerror(exec_error)));
  }
  const int stdout_fd = fds.out_read;
  fds.out_read = -1;  // now the Subprocess's
  return std::unique_ptr<Subprocess>(new Subprocess(pid, PidfdOpen(pid), stdout_fd));
}

Subprocess::~Subprocess() {
  if (!TryReap()) {
    Signal(SIGKILL);
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  CloseStdout();
  CloseIfOpen(pidfd_);
}

void Subprocess::CloseStdout() {
  CloseIfOpen(stdout_fd_);
  stdout_fd_ = -1;
}

void Subprocess::Signal(int signo) const { kill(-pid_, signo); }

bool Subprocess::TryReap() {
  if (wait_status_.has_value()) return true;
  int status;
  pid_t r;
  do {
    r = waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    wait_status_ = status;
  } else if (r < 0 && errno == ECHILD) {
    wait_status_ = 0;  // reaped by someone else; nothing more to learn
  }
  return wait_status_.has_value();
}

bool Subprocess::WaitUntil(absl::Time deadline) {
  while (!TryReap()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    // Without a pidfd, look again every few milliseconds.
    const int timeout_ms = static_cast<int>(
        std::min<int64_t>(pidfd_ >= 0 ? 60000 : 5, absl::ToInt64Milliseconds(left) + 1));
    if (pidfd_ >= 0) {
      struct pollfd p = {pidfd_, POLLIN, 0};
      poll(&p, 1, timeout_ms);
    } else {
      usleep(timeout_ms * 1000);
    }
  }
  return true;
}

std::optional<std::string> Subprocess::ExitDescription() const {
  if (!wait_status_.has_value()) return std::nullopt;
  return DescribeWaitStatus(*wait_status_);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return abbrev != nullptr ? absl::StrCat("killed by SIG", abbrev)
                             : absl::StrCat("killed by signal ", WTERMSIG(status));
  }
  return absl::StrCat("ended with wait status ", status);
}

}  // namespace ampmr::client
