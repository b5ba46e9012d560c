#include "common/subprocess_child.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace ampmr::subprocess_internal {
namespace {

[[noreturn]] void ReportAndExit(int error_fd, Step step, int fd = -1) {
  ChildError report{step, errno, fd};
  // Smaller than PIPE_BUF: written whole or not at all.
  ssize_t ignored = write(error_fd, &report, sizeof(report));
  (void)ignored;
  _exit(127);
}

bool IsTarget(const ChildPlan& plan, int fd) {
  for (int i = 0; i < plan.n_fds; ++i) {
    if (plan.targets[i] == fd) return true;
  }
  return false;
}

// Runs in the child between vfork and exec, sharing the parent's memory:
// async-signal-safe system calls only, on data the parent prepared. Every
// signal is blocked on entry (the parent blocked them around vfork), so no
// handler of the parent's can run here.
[[noreturn]] void RunChild(const ChildPlan& plan) {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    // SIGKILL, SIGSTOP and the C library's own signals refuse; exec resets
    // those anyway (it keeps only SIG_IGN, which is what must not pass).
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  setpgid(0, 0);

  // Descriptors below first_free could be overwritten by a dup2 onto a
  // target: those are moved above it first.
  const int error_fd = plan.error_fd >= plan.first_free
                           ? plan.error_fd
                           : fcntl(plan.error_fd, F_DUPFD_CLOEXEC, plan.first_free);
  if (error_fd < 0) ReportAndExit(plan.error_fd, Step::kMoveFd);
  for (int i = 0; i < plan.n_fds; ++i) {
    plan.moved[i] = plan.sources[i] >= plan.first_free
                        ? plan.sources[i]
                        : fcntl(plan.sources[i], F_DUPFD_CLOEXEC, plan.first_free);
    if (plan.moved[i] < 0) ReportAndExit(error_fd, Step::kMoveFd, plan.targets[i]);
  }
  for (int i = 0; i < plan.n_fds; ++i) {
    // dup2 leaves the target without close-on-exec.
    if (dup2(plan.moved[i], plan.targets[i]) < 0) {
      ReportAndExit(error_fd, Step::kMoveFd, plan.targets[i]);
    }
  }
  // Nothing else reaches the program: below first_free the descriptors that
  // are not targets (0, 1 and 2 stay the parent's unless they are), above it
  // all of them.
  for (int fd = 3; fd < plan.first_free; ++fd) {
    if (!IsTarget(plan, fd)) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (close_range(plan.first_free, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    // A kernel older than 5.11.
    struct rlimit limit;
    const int max_fds = getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur > (1 << 20)
                            ? 1 << 20
                            : static_cast<int>(limit.rlim_cur);
    for (int fd = plan.first_free; fd < max_fds; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }

  if (plan.run_as != nullptr) {
    // Raw system calls: the C library's wrappers would try to change every
    // thread of the parent, whose memory this child shares.
    const RunAs& who = *plan.run_as;
    if (syscall(SYS_setgroups, who.groups.size(), who.groups.data()) != 0) {
      ReportAndExit(error_fd, Step::kSetgroups);
    }
    if (syscall(SYS_setgid, who.gid) != 0) ReportAndExit(error_fd, Step::kSetgid);
    if (syscall(SYS_setuid, who.uid) != 0) ReportAndExit(error_fd, Step::kSetuid);
  }
  // After the identity: changing it clears the parent-death signal.
  if (plan.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != plan.parent) _exit(127);  // it died before prctl took effect
  }
  if (plan.working_dir != nullptr && chdir(plan.working_dir) != 0) {
    ReportAndExit(error_fd, Step::kChdir);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(plan.path, plan.argv, plan.envp);
  ReportAndExit(error_fd, Step::kExec);
}

}  // namespace

pid_t StartChild(const ChildPlan& plan) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = vfork();
  if (pid == 0) RunChild(plan);
  const int error = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = error;
  return pid;
}

}  // namespace ampmr::subprocess_internal
