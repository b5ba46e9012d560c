#include "common/subprocess.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/subprocess_child.h"

extern char** environ;

namespace ampmr {
namespace {

using subprocess_internal::ChildError;
using subprocess_internal::ChildPlan;
using subprocess_internal::StartChild;
using subprocess_internal::Step;

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// The descriptors Start() opens: the child's ends (closed once the child has
// them) and the parent's (handed to the Subprocess). All close-on-exec, so
// children other threads start meanwhile get none of them.
class Descriptors {
 public:
  ~Descriptors() {
    CloseChildEnds();
    for (auto& [target, fd] : parent_ends_) CloseFd(&fd);
  }

  // Opens what `spec` needs and returns the descriptor the child's `target`
  // is copied from.
  absl::StatusOr<int> Open(int target, const ChildFd& spec, const SubprocessOptions& options) {
    switch (spec.kind()) {
      case ChildFd::Kind::kDup:
        return spec.dup_fd();
      case ChildFd::Kind::kNull:
        if (null_ < 0) null_ = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_ < 0) return absl::ErrnoToStatus(errno, "open /dev/null");
        return null_;
      case ChildFd::Kind::kAppend: {
        int fd = open(spec.path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", spec.path()));
        child_ends_.push_back(fd);
        return fd;
      }
      case ChildFd::Kind::kPipeToChild:
      case ChildFd::Kind::kPipeFromChild: {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
        if (options.pipe_size > 0) fcntl(p[0], F_SETPIPE_SZ, options.pipe_size);
        const bool to_child = spec.kind() == ChildFd::Kind::kPipeToChild;
        const int child_end = to_child ? p[0] : p[1];
        const int parent_end = to_child ? p[1] : p[0];
        // A new pipe end has no other status flag to keep.
        if (options.nonblocking_pipes) fcntl(parent_end, F_SETFL, O_NONBLOCK);
        child_ends_.push_back(child_end);
        parent_ends_[target] = parent_end;
        return child_end;
      }
    }
    return absl::InvalidArgumentError("unknown ChildFd kind");
  }

  void CloseChildEnds() {
    for (int& fd : child_ends_) CloseFd(&fd);
    child_ends_.clear();
    CloseFd(&null_);
  }
  std::map<int, int> ReleaseParentEnds() { return std::exchange(parent_ends_, {}); }

 private:
  int null_ = -1;
  std::vector<int> child_ends_;
  std::map<int, int> parent_ends_;  // child fd -> the parent's end of its pipe
};

// The child's environment as "NAME=VALUE" strings.
std::vector<std::string> Environment(const SubprocessOptions& options) {
  if (!options.inherit_env) return options.env;
  std::set<std::string, std::less<>> replaced;
  for (const std::string& e : options.env) replaced.insert(e.substr(0, e.find('=')));
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = strchr(*e, '=');
    const size_t name_length = eq == nullptr ? strlen(*e) : static_cast<size_t>(eq - *e);
    if (replaced.count(absl::string_view(*e, name_length)) == 0) env.emplace_back(*e);
  }
  env.insert(env.end(), options.env.begin(), options.env.end());
  return env;
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// The error for a child that reported `report` instead of exec'ing.
absl::Status ChildFailure(const SubprocessOptions& options, const ChildError& report) {
  const std::string what = absl::StrCat("cannot start ", options.argv[0]);
  const char* why = strerror(report.error);
  switch (report.step) {
    case Step::kMoveFd:
      return absl::InternalError(
          absl::StrCat(what, ": setting up its descriptor ", report.fd, ": ", why));
    case Step::kSetgroups:
    case Step::kSetgid:
    case Step::kSetuid: {
      const RunAs& who = *options.run_as;
      const char* call = report.step == Step::kSetgroups ? "setgroups"
                         : report.step == Step::kSetgid  ? "setgid"
                                                         : "setuid";
      std::string message = absl::StrCat(what, " as uid ", who.uid, " gid ", who.gid, " groups [",
                                         absl::StrJoin(who.groups, ","), "]: ", call, ": ", why);
      if (report.error == EPERM) {
        return absl::PermissionDeniedError(
            absl::StrCat(message, " (changing identity needs root)"));
      }
      return absl::FailedPreconditionError(message);
    }
    case Step::kChdir:
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": cannot enter ", options.working_dir, ": ", why));
    case Step::kExec:
      return absl::FailedPreconditionError(absl::StrCat(what, ": ", why));
  }
  return absl::InternalError(what);
}

absl::Status CheckOptions(const SubprocessOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return absl::InvalidArgumentError("subprocess: empty argv");
  }
  for (const auto& [target, spec] : options.fds) {
    if (target < 0) {
      return absl::InvalidArgumentError(absl::StrCat("subprocess: child descriptor ", target));
    }
    if (spec.kind() == ChildFd::Kind::kDup && spec.dup_fd() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("subprocess: descriptor ", target, " copies descriptor ", spec.dup_fd()));
    }
  }
  if (options.pipe_size < 0) return absl::InvalidArgumentError("subprocess: negative pipe_size");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunAs> LookUpUser(const std::string& name) {
  long suggested = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(suggested > 0 ? static_cast<size_t>(suggested) : 16384);
  struct passwd entry;
  struct passwd* found = nullptr;
  int error;
  while ((error = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) ==
         ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (error != 0) {
    return absl::ErrnoToStatus(error, absl::StrCat("looking up user \"", name, "\""));
  }
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("no user \"", name, "\""));
  RunAs who;
  who.uid = entry.pw_uid;
  who.gid = entry.pw_gid;
  int n = 16;
  for (;;) {
    who.groups.resize(static_cast<size_t>(n));
    const int want = n;
    if (getgrouplist(name.c_str(), who.gid, who.groups.data(), &n) >= 0) break;
    if (n <= want) n = want * 2;  // some versions do not say how many
  }
  who.groups.resize(static_cast<size_t>(n));
  return who;
}

