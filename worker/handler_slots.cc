#include "worker/handler_slots.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/time/clock.h"
#include "common/logging.h"

namespace ampmr::worker {
namespace {

// A child that dies younger than this is restarted after a backoff.
constexpr absl::Duration kYoungChild = absl::Seconds(1);
// How long a child that closed its socket gets to exit before it is killed.
constexpr absl::Duration kExitGrace = absl::Seconds(1);

void Wake(int fd) {
  uint64_t one = 1;
  while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::Status HandlerSlots::Start() {
  if (echo_) return absl::OkStatus();
  for (int i = 0; i < options_.slots; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    slot->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (slot->wake_fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
    slots_.push_back(std::move(slot));
  }
  for (auto& slot : slots_) slot->thread = std::thread([this, s = slot.get()] { Run(s); });
  return absl::OkStatus();
}

void HandlerSlots::Call(HandlerCall call, HandlerPool::Done done) {
  if (echo_) {
    done(std::move(call.payload));
    return;
  }
  Item item;
  item.deadline = call.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                           : absl::Now() + call.timeout;
  item.call = std::move(call);
  item.done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(item));
      WakeIdleLocked();
      return;
    }
  }
  item.done(absl::UnavailableError("worker shutting down"));
}

void HandlerSlots::WakeIdleLocked() {
  for (auto& slot : slots_) {
    if (slot->idle) {
      slot->idle = false;
      Wake(slot->wake_fd);
      return;
    }
  }
}

bool HandlerSlots::Cancel(const std::string& call_id) {
  std::optional<Item> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->call.call_id == call_id) {
        dropped = std::move(*it);
        queue_.erase(it);
        break;
      }
    }
    if (!dropped) {
      for (auto& slot : slots_) {
        if (slot->running == call_id) {
          slot->cancel = true;
          Wake(slot->wake_fd);
          return true;
        }
      }
      return false;
    }
  }
  dropped->done(absl::CancelledError(absl::StrCat("call=", call_id, " cancelled while queued")));
  return true;
}

void HandlerSlots::DropQueued(const absl::Status& why) {
  std::deque<Item> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(queue_);
  }
  for (auto& item : dropped) item.done(why);
}

void HandlerSlots::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (joined_) return;
    joined_ = true;
    stopping_ = true;
    for (auto& slot : slots_) Wake(slot->wake_fd);
  }
  DropQueued(absl::UnavailableError("worker shutting down"));
  for (auto& slot : slots_) {
    if (slot->thread.joinable()) slot->thread.join();
    close(slot->wake_fd);
  }
}

bool HandlerSlots::WaitIdle(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!queue_.empty()) return false;
    for (const auto& slot : slots_) {
      if (!slot->running.empty()) return false;
    }
    return true;
  };
  return call_ended_.wait_until(lock, absl::ToChronoTime(deadline), idle);
}

std::vector<int64_t> HandlerSlots::pids() const {
  std::vector<int64_t> out;
  for (const auto& slot : slots_) out.push_back(slot->pid.load());
  return out;
}

// A slot's life: (re)start the child, then serve calls one at a time until
// the pool stops. Between calls it waits on the child too, so a child that
// dies while idle is restarted at once (its state reloads before the next
// call, not during it).
void HandlerSlots::Run(Slot* slot) {
  std::unique_ptr<HandlerChild> child;
  absl::Duration backoff = absl::ZeroDuration();
  while (!stopping()) {
    if (child == nullptr) {
      if (backoff > absl::ZeroDuration()) {
        struct pollfd p = {slot->wake_fd, POLLIN, 0};
        poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(backoff)));
        uint64_t n;
        while (read(slot->wake_fd, &n, sizeof(n)) > 0) {
        }
        if (stopping()) break;
      }
      absl::StatusOr<std::unique_ptr<HandlerChild>> spawned =
          HandlerChild::Spawn(spec_.command, {absl::StrCat("AMPMR_HANDLER=", spec_.name),
                                              absl::StrCat("AMPMR_HANDLER_SLOT=", slot->index)},
                              options_.run_as);
      if (!spawned.ok()) {
        AMPMR_LOG(ERROR) << "handler=" << spec_.name << " slot=" << slot->index
                         << ": cannot start: " << spawned.status().message();
        backoff = std::clamp(backoff * 2, options_.min_backoff, options_.max_backoff);
        continue;
      }
      child = std::move(*spawned);
      slot->pid = child->pid();
      AMPMR_LOG(INFO) << "handler started " << Who(slot, child.get());
    }
    std::optional<Item> item = Take(slot);
    if (!item) {
      if (stopping()) break;
      if (child->WaitIdle(slot->wake_fd) == HandlerChild::Idle::kWoken) continue;
      {
        std::lock_guard<std::mutex> lock(mu_);
        slot->idle = false;
        if (!queue_.empty()) WakeIdleLocked();
      }
      child->Retire(kExitGrace);
      AMPMR_LOG(WARNING) << "handler child died while idle " << Who(slot, child.get()) << ": "
                         << child->ExitDescription();
      if (absl::Now() - child->started() < kYoungChild) {
        backoff = std::clamp(backoff * 2, options_.min_backoff, options_.max_backoff);
      }
      child.reset();
      slot->pid = 0;
      continue;
    }
    if (!Serve(slot, child.get(), std::move(*item), &backoff)) {
      child.reset();
      slot->pid = 0;
    } else if (options_.max_calls > 0 && child->answered() >= options_.max_calls) {
      AMPMR_LOG(INFO) << "handler recycled " << Who(slot, child.get()) << " after "
                      << child->answered() << " calls";
      child->Retire(options_.retire_grace);
      child.reset();
      slot->pid = 0;
    }
  }
  if (child != nullptr) child->Kill();
  slot->pid = 0;
}

