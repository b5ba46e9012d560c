// Loop: where single-threaded components (the master's coordinator, a worker's
// session) run. Everything posted to one Loop runs on one thread, in order,
// so the state those functions touch needs no locks.
//
// ThreadLoop runs on its own thread with a real clock. FakeLoop (for tests) runs
// only when the test says so, with a clock the test advances.
#ifndef AMPMR_COMMON_LOOP_H_
#define AMPMR_COMMON_LOOP_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ampmr {

class Loop {
 public:
  using TimerId = uint64_t;
  virtual ~Loop() = default;

  // Runs `fn` on the loop thread, after everything posted before it.
  // Thread-safe. Functions posted after Stop() are dropped.
  virtual void Post(std::function<void()> fn) = 0;

  // Runs `fn` on the loop thread once `delay` has passed. Thread-safe.
  virtual TimerId RunAfter(absl::Duration delay, std::function<void()> fn) = 0;

  // Cancels a timer that has not run yet; no-op otherwise. Thread-safe.
  virtual void CancelTimer(TimerId id) = 0;

  // The loop's clock. Thread-safe.
  virtual absl::Time Now() = 0;
};

// A Loop with its own thread and the real clock.
class ThreadLoop : public Loop {
 public:
  ThreadLoop();
  ~ThreadLoop() override;  // Stop()s

  // Starts the thread. `name` is for debuggers (at most 15 characters).
  void Start(const char* name);
  // Runs what was already posted, then ends the thread; timers that have not
  // run are dropped. Idempotent; must not be called from the loop thread.
  void Stop();
  bool InLoopThread() const;

  void Post(std::function<void()> fn) override;
  TimerId RunAfter(absl::Duration delay, std::function<void()> fn) override;
  void CancelTimer(TimerId id) override;
  absl::Time Now() override { return absl::Now(); }

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  // Ordered by (deadline, id) so timers with one deadline run in creation order.
  std::map<std::pair<absl::Time, TimerId>, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
  std::map<TimerId, absl::Time> timer_deadlines_ ABSL_GUARDED_BY(mu_);
  TimerId next_timer_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// A Loop for tests: nothing runs until RunPending() or AdvanceTime().
// Not thread-safe beyond Post(): drive it from the test's thread.
class FakeLoop : public Loop {
 public:
  explicit FakeLoop(absl::Time start = absl::FromUnixSeconds(1000000)) : now_(start) {}

  void Post(std::function<void()> fn) override;
  TimerId RunAfter(absl::Duration delay, std::function<void()> fn) override;
  void CancelTimer(TimerId id) override;
  absl::Time Now() override;

  // Runs posted functions (and what they post) until none is left. Returns how
  // many ran.
  int RunPending();
  // Moves the clock forward, running timers that come due in deadline order,
  // with posted work drained after each.
  void AdvanceTime(absl::Duration d);

 private:
  std::mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<absl::Time, TimerId>, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
  std::map<TimerId, absl::Time> timer_deadlines_ ABSL_GUARDED_BY(mu_);
  TimerId next_timer_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace ampmr

#endif  // AMPMR_COMMON_LOOP_H_
