// Subprocess: one child process of `ampmr run` that must never outlive it.
//
// The child runs in a process group of its own (so a terminal's Ctrl-C
// reaches only ampmr, which then shuts the children down in order, and so
// Signal() also reaches the child's own children, e.g. exec mappers), gets
// SIGKILL from the kernel if the thread that spawned it dies
// (PR_SET_PDEATHSIG), and starts with an empty signal mask and default
// signal dispositions whatever its parent had blocked or ignored.
//
// Thread-compatible, except that Signal() and pid() may be called from any
// thread at any time (a second Ctrl-C kills from the signal thread).
// REQUIRES: Spawn() is called on a thread that lives as long as the child
// should (in practice the main thread): PR_SET_PDEATHSIG fires when the
// spawning *thread* exits, not the process.
#ifndef AMPMR_CLIENT_SUBPROCESS_H_
#define AMPMR_CLIENT_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ampmr::client {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  // The child's stderr, and its stdout unless capture_stdout, are appended to
  // this file (created 0600). Required.
  std::string log_path;
  // Give the parent the read end of a pipe carrying the child's stdout.
  bool capture_stdout = false;
};

class Subprocess {
 public:
  // Forks and execs. Fails with the exec error, e.g. FAILED_PRECONDITION
  // "cannot start /x/ampmr-master: No such file or directory".
  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(const SpawnOptions& options);

  // Kills the process group with SIGKILL and reaps the child if that has not
  // happened yet, so a Subprocess never leaves a zombie behind.
  ~Subprocess();

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // Readable once the child has exited (pidfd_open); -1 where the kernel has
  // no pidfds. Owned here.
  int pidfd() const { return pidfd_; }

  // The read end of the stdout pipe (capture_stdout), else -1. Owned here.
  int stdout_fd() const { return stdout_fd_; }
  void CloseStdout();

  // Sends `signo` to the child's whole process group. Thread-safe; a no-op
  // error (ESRCH) when the group is gone is ignored.
  void Signal(int signo) const;

  // Reaps the child if it has exited; returns true when it has (now or
  // before). Never blocks.
  bool TryReap();

  // Waits until the child has exited (reaping it) or `deadline` passes;
  // returns whether it has exited.
  bool WaitUntil(absl::Time deadline);

  // After a successful reap: "exited with status 3", "killed by SIGKILL".
  std::optional<std::string> ExitDescription() const;
  // After a successful reap: the raw waitpid status.
  std::optional<int> wait_status() const { return wait_status_; }

 private:
  Subprocess(pid_t pid, int pidfd, int stdout_fd)
      : pid_(pid), pidfd_(pidfd), stdout_fd_(stdout_fd) {}

  const pid_t pid_;
  const int pidfd_;  // -1 when pidfd_open is unavailable
  int stdout_fd_;
  std::optional<int> wait_status_;
};

// "exited with status 3" / "killed by SIGKILL" for a waitpid status.
std::string DescribeWaitStatus(int status);

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_SUBPROCESS_H_
