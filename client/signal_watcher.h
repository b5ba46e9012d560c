// SignalWatcher: turns SIGINT, SIGTERM and SIGCHLD into ordinary function
// calls on a thread of its own, so `ampmr run` reacts to Ctrl-C and to dying
// children with normal code (cancel an RPC, reap, log) instead of inside a
// signal handler.
//
// The signals are blocked and read from a signalfd. Blocking is per thread
// and inherited by threads created later, so Start() must come before any
// other thread exists (in particular before the first gRPC channel).
// Subprocess unblocks them again in its children.
#ifndef AMPMR_CLIENT_SIGNAL_WATCHER_H_
#define AMPMR_CLIENT_SIGNAL_WATCHER_H_

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"

namespace ampmr::client {

class SignalWatcher {
 public:
  // `on_signal` runs on the watcher thread for every SIGINT, SIGTERM and
  // SIGCHLD, one at a time. It must not call back into the watcher's
  // destructor.
  // REQUIRES: called on the main thread before any other thread starts.
  static absl::StatusOr<std::unique_ptr<SignalWatcher>> Start(
      std::function<void(int signo)> on_signal);

  // Stops the thread and restores the caller's signal mask. A SIGINT still
  // pending then gets its default action.
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Readable (and staying so) once SIGINT or SIGTERM has arrived: poll it
  // next to whatever a startup step waits on.
  int wake_fd() const { return wake_fd_; }

  // The first SIGINT or SIGTERM received, else 0. Thread-safe.
  int interrupted() const { return interrupted_.load(); }

 private:
  SignalWatcher(int signal_fd, int wake_fd, int stop_fd, std::function<void(int)> on_signal,
                sigset_t old_mask);
  void Run();

  // Constant after construction.
  const int signal_fd_;
  const int wake_fd_;  // eventfd written on the first SIGINT/SIGTERM
  const int stop_fd_;  // eventfd the destructor writes to end Run()
  const std::function<void(int)> on_signal_;
  const sigset_t old_mask_;

  std::atomic<int> interrupted_{0};
  std::thread thread_;
};

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_SIGNAL_WATCHER_H_