std::optional<HandlerSlots::Item> HandlerSlots::Take(Slot* slot) {
  std::vector<Item> expired;
  std::optional<Item> item;
  {
    std::lock_guard<std::mutex> lock(mu_);
    absl::Time now = absl::Now();
    while (!stopping_ && !queue_.empty()) {
      Item front = std::move(queue_.front());
      queue_.pop_front();
      if (now >= front.deadline) {
        expired.push_back(std::move(front));
        continue;
      }
      slot->running = front.call.call_id;
      slot->cancel = false;
      slot->idle = false;
      item = std::move(front);
      break;
    }
    if (!item && !stopping_) slot->idle = true;
  }
  for (auto& e : expired) {
    e.done(absl::DeadlineExceededError(absl::StrCat(
        "call=", e.call.call_id, " handler=", spec_.name, ": timed out waiting for a child")));
  }
  return item;
}

bool HandlerSlots::Serve(Slot* slot, HandlerChild* child, Item item, absl::Duration* backoff) {
  // On return, after the call has its answer (or is queued again), the slot
  // is free: WaitIdle sees finished calls only.
  struct Free {
    HandlerSlots* h;
    Slot* slot;
    ~Free() {
      {
        std::lock_guard<std::mutex> lock(h->mu_);
        slot->running.clear();
        slot->cancel = false;
      }
      h->call_ended_.notify_all();
    }
  } free_slot{this, slot};
  bool stop = false;
  HandlerChild::Exchange ex = child->Call(item.call.payload, item.deadline, slot->wake_fd, [&] {
    std::lock_guard<std::mutex> lock(mu_);
    stop = stopping_;
    return slot->cancel || stop;
  });
  const std::string call = absl::StrCat("call=", item.call.call_id, " handler=", spec_.name);
  pid_t pid = child->pid();
  switch (ex.end) {
    case HandlerChild::End::kAnswered:
      *backoff = absl::ZeroDuration();
      item.done(std::move(ex.answer));
      return true;
    case HandlerChild::End::kTimedOut:
      // The only way to stop a handler mid-call is to end it.
      child->Kill();
      *backoff = absl::ZeroDuration();
      AMPMR_LOG(WARNING) << call << ": timed out; killed its child pid=" << pid;
      item.done(absl::DeadlineExceededError(absl::StrCat(call, ": not answered within ",
                                                         absl::FormatDuration(item.call.timeout),
                                                         "; child pid=", pid, " killed")));
      return false;
    case HandlerChild::End::kInterrupted:
      child->Kill();
      *backoff = absl::ZeroDuration();
      if (stop) {
        item.done(absl::UnavailableError(absl::StrCat(call, ": worker shutting down")));
      } else {
        AMPMR_LOG(INFO) << call << ": cancelled; killed its child pid=" << pid;
        item.done(
            absl::CancelledError(absl::StrCat(call, ": cancelled; child pid=", pid, " killed")));
      }
      return false;
    case HandlerChild::End::kGone:
    case HandlerChild::End::kBadFrame:
      ChildFailed(child, ex, std::move(item), backoff);
      return false;
  }
  return false;
}

void HandlerSlots::ChildFailed(HandlerChild* child, const HandlerChild::Exchange& ex, Item item,
                               absl::Duration* backoff) {
  const std::string call = absl::StrCat("call=", item.call.call_id, " handler=", spec_.name);
  bool bad_frame = ex.end == HandlerChild::End::kBadFrame;
  pid_t pid = child->pid();
  if (bad_frame) {
    child->Kill();
  } else {
    child->Retire(kExitGrace);  // it is exiting: let it say how
  }
  std::string what = bad_frame
                         ? absl::StrCat("child pid=", pid, " broke the frame protocol: ", ex.why)
                         : absl::StrCat("child pid=", pid, " ", child->ExitDescription(),
                                        " during the call (", ex.why, ")");
  AMPMR_LOG(WARNING) << call << ": " << what;
  if (!bad_frame && absl::Now() - child->started() < kYoungChild) {
    *backoff = std::clamp(*backoff * 2, options_.min_backoff, options_.max_backoff);
  }
  ++item.tries;
  if (bad_frame) {
    item.done(absl::InternalError(absl::StrCat(call, ": ", what)));
  } else if (item.tries < 2 && (item.call.idempotent || !ex.request_sent)) {
    Requeue(std::move(item));
  } else {
    item.done(absl::UnavailableError(absl::StrCat(call, ": ", what)));
  }
}

void HandlerSlots::Requeue(Item item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_front(std::move(item));
      WakeIdleLocked();
      return;
    }
  }
  item.done(absl::UnavailableError("worker shutting down"));
}

}  // namespace ampmr::worker
