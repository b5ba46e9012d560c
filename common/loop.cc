#include "common/loop.h"

#include <pthread.h>

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
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_timer_id_++;
    absl::Time deadline = absl::Now() + delay;
    timers_.emplace(std::make_pair(deadline, id), std::move(fn));
    timer_deadlines_.emplace(id, deadline);
  }
  cv_.notify_one();
  return id;
}

void ThreadLoop::CancelTimer(TimerId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timer_deadlines_.erase(it);
}

void ThreadLoop::Run() {
  std::vector<std::function<void()>> batch;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // Phase 1: collect due timers and posted work; phase 2: run them unlocked;
    // phase 3: sleep until the next deadline or a post.
    absl::Time now = absl::Now();
    while (!timers_.empty() && timers_.begin()->first.first <= now) {
      auto node = timers_.extract(timers_.begin());
      timer_deadlines_.erase(node.key().second);
      batch.push_back(std::move(node.mapped()));
    }
    for (auto& fn : queue_) batch.push_back(std::move(fn));
    queue_.clear();
    if (!batch.empty()) {
      lock.unlock();
      for (auto& fn : batch) fn();
      batch.clear();
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (timers_.empty()) {
      cv_.wait(lock);
    } else {
      absl::Duration wait = timers_.begin()->first.first - absl::Now();
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
  std::lock_guard<std::mutex> lock(mu_);
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
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
