#include "worker/task/streaming_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "worker/task/group_reaper.h"

namespace ampmr::worker {
namespace {

// Pipe buffers this large let a chatty child and the task trade big blocks
// (few system calls); the kernel may cap it (fs.pipe-max-size).
constexpr int kPipeSize = 1 << 20;
constexpr size_t kStdoutBuffer = size_t{1} << 20;
constexpr size_t kStdoutMaxLine = SIZE_MAX;  // output lines are data: never cut
constexpr size_t kStderrBuffer = size_t{64} << 10;
constexpr size_t kStderrMaxLine = size_t{8} << 10;
constexpr size_t kMaxWrite = size_t{1} << 20;
// How often a waiting loop looks at the cancel flag (and, without a pidfd,
// whether the child exited).
constexpr int kStopCheckMs = 100;
constexpr int kExitCheckMs = 10;

// While alive, keeps SIGPIPE blocked on this thread so that writing to a pipe
// whose reader is gone fails with EPIPE instead of killing the process; a
// SIGPIPE raised meanwhile is taken off the pending set before unblocking.
// Does nothing when the process ignores SIGPIPE (the worker does).
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    struct sigaction current;
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) return;
    active_ = true;
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!active_) return;
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  bool active_ = false;
  sigset_t set_;
  sigset_t old_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StreamingProcess>> StreamingProcess::Start(
    StreamingOptions options) {
  SubprocessOptions spawn;
  spawn.argv = ShellCommand(options.command);
  spawn.env = options.env;
  spawn.inherit_env = false;
  spawn.working_dir = options.working_dir;
  spawn.fds.emplace(0, ChildFd::PipeToChild());
  spawn.fds.emplace(1, ChildFd::PipeFromChild());
  spawn.fds.emplace(2, ChildFd::PipeFromChild());
  spawn.nonblocking_pipes = true;
  spawn.pipe_size = kPipeSize;
  spawn.group_listener = GroupReaper::Listener();
  spawn.run_as = options.run_as;
  AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> child, Subprocess::Start(spawn));
  return std::unique_ptr<StreamingProcess>(
      new StreamingProcess(std::move(options), std::move(child)));
}

StreamingProcess::StreamingProcess(StreamingOptions options, std::unique_ptr<Subprocess> child)
    : options_(std::move(options)),
      child_(std::move(child)),
      stdout_(kStdoutBuffer, kStdoutMaxLine),
      stderr_(kStderrBuffer, kStderrMaxLine) {
  const int capacity = fcntl(child_->fd(0), F_GETPIPE_SZ);
  if (capacity > 0) pacer_.emplace(static_cast<size_t>(capacity));
  if (options_.progress == nullptr) options_.progress = std::make_shared<ProgressClock>(0);
  options_.progress->Touch();  // starting counts: time spent before it does not
}

StreamingProcess::~StreamingProcess() {
  if (!child_->reaped()) child_->Terminate(options_.kill_grace);
}

absl::Status StreamingProcess::Write(absl::string_view data, Emitter* out) {
  if (finished_) return finish_status_;  // exited early: the rest is dropped
  ScopedSigpipeBlock block;
  absl::string_view pending = child_->fd(0) >= 0 ? data : absl::string_view();
  AMPMR_RETURN_IF_ERROR(Pump(&pending, /*finishing=*/false, out));
  // A child that stopped reading and exited: learn how now rather than
  // after feeding it (nothing) the rest of the input.
  if (stdin_dropped_ && child_->HasExited()) return Finish(out);
  return absl::OkStatus();
}

absl::Status StreamingProcess::Finish(Emitter* out) {
  if (finished_) return finish_status_;
  child_->CloseFd(0);
  absl::string_view none;
  finish_status_ = Pump(&none, /*finishing=*/true, out);
  const int status = child_->wait_status();
  if (finish_status_.ok() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    finish_status_ = Failure(absl::StatusCode::kAborted, child_->ExitDescription());
  }
  finished_ = true;
  return finish_status_;
}

