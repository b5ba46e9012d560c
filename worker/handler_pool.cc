#include "worker/handler_pool.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "worker/handler_child.h"

namespace ampmr::worker {
namespace {

constexpr absl::string_view kBuiltinPrefix = "builtin:";
// A child that dies younger than this is restarted after a backoff.
constexpr absl::Duration kYoungChild = absl::Seconds(1);
// How long a child that closed its socket gets to exit before it is killed.
constexpr absl::Duration kExitGrace = absl::Seconds(1);

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

void Wake(int fd) {
  uint64_t one = 1;
  while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<HandlerSpec> ParseHandlerSpec(absl::string_view flag) {
  size_t eq = flag.find('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == flag.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--handler: want NAME=COMMAND, got \"", flag, "\""));
  }
  HandlerSpec spec{std::string(flag.substr(0, eq)), std::string(flag.substr(eq + 1))};
  if (!ValidName(spec.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--handler: name \"", spec.name, "\" may only use letters, digits, '_', '-' and '.'"));
  }
  if (absl::StartsWith(spec.command, kBuiltinPrefix) && spec.command != "builtin:echo") {
    return absl::InvalidArgumentError(absl::StrCat("--handler ", spec.name, ": unknown ",
                                                   spec.command, " (built-in: builtin:echo)"));
  }
  return spec;
}

// One --handler: its queue and its slots, each a thread with one child.
class HandlerPool::Handler {
 public:
  Handler(HandlerSpec spec, const HandlerPoolOptions& options)
      : spec_(std::move(spec)), options_(options), echo_(spec_.command == "builtin:echo") {}
  ~Handler() { Stop(); }

  absl::Status Start();
  const std::string& name() const { return spec_.name; }
  void Call(HandlerCall call, Done done);
  bool Cancel(const std::string& call_id);
  void DropQueued(const absl::Status& why);
  void Stop();
  bool WaitIdle(absl::Time deadline);
  std::vector<int64_t> pids() const;

 private:
  struct Item {
    HandlerCall call;
    Done done;
    absl::Time deadline;
    int tries = 0;  // sends to a child that then went away
  };
  struct Slot {
    int index = 0;
    int wake_fd = -1;  // an eventfd: new work, a cancel, or stop
    std::thread thread;
    std::atomic<int64_t> pid{0};
    // Guarded by Handler::mu_.
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

absl::Status HandlerPool::Handler::Start() {
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

void HandlerPool::Handler::Call(HandlerCall call, Done done) {
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

void HandlerPool::Handler::WakeIdleLocked() {
  for (auto& slot : slots_) {
    if (slot->idle) {
      slot->idle = false;
      Wake(slot->wake_fd);
      return;
    }
  }
}

bool HandlerPool::Handler::Cancel(const std::string& call_id) {
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

void HandlerPool::Handler::DropQueued(const absl::Status& why) {
  std::deque<Item> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(queue_);
  }
  for (auto& item : dropped) item.done(why);
}

void HandlerPool::Handler::Stop() {
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

bool HandlerPool::Handler::WaitIdle(absl::Time deadline) {
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

std::vector<int64_t> HandlerPool::Handler::pids() const {
  std::vector<int64_t> out;
  for (const auto& slot : slots_) out.push_back(slot->pid.load());
  return out;
}

// A slot's life: (re)start the child, then serve calls one at a time until
// the pool stops. Between calls it waits on the child too, so a child that
// dies while idle is restarted at once (its state reloads before the next
// call, not during it).
void HandlerPool::Handler::Run(Slot* slot) {
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
                                              absl::StrCat("AMPMR_HANDLER_SLOT=", slot->index)});
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

std::optional<HandlerPool::Handler::Item> HandlerPool::Handler::Take(Slot* slot) {
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

bool HandlerPool::Handler::Serve(Slot* slot, HandlerChild* child, Item item,
                                 absl::Duration* backoff) {
  // On return, after the call has its answer (or is queued again), the slot
  // is free: WaitIdle sees finished calls only.
  struct Free {
    Handler* h;
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

void HandlerPool::Handler::ChildFailed(HandlerChild* child, const HandlerChild::Exchange& ex,
                                       Item item, absl::Duration* backoff) {
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

void HandlerPool::Handler::Requeue(Item item) {
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

absl::StatusOr<std::unique_ptr<HandlerPool>> HandlerPool::Start(HandlerPoolOptions options) {
  if (options.slots < 1) return absl::InvalidArgumentError("--slots: must be >= 1");
  if (options.max_calls < 0) {
    return absl::InvalidArgumentError("--handler-max-calls: must be >= 0");
  }
  std::set<std::string> seen;
  std::vector<std::unique_ptr<Handler>> handlers;
  for (const HandlerSpec& spec : options.handlers) {
    if (!ValidName(spec.name) || spec.command.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--handler: bad name or empty command for \"", spec.name, "\""));
    }
    if (!seen.insert(spec.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("--handler ", spec.name, ": given twice"));
    }
    handlers.push_back(std::make_unique<Handler>(spec, options));
  }
  for (auto& h : handlers) {
    absl::Status started = h->Start();
    if (!started.ok()) return started;
  }
  return std::unique_ptr<HandlerPool>(new HandlerPool(std::move(handlers)));
}

HandlerPool::HandlerPool(std::vector<std::unique_ptr<Handler>> handlers)
    : handlers_(std::move(handlers)) {}

HandlerPool::~HandlerPool() { Stop(); }

HandlerPool::Handler* HandlerPool::Find(const std::string& name) const {
  for (const auto& h : handlers_) {
    if (h->name() == name) return h.get();
  }
  return nullptr;
}

void HandlerPool::Call(HandlerCall call, Done done) {
  Handler* h = Find(call.handler);
  if (h == nullptr) {
    done(absl::NotFoundError(absl::StrCat("this worker has no handler \"", call.handler, "\"")));
    return;
  }
  h->Call(std::move(call), std::move(done));
}

void HandlerPool::Cancel(const std::string& call_id) {
  for (auto& h : handlers_) {
    if (h->Cancel(call_id)) return;
  }
}

void HandlerPool::DropQueued(const absl::Status& why) {
  for (auto& h : handlers_) h->DropQueued(why);
}

void HandlerPool::Stop() {
  for (auto& h : handlers_) h->Stop();
}

bool HandlerPool::WaitIdle(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  bool idle = true;
  for (auto& h : handlers_) idle = h->WaitIdle(deadline) && idle;
  return idle;
}

std::vector<std::string> HandlerPool::names() const {
  std::vector<std::string> out;
  for (const auto& h : handlers_) out.push_back(h->name());
  return out;
}

std::vector<int64_t> HandlerPool::ChildPids(const std::string& handler) const {
  Handler* h = Find(handler);
  return h == nullptr ? std::vector<int64_t>() : h->pids();
}

}  // namespace ampmr::worker
