// Subprocess: one child process, started with exactly what it is given (argv,
// environment, working directory, descriptors, identity) in a process group
// of its own. The client's local cluster, the worker's exec tasks and its
// call handlers all start their children here.
//
// What every child starts with, whatever its parent had:
//   - a process group of its own whose id is its pid, so Signal() reaches
//     what it starts too;
//   - every signal disposition at its default and an empty signal mask (a
//     filter must die of SIGPIPE, a handler must stop on SIGTERM, even when
//     the worker ignores or blocks them);
//   - exactly the descriptors in `fds` (0, 1 and 2 not named there are the
//     parent's own); every other descriptor is closed at exec, whether or not
//     whoever opened it asked for close-on-exec;
//   - with `run_as`: its supplementary groups, group and user set in that
//     order, then the working directory entered as that user.
//
// Start() returns once the child has exec'ed, or fails saying why it could
// not, e.g. FAILED_PRECONDITION "cannot start /x/ampmr-master: No such file
// or directory". The child is started vfork-style (the parent's memory is
// shared until exec, not copied: cheap even from a large worker) and runs
// only async-signal-safe code until exec.
//
// Reaping: the child is reaped only after what is left of its group (strays
// it started in the background) got SIGKILL, while the unreaped leader still
// keeps the group id from being reused. ExitDescription() then says how it
// ended, in the one wording used everywhere: "exited with status 3",
// "killed by signal 9 (SIGKILL)".
//
// Thread-compatible: one thread owns a Subprocess at a time; pid() and
// Signal() may be called from any thread at any time.
#ifndef AMPMR_COMMON_SUBPROCESS_H_
#define AMPMR_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ampmr {

// What one of the child's descriptors is.
class ChildFd {
 public:
  // /dev/null, open for reading and writing.
  static ChildFd Null() { return ChildFd(Kind::kNull); }
  // A pipe the child reads; Subprocess::fd() is the parent's write end.
  static ChildFd PipeToChild() { return ChildFd(Kind::kPipeToChild); }
  // A pipe the child writes; Subprocess::fd() is the parent's read end.
  static ChildFd PipeFromChild() { return ChildFd(Kind::kPipeFromChild); }
  // A copy of this process's descriptor `fd`, which stays the caller's (one
  // end of a socketpair, the parent's stderr).
  static ChildFd Dup(int fd) { return ChildFd(Kind::kDup, fd); }
  // The file at `path`, opened for appending (created 0600 if absent).
  static ChildFd AppendTo(std::string path) { return ChildFd(Kind::kAppend, -1, std::move(path)); }

  enum class Kind { kNull, kPipeToChild, kPipeFromChild, kDup, kAppend };
  Kind kind() const { return kind_; }
  int dup_fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  explicit ChildFd(Kind kind, int fd = -1, std::string path = "")
      : kind_(kind), fd_(fd), path_(std::move(path)) {}

  Kind kind_;
  int fd_;
  std::string path_;
};

// An identity to run the child as.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  // The supplementary groups, set whole (empty: none).
  std::vector<gid_t> groups;
};

// The uid, primary gid and groups of user `name` in the user database;
// NOT_FOUND naming the user if there is none.
absl::StatusOr<RunAs> LookUpUser(const std::string& name);

// Told of each child's process group, so that something outside can kill the
// groups still running if this process dies (the worker's GroupReaper).
// Called on the thread that starts or reaps the child.
class ProcessGroupListener {
 public:
  virtual ~ProcessGroupListener() = default;
  // The group `pgid` (the child's pid) exists.
  virtual void GroupStarted(pid_t pgid) = 0;
  // The group has been SIGKILLed and its leader is about to be reaped: until
  // then the id cannot have been reused.
  virtual void GroupEnding(pid_t pgid) = 0;
};

