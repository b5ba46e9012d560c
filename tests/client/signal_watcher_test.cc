#include "client/signal_watcher.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::client {
namespace {

using ::ampmr::testing::IsOk;
using ::testing::ElementsAre;

// Records the signals the watcher reports and lets the test wait for them.
class Recorder {
 public:
  void Add(int signo) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(signo);
    cv_.notify_all();
  }
  std::vector<int> WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return seen_.size() >= count; });
    return seen_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> seen_;
};

bool Readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

bool Blocked(int signo) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, signo) == 1;
}

TEST(SignalWatcherTest, TurnsSignalsIntoCalls) {
  Recorder recorder;
  {
    auto watcher = SignalWatcher::Start([&recorder](int signo) { recorder.Add(signo); });
    ASSERT_THAT(watcher, IsOk());
    EXPECT_TRUE(Blocked(SIGINT));

    kill(getpid(), SIGCHLD);
    EXPECT_THAT(recorder.WaitFor(1), ElementsAre(SIGCHLD));
    EXPECT_EQ((*watcher)->interrupted(), 0);
    EXPECT_FALSE(Readable((*watcher)->wake_fd()));

    kill(getpid(), SIGTERM);
    EXPECT_THAT(recorder.WaitFor(2), ElementsAre(SIGCHLD, SIGTERM));
    EXPECT_EQ((*watcher)->interrupted(), SIGTERM);
    EXPECT_TRUE(Readable((*watcher)->wake_fd()));

    kill(getpid(), SIGINT);  // reported, but the first one stays the answer
    EXPECT_THAT(recorder.WaitFor(3), ElementsAre(SIGCHLD, SIGTERM, SIGINT));
    EXPECT_EQ((*watcher)->interrupted(), SIGTERM);
  }
  EXPECT_FALSE(Blocked(SIGINT));
  EXPECT_FALSE(Blocked(SIGTERM));
  EXPECT_FALSE(Blocked(SIGCHLD));
}

}  // namespace
}  // namespace ampmr::client
