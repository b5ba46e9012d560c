// HandlerSlots: one `--handler NAME=COMMAND` of a HandlerPool: its FIFO
// queue of calls and its `slots` slots, each a thread that owns one
// HandlerChild and serves one call at a time (see HandlerPool for what
// happens when a child dies, times out, is cancelled or is recycled).
// `builtin:echo` has no slots: calls are answered at once on the caller's
// thread.
//
// A slot's life (Run): start the child, with backoff if it keeps dying
// young; take the next call (Take), serve it (Serve) or, with none queued,
// wait on the child so that one dying while idle is restarted at once; retire
// the child after max_calls answers; kill it when the pool stops.
//
// Thread-safe: Call, Cancel, DropQueued, WaitIdle and Stop may be called from
// any thread; done callbacks run on slot threads or the caller's, never under
// the lock.
#ifndef AMPMR_WORKER_HANDLER_SLOTS_H_
#define AMPMR_WORKER_HANDLER_SLOTS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "worker/handler_child.h"
#include "worker/handler_pool.h"

namespace ampmr::worker {

class HandlerSlots {
 public:
  HandlerSlots(HandlerSpec spec, const HandlerPoolOptions& options)
      : spec_(std::move(spec)), options_(options), echo_(spec_.command == "builtin:echo") {}
  ~HandlerSlots() { Stop(); }

  HandlerSlots(const HandlerSlots&) = delete;
  HandlerSlots& operator=(const HandlerSlots&) = delete;

  // Starts the slot threads; each starts its child. INTERNAL if a slot's
  // wake-up eventfd cannot be made.
  absl::Status Start();
  const std::string& name() const { return spec_.name; }
  // Queues `call` (builtin:echo: answers it at once); `done` runs once.
  void Call(HandlerCall call, HandlerPool::Done done);
  // True if `call_id` was here: queued (it fails with CANCELLED) or running
  // (its child is killed, and the slot fails it).
  bool Cancel(const std::string& call_id);
  // Fails every queued call with `why`; running calls finish.
  void DropQueued(const absl::Status& why);
  // Fails queued calls with UNAVAILABLE, stops every slot (killing its
  // child) and joins the threads. Idempotent.
  void Stop();
  // Waits until no call is queued or running, or `deadline`; true if idle.
  bool WaitIdle(absl::Time deadline);
  // The pid of each slot's child now (0 for a slot without one).
  std::vector<int64_t> pids() const;

 private:
  struct Item {
    HandlerCall call;
    HandlerPool::Done done;
    absl::Time deadline;
    int tries = 0;  // sends to a child that then went away
  };
  struct Slot {
    int index = 0;
    int wake_fd = -1;  // an eventfd: new work, a cancel, or stop
    std::thread thread;
    std::atomic<int64_t> pid{0};
    // Guarded by HandlerSlots::mu_.
    bool idle = false;    // waiting for work with a live child
    std::string running;  // the call id being served
    bool cancel = false;  // `running` was cancelled
  };

  void Run(Slot* slot);
  std::optional<Item> Take(Slot* slot);
  // Serves one call; returns false if the child is gone (it has been reaped).
  bool Serve(Slot* slot, HandlerChild* child, Item item, absl::Duration* backoff);
  // The call's child died or broke the protocol: reaps it, then fails the call
  // or puts it back for another child.
  void ChildFailed(HandlerChild* child, const HandlerChild::Exchange& ex, Item item,
                   absl::Duration* backoff);
  void Requeue(Item item);
  void WakeIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool stopping() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }
  std::string Who(const Slot* slot, const HandlerChild* child) const {
    return absl::StrCat("handler=", spec_.name, " slot=", slot->index, " pid=", child->pid());
  }

  const HandlerSpec spec_;
  const HandlerPoolOptions options_;
  const bool echo_;
  std::vector<std::unique_ptr<Slot>> slots_;  // constant after Start

  mutable std::mutex mu_;
  std::condition_variable call_ended_;  // a slot finished a call
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool joined_ = false;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_HANDLER_SLOTS_H_