struct SubprocessOptions {
  // argv[0] is the executable's path (there is no PATH search). Required.
  // ShellCommand() makes the argv of `/bin/sh -c COMMAND`.
  std::vector<std::string> argv;
  // "NAME=VALUE" strings. With inherit_env they are added to this process's
  // environment (replacing variables of the same name); without, they are
  // the child's whole environment.
  std::vector<std::string> env;
  bool inherit_env = true;
  // Entered before exec (as run_as's user, when set); empty: this process's.
  std::string working_dir;
  // The child's descriptors: its descriptor number -> what it is.
  std::map<int, ChildFd> fds;
  // The parent's ends of the pipes in `fds`: non-blocking or not, and the
  // pipe buffer size in bytes (0: the kernel's default; the kernel may cap it).
  bool nonblocking_pipes = false;
  int pipe_size = 0;
  // Who the child runs as; unset: this process's identity. Changing it needs
  // the privilege to (root); otherwise Start() fails with PERMISSION_DENIED.
  std::optional<RunAs> run_as;
  // The kernel SIGKILLs the child when the thread that called Start() exits
  // (PR_SET_PDEATHSIG), whatever way this process ends. Only for children
  // started on a thread that lives as long as they should.
  bool die_with_parent = false;
  // Told of the child's group; must outlive the Subprocess. May be null.
  ProcessGroupListener* group_listener = nullptr;
};

// {"/bin/sh", "-c", command}.
std::vector<std::string> ShellCommand(const std::string& command);

class Subprocess {
 public:
  // Starts the child. Fails with INVALID_ARGUMENT for bad options,
  // FAILED_PRECONDITION when the child cannot be started ("cannot start
  // PATH: ..."), PERMISSION_DENIED when it may not take run_as's identity.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const SubprocessOptions& options);

  // Kill()s the child unless it was reaped already: a Subprocess never
  // leaves a process or a zombie behind. Closes the pipe ends.
  ~Subprocess();

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Also the id of the child's process group.
  pid_t pid() const { return pid_; }

  // The parent's end of the pipe that is the child's descriptor `child_fd`;
  // -1 if it is not a pipe or was closed. Owned here.
  int fd(int child_fd) const;
  void CloseFd(int child_fd);

  // A descriptor that polls readable once the child has exited (a pidfd);
  // -1 where the kernel has none: then look at HasExited() on a short timer.
  int exit_fd() const { return pidfd_; }

  // Sends `signo` to the child's whole process group. Thread-safe; does
  // nothing once the child is reaped.
  void Signal(int signo) const;

  // Whether the child has exited. Does not reap it.
  bool HasExited();
  // Reaps the child if it has exited; true when it has (now or before).
  // Never blocks.
  bool TryReap();
  // Waits until the child has exited (and reaps it) or `deadline` passes;
  // returns whether it has exited.
  bool WaitUntil(absl::Time deadline);
  // SIGTERM to the group, up to `grace` for the child to exit, then Kill().
  void Terminate(absl::Duration grace);
  // SIGKILLs the group and reaps the child, waiting for it to exit.
  // Idempotent.
  void Kill();

  bool reaped() const { return reaped_; }
  // REQUIRES: reaped(). The waitpid status; -1 if it is unknown (the child
  // was reaped by someone else, e.g. with SIGCHLD ignored).
  int wait_status() const { return wait_status_; }
  // DescribeWaitStatus(wait_status()) once reaped, else "running".
  std::string ExitDescription() const;

 private:
  Subprocess(pid_t pid, int pidfd, std::map<int, int> pipes, ProcessGroupListener* listener)
      : pid_(pid), pidfd_(pidfd), pipes_(std::move(pipes)), listener_(listener) {}
  // Kills what is left of the group and reaps the exited (or killed) child.
  void Reap();

  const pid_t pid_;
  const int pidfd_;           // -1 without pidfds
  std::map<int, int> pipes_;  // child fd -> the parent's end
  ProcessGroupListener* const listener_;
  std::atomic<bool> reaped_{false};
  int wait_status_ = -1;
};

// How a child with waitpid status `status` ended: "exited with status 3",
// "killed by signal 11 (SIGSEGV), core dumped"; -1: "ended with an unknown
// status".
std::string DescribeWaitStatus(int status);

}  // namespace ampmr

#endif  // AMPMR_COMMON_SUBPROCESS_H_
