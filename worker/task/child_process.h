// ChildProcess: one `/bin/sh -c COMMAND` child in a process group of its own,
// with pipes for stdin, stdout and stderr. The exec (Hadoop Streaming) tasks
// run their mapper, reducer or combiner this way; the process group is what
// lets them end everything the command started.
//
// The child starts with default signal dispositions and an empty signal mask
// (the worker ignores SIGPIPE and blocks SIGTERM, which children must not
// inherit). The parent's pipe ends are non-blocking and close-on-exec, so
// other children never hold them open.
//
// Not thread-safe; one task thread owns it. The destructor kills the group
// (SIGKILL) and reaps the child if the owner did not.
#ifndef AMPMR_WORKER_TASK_CHILD_PROCESS_H_
#define AMPMR_WORKER_TASK_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ampmr::worker {

class ChildProcess {
 public:
  // Starts /bin/sh -c `command` with exactly the environment `env`
  // ("NAME=VALUE" strings). Fails only if the shell cannot be started.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::string& command,
                                                             const std::vector<std::string>& env);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // The parent's pipe ends; -1 once closed.
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }
  void CloseStdin();
  void CloseStdout();
  void CloseStderr();

  // A descriptor that polls readable once the child has exited, or -1 if the
  // kernel has no pidfd; then poll HasExited() on a short timer instead.
  int exit_fd() const { return pidfd_; }
  // True once the child has exited (it stays unreaped, so its pid, which is
  // the group id, cannot be reused until Reap).
  bool HasExited();

  // Sends `signo` to every process in the group.
  void SignalGroup(int signo);

  // Ends the whole group: SIGTERM, up to `grace` for the child to exit, then
  // SIGKILL for whatever is left, and reaps the child.
  void Terminate(absl::Duration grace);

  // Kills what is left of the group (SIGKILL: strays the command started in
  // the background), reaps the child, and returns its wait status. Blocks
  // until the child exits. REQUIRES: not reaped yet.
  int Reap();

  pid_t pid() const { return pid_; }
  bool reaped() const { return reaped_; }

 private:
  ChildProcess(pid_t pid, int pidfd, int in, int out, int err)
      : pid_(pid), pidfd_(pidfd), stdin_fd_(in), stdout_fd_(out), stderr_fd_(err) {}

  const pid_t pid_;  // also the process group id
  int pidfd_;
  int stdin_fd_;
  int stdout_fd_;
  int stderr_fd_;
  bool reaped_ = false;
};

// "exited with status 3", "killed by signal 11 (Segmentation fault)".
std::string DescribeWaitStatus(int status);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_CHILD_PROCESS_H_
