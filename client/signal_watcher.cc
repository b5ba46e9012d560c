#include "client/signal_watcher.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ampmr::client {
namespace {

sigset_t WatchedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  return set;
}

void Notify(int event_fd) {
  const uint64_t one = 1;
  ssize_t ignored = write(event_fd, &one, sizeof(one));
  (void)ignored;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SignalWatcher>> SignalWatcher::Start(
    std::function<void(int)> on_signal) {
  const sigset_t watched = WatchedSignals();
  sigset_t old_mask;
  if (pthread_sigmask(SIG_BLOCK, &watched, &old_mask) != 0) {
    return absl::InternalError("pthread_sigmask failed");
  }
  const int signal_fd = signalfd(-1, &watched, SFD_CLOEXEC);
  const int wake_fd = eventfd(0, EFD_CLOEXEC);
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (signal_fd < 0 || wake_fd < 0 || stop_fd < 0) {
    const int error = errno;
    for (int fd : {signal_fd, wake_fd, stop_fd}) {
      if (fd >= 0) close(fd);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return absl::InternalError(absl::StrCat("signalfd: ", strerror(error)));
  }
  std::unique_ptr<SignalWatcher> watcher(
      new SignalWatcher(signal_fd, wake_fd, stop_fd, std::move(on_signal), old_mask));
  watcher->thread_ = std::thread([w = watcher.get()] { w->Run(); });
  return watcher;
}

SignalWatcher::SignalWatcher(int signal_fd, int wake_fd, int stop_fd,
                             std::function<void(int)> on_signal, sigset_t old_mask)
    : signal_fd_(signal_fd),
      wake_fd_(wake_fd),
      stop_fd_(stop_fd),
      on_signal_(std::move(on_signal)),
      old_mask_(old_mask) {}

SignalWatcher::~SignalWatcher() {
  Notify(stop_fd_);
  thread_.join();
  close(signal_fd_);
  close(wake_fd_);
  close(stop_fd_);
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void SignalWatcher::Run() {
  for (;;) {
    struct pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    struct signalfd_siginfo info;
    const ssize_t n = read(signal_fd_, &info, sizeof(info));
    if (n != sizeof(info)) continue;
    const int signo = static_cast<int>(info.ssi_signo);
    if (signo != SIGCHLD) {
      int expected = 0;
      if (interrupted_.compare_exchange_strong(expected, signo)) {
        Notify(wake_fd_);
      }
    }
    on_signal_(signo);
  }
}

}  // namespace ampmr::client