absl::Status StreamingProcess::Pump(absl::string_view* pending, bool finishing, Emitter* out) {
  // Each turn: stop if cancelled or out of time; poll stdin (while there is
  // input, for room only when the pacer says to write), stdout, stderr and,
  // when finishing, the child's exit; then read, write, and reap as they are
  // ready.
  for (;;) {
    if (child_->fd(0) < 0) *pending = absl::string_view();  // dropped
    if (!finishing && pending->empty()) return absl::OkStatus();
    if (finishing && child_->reaped() && child_->fd(1) < 0 && child_->fd(2) < 0) {
      return absl::OkStatus();
    }
    AMPMR_RETURN_IF_ERROR(CheckStop());
    struct pollfd fds[4];
    int n = 0;
    int in_i = -1, out_i = -1, err_i = -1, exit_i = -1;
    absl::Duration timeout = absl::Milliseconds(kStopCheckMs);
    if (!pending->empty()) {
      // Polled for POLLOUT only when the pacer says to write; otherwise for
      // nothing, which still reports POLLERR once the child closed its stdin.
      const absl::Duration wait = StdinWait();
      const bool write_now = wait == absl::ZeroDuration();
      fds[in_i = n++] = {child_->fd(0), static_cast<short>(write_now ? POLLOUT : 0), 0};
      if (!write_now) timeout = std::min(timeout, wait);
    }
    if (child_->fd(1) >= 0) fds[out_i = n++] = {child_->fd(1), POLLIN, 0};
    if (child_->fd(2) >= 0) fds[err_i = n++] = {child_->fd(2), POLLIN, 0};
    bool watch_exit = finishing && !child_->reaped();
    if (watch_exit) {
      if (child_->exit_fd() >= 0) {
        fds[exit_i = n++] = {child_->exit_fd(), POLLIN, 0};
      } else {
        timeout = std::min(timeout, absl::Milliseconds(kExitCheckMs));
      }
    }
    absl::Time stall = options_.progress->deadline();
    if (stall != absl::InfiniteFuture()) {
      absl::Duration left = stall - absl::Now() + absl::Milliseconds(1);
      timeout = std::clamp(left, absl::ZeroDuration(), timeout);
    }
    const struct timespec until = absl::ToTimespec(timeout);
    if (::ppoll(fds, n, &until, nullptr) < 0 && errno != EINTR) {
      return absl::ErrnoToStatus(errno, "poll");
    }
    if (out_i >= 0 && fds[out_i].revents != 0) ReadStdout(out);
    if (err_i >= 0 && fds[err_i].revents != 0) ReadStderr(out);
    if (in_i >= 0 && fds[in_i].revents != 0) WriteStdin(pending);
    if (watch_exit && (exit_i >= 0 ? fds[exit_i].revents != 0 : child_->HasExited())) {
      // Reaping also kills strays left in the group, so that whatever still
      // holds the output pipes open lets go and they reach end of file.
      child_->Kill();
    }
  }
}

void StreamingProcess::ReadStdout(Emitter* out) {
  ssize_t n = stdout_.ReadFrom(child_->fd(1));
  if (n > 0) {
    options_.progress->Touch();
    stdout_.TakeLines([out](absl::string_view lines) { out->EmitLines(lines); });
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    stdout_.FlushLast([out](absl::string_view line) { out->EmitLine(line); });
    child_->CloseFd(1);
  }
}

void StreamingProcess::ReadStderr(Emitter* out) {
  auto on_line = [this, out](absl::string_view line) {
    if (options_.stderr_log != nullptr) options_.stderr_log->Append(line);
    reporter_.OnLine(line, out);
  };
  ssize_t n = stderr_.ReadFrom(child_->fd(2));
  if (n > 0) {
    options_.progress->Touch();
    stderr_.ForEachLine(on_line);
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    stderr_.FlushLast(on_line);
    child_->CloseFd(2);
  }
  options_.progress->SetStatus(reporter_.status());
}

void StreamingProcess::WriteStdin(absl::string_view* pending) {
  ssize_t n = ::write(child_->fd(0), pending->data(), std::min(pending->size(), kMaxWrite));
  if (n > 0) {
    options_.progress->Touch();
    pending->remove_prefix(static_cast<size_t>(n));
    const int queued = StdinQueued();
    if (queued >= 0) pacer_->Wrote(static_cast<size_t>(queued), absl::Now());
  } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
    // EPIPE: the child closed its stdin (or exited). The rest of its input
    // is dropped; how it exits decides the attempt.
    stdin_dropped_ = true;
    child_->CloseFd(0);
    *pending = absl::string_view();
  }
}

int StreamingProcess::StdinQueued() const {
  int queued = 0;
  if (!pacer_.has_value() || ioctl(child_->fd(0), FIONREAD, &queued) != 0) return -1;
  return queued;
}

absl::Duration StreamingProcess::StdinWait() {
  const int queued = StdinQueued();
  if (queued < 0) return absl::ZeroDuration();
  return pacer_->Wait(static_cast<size_t>(queued), absl::Now());
}

absl::Status StreamingProcess::CheckStop() {
  absl::Status stop;
  if (options_.cancelled != nullptr && options_.cancelled->load(std::memory_order_relaxed)) {
    stop = Failure(absl::StatusCode::kCancelled, "cancelled; killed its process group");
  } else if (options_.progress->Stalled()) {
    stop = Failure(absl::StatusCode::kDeadlineExceeded,
                   options_.progress->StallError("; killed its process group").message());
  } else {
    return absl::OkStatus();
  }
  child_->Terminate(options_.kill_grace);
  finished_ = true;
  finish_status_ = stop;
  return stop;
}

absl::Status StreamingProcess::Failure(absl::StatusCode code, absl::string_view what) const {
  std::string message(what);
  if (!reporter_.status().empty()) absl::StrAppend(&message, "; last status: ", reporter_.status());
  std::string tail = reporter_.Tail();
  absl::StrAppend(&message, tail.empty() ? "; no stderr" : "; stderr: ", tail);
  return absl::Status(code, message);
}

}  // namespace ampmr::worker
