#include "common/loop.h"

#include <pthread.h>

#include <algorithm>

#include "common/logging.h"

namespace ampmr {

ThreadLoop::ThreadLoop() = default;

ThreadLoop::~ThreadLoop() { Stop(); }

void ThreadLoop::Start(const char* name) {
  thread_ = std::thread([this] { Run(); });
  pthread_setname_np(thread_.native_handle(), name);
}

void ThreadLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    AMPMR_CHECK(!InLoopThread()) << "ThreadLoop::Stop from its own thread";
    thread_.join();
  }
}

bool ThreadLoop::InLoopThread() const { return std::this_thread::get_id() == thread_.get_id(); }

void ThreadLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

Loop::TimerId ThreadLoop::RunAfter(absl::Duration delay, std::function<void()> fn) {
  TimerId id;
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_timer_id_++;
    absl::Time deadline = absl::Now() + delay;
    earliest = timers_.empty() || deadline < timers_.begin()->first.first;
    timers_.emplace(std::make_pair(deadline, id), std::move(fn));
    timer_deadlines_.emplace(id, deadline);
  }
  // The loop sleeps until its earliest deadline: only a new earliest one
  // needs to wake it (a call's timeout, set from a gRPC thread, seldom is).
  if (earliest) cv_.notify_one();
  return id;
}

void ThreadLoop::CancelTimer(TimerId id) {
  std::function<void()> dropped;  // destroyed unlocked: its captures may Post
  std::lock_guard<std::mutex> lock(mu_);
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  auto node = timers_.extract(std::make_pair(it->second, id));
  dropped = std::move(node.mapped());
  timer_deadlines_.erase(it);
}

void ThreadLoop::Run() {
  // Each turn: (1) run what was posted so far, in order; (2) run the timers that
  // are due, earliest first, one at a time so that a timer cancelled by one that
  // ran before it does not run; (3) sleep until the next deadline or a post.
  // Once stopping, only posted work runs.
  std::vector<std::function<void()>> batch;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    bool ran = false;
    batch.swap(queue_);
    if (!batch.empty()) {
      lock.unlock();
      for (auto& fn : batch) fn();
      batch.clear();
      lock.lock();
      ran = true;
    }
    absl::Time now = absl::Now();
    while (!stopping_ && !timers_.empty() && timers_.begin()->first.first <= now) {
      auto node = timers_.extract(timers_.begin());
      timer_deadlines_.erase(node.key().second);
      std::function<void()> fn = std::move(node.mapped());
      lock.unlock();
      fn();
      fn = nullptr;  // its captures may Post or CancelTimer
      lock.lock();
      ran = true;
    }
    if (ran || !queue_.empty()) continue;
    if (stopping_) return;
    if (timers_.empty()) {
      cv_.wait(lock);
    } else {
      // Capped so a far-off deadline cannot overflow the condition variable's clock.
      absl::Duration wait = std::min(timers_.begin()->first.first - absl::Now(), absl::Hours(1));
      if (wait > absl::ZeroDuration()) {
        cv_.wait_for(lock, absl::ToChronoNanoseconds(wait));
      }
    }
  }
}

void FakeLoop::Post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(fn));
}

Loop::TimerId FakeLoop::RunAfter(absl::Duration delay, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  TimerId id = next_timer_id_++;
  timers_.emplace(std::make_pair(now_ + delay, id), std::move(fn));
  timer_deadlines_.emplace(id, now_ + delay);
  return id;
}

void FakeLoop::CancelTimer(TimerId id) {
  std::function<void()> dropped;  // destroyed unlocked: its captures may Post
  std::lock_guard<std::mutex> lock(mu_);
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  auto node = timers_.extract(std::make_pair(it->second, id));
  dropped = std::move(node.mapped());
  timer_deadlines_.erase(it);
}

absl::Time FakeLoop::Now() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

int FakeLoop::RunPending() {
  int ran = 0;
  for (;;) {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(queue_);
    }
    if (batch.empty()) return ran;
    for (auto& fn : batch) fn();
    ran += static_cast<int>(batch.size());
  }
}

void FakeLoop::AdvanceTime(absl::Duration d) {
  absl::Time end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    end = now_ + d;
  }
  RunPending();
  for (;;) {
    std::function<void()> fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (timers_.empty() || timers_.begin()->first.first > end) {
        now_ = end;
        break;
      }
      auto node = timers_.extract(timers_.begin());
      now_ = node.key().first;
      timer_deadlines_.erase(node.key().second);
      fn = std::move(node.mapped());
    }
    fn();
    RunPending();
  }
  RunPending();
}

}  // namespace ampmr
