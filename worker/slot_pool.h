// SlotPool: the worker's task slots. N threads run attempts taken from one
// FIFO queue, so tasks never run on gRPC or session threads. The master may
// send more attempts than there are slots (pipelining); they wait here.
//
// Thread-safe.
#ifndef AMPMR_WORKER_SLOT_POOL_H_
#define AMPMR_WORKER_SLOT_POOL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ampmr::worker {

class SlotPool {
 public:
  // Runs on a slot thread; `cancelled` turns true when the attempt is cancelled.
  using Work = std::function<void(const std::atomic<bool>& cancelled)>;

  explicit SlotPool(int slots);
  ~SlotPool();  // Stop()s

  // Runs instead of the work when an attempt is dropped before a slot took
  // it, with why (CANCELLED, or UNAVAILABLE when the worker is draining).
  using Dropped = std::function<void(const absl::Status& why)>;

  // Queues `work` for attempt `attempt_id`.
  void Submit(const std::string& attempt_id, Work work, Dropped on_dropped);
  // Cancels one attempt: drops it if queued, flags it if running.
  void Cancel(const std::string& attempt_id);
  // Cancels everything queued or running (the session to the master broke).
  void CancelAll();
  // Drops what is queued (not what runs) with `why`.
  void DropQueued(const absl::Status& why);
  // Waits until nothing runs or is queued, at most `timeout`; true if idle.
  bool WaitIdle(absl::Duration timeout);
  // Cancels everything and joins the threads.
  void Stop();

  int running() const;
  int queued() const;

 private:
  struct Item {
    std::string attempt_id;
    Work work;
    Dropped on_dropped;
  };
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> running_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_SLOT_POOL_H_
