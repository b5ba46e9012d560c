#include "worker/handler_child.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/task_errors.h"
#include "worker/task/group_reaper.h"

namespace ampmr::worker {
namespace {

void PutBigEndian32(uint32_t n, char* out) {
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
}

uint32_t GetBigEndian32(const char* in) {
  const auto* b = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

int PollMillis(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  // Round up so a wait never ends just before its deadline.
  return static_cast<int>(
      absl::ToInt64Milliseconds(left + absl::Milliseconds(1) - absl::Nanoseconds(1)));
}

void Drain(int fd) {
  uint64_t n;
  while (read(fd, &n, sizeof(n)) > 0) {
  }
}

// The status byte and message of an answer frame as a Status, marked as the
// handler's own (callers are told it is the handler's, not the master's).
absl::Status HandlerError(unsigned char code, std::string message) {
  absl::Status error =
      code > static_cast<unsigned char>(absl::StatusCode::kUnauthenticated)
          ? absl::UnknownError(absl::StrCat("handler sent status byte ", code, ": ", message))
          : absl::Status(static_cast<absl::StatusCode>(code), message);
  error.SetPayload(kHandlerErrorPayload, absl::Cord("1"));
  return error;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HandlerChild>> HandlerChild::Spawn(
    const std::string& command, const std::vector<std::string>& env,
    const std::optional<RunAs>& run_as) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  }
  SubprocessOptions options;
  options.argv = ShellCommand(command);
  options.env = env;
  options.fds.emplace(0, ChildFd::Null());
  options.fds.emplace(1, ChildFd::Dup(2));  // stdout and stderr: the worker's log
  options.fds.emplace(3, ChildFd::Dup(sv[1]));
  options.fds.emplace(4, ChildFd::Dup(sv[1]));
  // Dies with the worker even if the worker is SIGKILLed (the slot thread
  // that starts it lives as long as the child should).
  options.die_with_parent = true;
  options.group_listener = GroupReaper::Listener();
  options.run_as = run_as;
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(options);
  close(sv[1]);
  if (!process.ok()) {
    close(sv[0]);
    return process.status();
  }
  fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<HandlerChild>(new HandlerChild(*std::move(process), sv[0]));
}

HandlerChild::HandlerChild(std::unique_ptr<Subprocess> process, int fd)
    : process_(std::move(process)), fd_(fd), started_(absl::Now()) {}

HandlerChild::~HandlerChild() { Kill(); }

HandlerChild::Wait HandlerChild::WaitFor(short events, absl::Time deadline, int wake_fd,
                                         const std::function<bool()>& interrupt) {
  for (;;) {
    struct pollfd fds[2] = {{fd_, events, 0}, {wake_fd, POLLIN, 0}};
    int n = poll(fds, wake_fd >= 0 ? 2 : 1, PollMillis(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Wait::kReady;  // let the read or write report it
    if (fds[0].revents != 0) return Wait::kReady;
    if (wake_fd >= 0 && fds[1].revents != 0) {
      Drain(wake_fd);
      if (interrupt && interrupt()) return Wait::kInterrupted;
      continue;
    }
    if (n == 0 && absl::Now() >= deadline) return Wait::kTimedOut;
  }
}

HandlerChild::Exchange HandlerChild::Call(absl::string_view payload, absl::Time deadline,
                                          int wake_fd, const std::function<bool()>& interrupt) {
  Exchange out;
  if (payload.size() > UINT32_MAX) {
    out.end = End::kAnswered;
    out.answer = absl::InvalidArgumentError("payload over 4 GiB");
    return out;
  }
  if (!SendRequest(payload, deadline, wake_fd, interrupt, &out)) return out;
  std::string frame;
  if (!ReadAnswer(deadline, wake_fd, interrupt, &frame, &out)) return out;
  ++answered_;
  out.end = End::kAnswered;
  unsigned char status = static_cast<unsigned char>(frame[4]);
  if (status == 0) {
    out.answer = frame.substr(5);
  } else {
    out.answer = HandlerError(status, frame.substr(5));
  }
  return out;
}

bool HandlerChild::SendRequest(absl::string_view payload, absl::Time deadline, int wake_fd,
                               const std::function<bool()>& interrupt, Exchange* out) {
  // One sendmsg for header and payload while the socket takes it.
  char header[4];
  PutBigEndian32(static_cast<uint32_t>(payload.size()), header);
  size_t total = 4 + payload.size(), sent = 0;
  while (sent < total) {
    struct iovec iov[2];
    int n_iov = 0;
    if (sent < 4) iov[n_iov++] = {header + sent, 4 - sent};
    size_t p = sent < 4 ? 0 : sent - 4;
    if (p < payload.size()) {
      iov[n_iov++] = {const_cast<char*>(payload.data()) + p, payload.size() - p};
    }
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = n_iov;
    ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += n;
      out->request_sent = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!Await(POLLOUT, deadline, wake_fd, interrupt, out)) return false;
      continue;
    }
    out->end = End::kGone;
    out->why = absl::StrCat("writing the request: ", strerror(errno));
    return false;
  }
  return true;
}

bool HandlerChild::ReadAnswer(absl::Time deadline, int wake_fd,
                              const std::function<bool()>& interrupt, std::string* frame,
                              Exchange* out) {
  // The 4-byte length, then that many bytes (status and body); nothing of a
  // next frame (there is none: one request at a time).
  std::string& buf = *frame;
  size_t want = 4;
  bool have_length = false;
  for (;;) {
    if (buf.size() >= want) {
      if (have_length) return true;
      uint32_t n = GetBigEndian32(buf.data());
      if (n == 0 || n > kMaxHandlerFrame) {
        out->end = End::kBadFrame;
        out->why = absl::StrCat("answer frame length ", n, " (want 1 to ", kMaxHandlerFrame, ")");
        return false;
      }
      have_length = true;
      want = 4 + size_t{n};
      continue;
    }
    size_t old = buf.size();
    buf.resize(want);
    ssize_t n = recv(fd_, buf.data() + old, want - old, MSG_DONTWAIT);
    buf.resize(old + (n > 0 ? n : 0));
    if (n > 0) continue;
    if (n == 0) {
      out->end = End::kGone;
      out->why = buf.empty() ? "closed fd 4 before answering"
                             : absl::StrCat("closed fd 4 in the middle of an answer (", buf.size(),
                                            " of ", want, " bytes)");
      return false;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      out->end = End::kGone;
      out->why = absl::StrCat("reading the answer: ", strerror(errno));
      return false;
    }
    if (!Await(POLLIN, deadline, wake_fd, interrupt, out)) return false;
  }
}

bool HandlerChild::Await(short events, absl::Time deadline, int wake_fd,
                         const std::function<bool()>& interrupt, Exchange* out) {
  switch (WaitFor(events, deadline, wake_fd, interrupt)) {
    case Wait::kReady:
      return true;
    case Wait::kTimedOut:
      out->end = End::kTimedOut;
      return false;
    case Wait::kInterrupted:
      out->end = End::kInterrupted;
      return false;
  }
  return false;
}

HandlerChild::Idle HandlerChild::WaitIdle(int wake_fd) {
  Wait w = WaitFor(POLLIN, absl::InfiniteFuture(), wake_fd, [] { return true; });
  return w == Wait::kReady ? Idle::kGone : Idle::kWoken;
}

void HandlerChild::Retire(absl::Duration grace) {
  if (process_->reaped()) return;
  shutdown(fd_, SHUT_WR);
  process_->WaitUntil(absl::Now() + grace);
  Kill();
}

void HandlerChild::Kill() {
  process_->Kill();
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::string HandlerChild::ExitDescription() const { return process_->ExitDescription(); }

}  // namespace ampmr::worker