std::vector<std::string> ShellCommand(const std::string& command) {
  return {"/bin/sh", "-c", command};
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(const SubprocessOptions& options) {
  // Phases: check the options; open the child's descriptors and build its
  // argv and environment (no allocation is allowed after vfork); start it;
  // learn from the error pipe whether it exec'ed.
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  const std::string what = absl::StrCat("cannot start ", options.argv[0], ": ");
  Descriptors descriptors;
  std::vector<int> targets, sources;
  for (const auto& [target, spec] : options.fds) {
    absl::StatusOr<int> source = descriptors.Open(target, spec, options);
    if (!source.ok()) {
      return absl::Status(source.status().code(), absl::StrCat(what, source.status().message()));
    }
    targets.push_back(target);
    sources.push_back(*source);
  }
  std::vector<int> moved(targets.size());
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, what + "pipe");
  const std::vector<std::string> env = Environment(options);
  const std::vector<char*> argv = Pointers(options.argv);
  const std::vector<char*> envp = Pointers(env);

  ChildPlan plan;
  plan.path = argv[0];
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  plan.targets = targets.data();
  plan.sources = sources.data();
  plan.moved = moved.data();
  plan.n_fds = static_cast<int>(targets.size());
  plan.first_free = std::max(3, targets.empty() ? 0 : targets.back() + 1);
  plan.run_as = options.run_as.has_value() ? &*options.run_as : nullptr;
  plan.die_with_parent = options.die_with_parent;
  plan.parent = getpid();
  plan.error_fd = error_pipe[1];

  const pid_t pid = StartChild(plan);
  const int start_error = errno;
  close(error_pipe[1]);
  descriptors.CloseChildEnds();
  if (pid < 0) {
    close(error_pipe[0]);
    return absl::ErrnoToStatus(start_error, what + "vfork");
  }
  ChildError report;
  ssize_t n;
  while ((n = read(error_pipe[0], &report, sizeof(report))) < 0 && errno == EINTR) {
  }
  close(error_pipe[0]);
  if (n == sizeof(report)) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return ChildFailure(options, report);
  }
  if (options.group_listener != nullptr) options.group_listener->GroupStarted(pid);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // close-on-exec
  return std::unique_ptr<Subprocess>(
      new Subprocess(pid, pidfd, descriptors.ReleaseParentEnds(), options.group_listener));
}

Subprocess::~Subprocess() {
  for (auto& [target, fd] : pipes_) close(fd);
  Kill();
  if (pidfd_ >= 0) close(pidfd_);
}

int Subprocess::fd(int child_fd) const {
  auto it = pipes_.find(child_fd);
  return it == pipes_.end() ? -1 : it->second;
}

void Subprocess::CloseFd(int child_fd) {
  auto it = pipes_.find(child_fd);
  if (it == pipes_.end()) return;
  close(it->second);
  pipes_.erase(it);
}

void Subprocess::Signal(int signo) const {
  if (!reaped_) kill(-pid_, signo);
}

bool Subprocess::HasExited() {
  if (reaped_) return true;
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  int r;
  while ((r = waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT)) != 0 && errno == EINTR) {
  }
  if (r != 0) return errno == ECHILD;  // reaped by someone else (SIGCHLD ignored)
  return info.si_pid == pid_;
}

bool Subprocess::TryReap() {
  if (!HasExited()) return false;
  Reap();
  return true;
}

bool Subprocess::WaitUntil(absl::Time deadline) {
  while (!HasExited()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    // Without a pidfd, look again every few milliseconds. Rounded up, so
    // that a wait never ends just before its deadline.
    const absl::Duration step =
        std::min(left, pidfd_ >= 0 ? absl::Seconds(60) : absl::Milliseconds(5));
    const int timeout_ms = static_cast<int>(
        absl::ToInt64Milliseconds(step + absl::Milliseconds(1) - absl::Nanoseconds(1)));
    struct pollfd p = {pidfd_, POLLIN, 0};
    poll(pidfd_ >= 0 ? &p : nullptr, pidfd_ >= 0 ? 1 : 0, timeout_ms);
  }
  Reap();
  return true;
}

void Subprocess::Terminate(absl::Duration grace) {
  if (reaped_) return;
  Signal(SIGTERM);
  WaitUntil(absl::Now() + grace);
  Kill();
}

void Subprocess::Kill() {
  if (reaped_) return;
  // The leader too, in case it left its group.
  kill(pid_, SIGKILL);
  Reap();
}

void Subprocess::Reap() {
  if (reaped_) return;
  // While the child is unreaped its pid cannot be reused, so this reaches
  // only what is left of its own group.
  kill(-pid_, SIGKILL);
  if (listener_ != nullptr) listener_->GroupEnding(pid_);
  int status = -1;
  pid_t r;
  while ((r = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  wait_status_ = r == pid_ ? status : -1;
  reaped_ = true;
}

std::string Subprocess::ExitDescription() const {
  return reaped_ ? DescribeWaitStatus(wait_status_) : "running";
}

std::string DescribeWaitStatus(int status) {
  if (status == -1) return "ended with an unknown status";
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);  // "SEGV"; thread-safe, unlike strsignal
    return absl::StrCat("killed by signal ", sig,
                        abbrev != nullptr ? absl::StrCat(" (SIG", abbrev, ")") : "",
                        WCOREDUMP(status) ? ", core dumped" : "");
  }
  return absl::StrCat("ended with wait status ", status);
}

}  // namespace ampmr
