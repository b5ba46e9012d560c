#include "worker/slot_pool.h"

#include <utility>

namespace ampmr::worker {

SlotPool::SlotPool(int slots) {
  for (int i = 0; i < slots; ++i) threads_.emplace_back([this] { Run(); });
}

SlotPool::~SlotPool() { Stop(); }

void SlotPool::Submit(const std::string& attempt_id, Work work, Dropped on_dropped) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(Item{attempt_id, std::move(work), std::move(on_dropped)});
      cv_.notify_one();
      return;
    }
  }
  on_dropped(absl::CancelledError("worker stopping"));
}

void SlotPool::Cancel(const std::string& attempt_id) {
  Dropped dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto running = running_.find(attempt_id);
    if (running != running_.end()) running->second->store(true);
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->attempt_id == attempt_id) {
        dropped = std::move(it->on_dropped);
        queue_.erase(it);
        break;
      }
    }
  }
  if (dropped) dropped(absl::CancelledError("attempt cancelled"));
  idle_cv_.notify_all();
}

void SlotPool::CancelAll() {
  std::deque<Item> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, flag] : running_) flag->store(true);
    dropped.swap(queue_);
  }
  for (auto& item : dropped) item.on_dropped(absl::CancelledError("attempt cancelled"));
  idle_cv_.notify_all();
}

void SlotPool::DropQueued(const absl::Status& why) {
  std::deque<Item> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(queue_);
  }
  for (auto& item : dropped) item.on_dropped(why);
  idle_cv_.notify_all();
}

bool SlotPool::WaitIdle(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [this] { return queue_.empty() && running_.empty(); });
}

void SlotPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  CancelAll();
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

int SlotPool::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(running_.size());
}

int SlotPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

void SlotPool::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping
    Item item = std::move(queue_.front());
    queue_.pop_front();
    auto flag = std::make_shared<std::atomic<bool>>(false);
    running_[item.attempt_id] = flag;
    lock.unlock();
    item.work(*flag);
    lock.lock();
    running_.erase(item.attempt_id);
    if (running_.empty() && queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace ampmr::worker
