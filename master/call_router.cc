#include "master/call_router.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace ampmr::master {
namespace {

// Longest timeout a caller may ask for; more is taken as a mistake.
constexpr double kMaxTimeoutSeconds = 7 * 24 * 3600;

std::string Quote(const std::string& s) { return absl::StrCat("\"", s, "\""); }

}  // namespace

CallRouter::CallRouter(Loop* loop, const WorkerRegistry* registry, CallRouterOptions options)
    : loop_(loop), registry_(registry), options_(std::move(options)) {}

absl::StatusCode CallRouter::CallerReply::Give(absl::StatusOr<std::string> result) {
  Done done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!done_) return code_;
    done = std::move(done_);
    done_ = nullptr;
    code_ = result.status().code();
  }
  absl::StatusCode code = result.status().code();
  done(std::move(result));
  return code;
}

bool CallRouter::CallerReply::given() {
  std::lock_guard<std::mutex> lock(mu_);
  return !done_;
}

CallRouter::~CallRouter() {
  *alive_ = false;
  std::map<uint64_t, std::unique_ptr<PendingCall>> calls;
  calls.swap(calls_);
  for (auto& [id, call] : calls) {
    if (call->timer != 0) loop_->CancelTimer(call->timer);
    if (call->ended) continue;
    absl::StatusCode code = call->reply->Give(absl::UnavailableError("master shutting down"));
    if (call->on_ended) call->on_ended(code);
  }
}

void CallRouter::Call(v1::CallRequest request, Done done, Ended ended) {
  auto refuse = [&](const absl::Status& why) {
    done(why);
    if (ended) ended(why.code());
  };
  if (request.handler().empty()) {
    refuse(absl::InvalidArgumentError("handler: must not be empty"));
    return;
  }
  double seconds = request.timeout_seconds();
  if (!(seconds >= 0) || seconds > kMaxTimeoutSeconds) {
    refuse(absl::InvalidArgumentError(
        absl::StrCat("timeout_seconds: must be in [0, ", kMaxTimeoutSeconds, "], got ", seconds)));
    return;
  }
  const std::string& handler = request.handler();
  if (!Offered(handler)) {
    refuse(absl::NotFoundError(absl::StrCat("no connected worker offers handler ", Quote(handler))));
    return;
  }
  std::deque<uint64_t>& queue = queues_[handler];
  if (static_cast<int>(queue.size()) >= options_.max_queued) {
    refuse(absl::ResourceExhaustedError(
        absl::StrCat("handler ", Quote(handler), ": ", queue.size(), " calls already queued")));
    return;
  }
  auto call = std::make_unique<PendingCall>();
  call->id = next_id_++;
  call->name = absl::StrCat("c", call->id);
  call->handler = handler;
  call->payload = std::move(*request.mutable_payload());
  call->idempotent = request.idempotent();
  call->timeout = seconds > 0 ? absl::Seconds(seconds) : options_.default_timeout;
  call->deadline = loop_->Now() + call->timeout;
  call->reply = std::make_shared<CallerReply>(std::move(done));
  call->on_ended = std::move(ended);
  uint64_t id = call->id;
  call->timer = loop_->RunAfter(call->timeout, [this, id] { OnTimeout(id); });
  calls_.emplace(id, std::move(call));
  queue.push_back(id);
  Dispatch(handler);
}

void CallRouter::AddWorker(const std::string& worker_id) {
  const WorkerState* w = registry_->Find(worker_id);
  if (w == nullptr || w->hello.handlers_size() == 0) return;
  workers_[worker_id];
  for (const auto& h : w->hello.handlers()) Dispatch(h);
}

void CallRouter::RemoveWorker(const std::string& worker_id, const absl::Status& why) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  workers_.erase(it);
  std::vector<std::string> handlers;
  if (const WorkerState* w = registry_->Find(worker_id)) {
    handlers.assign(w->hello.handlers().begin(), w->hello.handlers().end());
  }

  std::vector<uint64_t> running;
  for (const auto& [id, call] : calls_) {
    if (call->worker_id == worker_id) running.push_back(id);
  }
  // In id order, so retried calls keep their arrival order at the queue's head.
  for (auto rit = running.rbegin(); rit != running.rend(); ++rit) {
    auto found = calls_.find(*rit);
    if (found == calls_.end()) continue;
    PendingCall* call = found->second.get();
    call->worker_id.clear();
    if (call->ended) {
      Erase(call->id);
    } else if (call->idempotent && call->sends < options_.max_sends && Offered(call->handler) &&
               !call->reply->given()) {
      AMPMR_LOG(INFO) << "call=" << call->name << " handler=" << call->handler
                      << ": worker=" << worker_id << " went away mid-call; retrying elsewhere";
      queues_[call->handler].push_front(call->id);
    } else {
      End(call, absl::UnavailableError(absl::StrCat("call=", call->name, " handler=", call->handler,
                                                    ": worker=", worker_id,
                                                    " went away mid-call: ", why.message())));
    }
  }
  for (const auto& h : handlers) {
    if (Offered(h)) {
      Dispatch(h);
    } else {
      FailQueued(h, absl::UnavailableError(absl::StrCat("handler ", Quote(h),
                                                        ": the last worker offering it went away (",
                                                        worker_id, ": ", why.message(), ")")));
    }
  }
}

size_t CallRouter::queued(const std::string& handler) const {
  auto it = queues_.find(handler);
  return it == queues_.end() ? 0 : it->second.size();
}

size_t CallRouter::open_calls() const {
  size_t n = 0;
  for (const auto& [id, call] : calls_) n += call->ended ? 0 : 1;
  return n;
}

bool CallRouter::Offered(const std::string& handler) const {
  for (const auto& [id, calls] : workers_) {
    const WorkerState* w = registry_->Find(id);
    if (w != nullptr && w->Offers(handler)) return true;
  }
  return false;
}

void CallRouter::Dispatch(const std::string& handler) {
  to_dispatch_.insert(handler);
  if (dispatching_) return;
  dispatching_ = true;
  while (!to_dispatch_.empty()) {
    std::string h = *to_dispatch_.begin();
    to_dispatch_.erase(to_dispatch_.begin());
    DispatchNow(h);
  }
  dispatching_ = false;
}

void CallRouter::DispatchNow(const std::string& handler) {
  auto q = queues_.find(handler);
  while (q != queues_.end() && !q->second.empty()) {
    const WorkerState* worker = PickWorker(handler);
    if (worker == nullptr) return;
    uint64_t id = q->second.front();
    q->second.pop_front();
    Send(calls_.at(id).get(), *worker);
    q = queues_.find(handler);
  }
}

const WorkerState* CallRouter::PickWorker(const std::string& handler) {
  const WorkerState* best = nullptr;
  const WorkerCalls* best_calls = nullptr;
  int best_free = 0;
  for (auto& [id, calls] : workers_) {
    const WorkerState* w = registry_->Find(id);
    if (w == nullptr || w->draining || !w->Offers(handler)) continue;
    int free = w->slots - calls.busy[handler];
    // Most free slots first; among equals the one sent to least recently.
    if (free > best_free ||
        (free == best_free && free > 0 && calls.last_send < best_calls->last_send)) {
      best = w;
      best_calls = &calls;
      best_free = free;
    }
  }
  return best;
}

void CallRouter::Send(PendingCall* call, const WorkerState& worker) {
  WorkerCalls& calls = workers_[worker.id];
  call->worker_id = worker.id;
  ++call->sends;
  ++calls.busy[call->handler];
  calls.last_send = ++sends_;
  v1::Command command;
  v1::Call* c = command.mutable_call();
  c->set_handler(call->handler);
  // The last send moves the payload; an earlier one may need it again.
  if (call->idempotent && call->sends < options_.max_sends) {
    c->set_payload(call->payload);
  } else {
    c->set_payload(std::move(call->payload));
  }
  c->set_timeout_seconds(absl::ToDoubleSeconds(call->deadline - loop_->Now()));
  c->set_call_id(call->name);
  c->set_idempotent(call->idempotent);
  uint64_t id = call->id;
  int send = call->sends;
  worker.link
      ->Call(std::move(command),
             [reply = call->reply, name = call->name](absl::StatusOr<v1::Answer*> answer) {
               reply->Give(ResultOf(name, std::move(answer)));
             })
      .AddBoth([this, alive = std::weak_ptr<bool>(alive_), id,
                send](const absl::StatusOr<v1::Answer>& answer) {
        if (alive.expired()) return;
        OnAnswer(id, send, answer);
      });
}

absl::StatusOr<std::string> CallRouter::ResultOf(const std::string& name,
                                                 absl::StatusOr<v1::Answer*> answer) {
  if (!answer.ok()) return answer.status();
  if (!(*answer)->has_call_done()) {
    return absl::InternalError(absl::StrCat("call=", name, ": worker answered without CallDone"));
  }
  return std::move(*(*answer)->mutable_call_done()->mutable_payload());
}

void CallRouter::OnAnswer(uint64_t id, int send, const absl::StatusOr<v1::Answer>& answer) {
  auto it = calls_.find(id);
  // A stale answer: the worker was removed and the call moved on or ended.
  if (it == calls_.end() || it->second->sends != send || it->second->worker_id.empty()) return;
  PendingCall* call = it->second.get();
  std::string handler = call->handler;
  FreeSlot(*call);
  call->worker_id.clear();
  if (call->ended) {
    Erase(id);
  } else if (!answer.ok()) {
    End(call, answer.status());
  } else {
    // Usually its caller has it already, from the thread that read it (and
    // the payload is gone from `answer`).
    v1::Answer copy = *answer;
    End(call, ResultOf(call->name, &copy));
  }
  Dispatch(handler);
}

void CallRouter::OnTimeout(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  PendingCall* call = it->second.get();
  call->timer = 0;
  // Its worker's answer reached the caller first; OnAnswer is on its way.
  if (call->ended || call->reply->given()) return;
  std::string where;
  if (call->worker_id.empty()) {
    std::deque<uint64_t>& q = queues_[call->handler];
    for (auto qit = q.begin(); qit != q.end(); ++qit) {
      if (*qit == id) {
        q.erase(qit);
        break;
      }
    }
    where = "still queued";
  } else {
    where = absl::StrCat("running on worker=", call->worker_id, ", cancelled");
    const WorkerState* w = registry_->Find(call->worker_id);
    if (w != nullptr && workers_.count(call->worker_id) != 0) {
      v1::Command cancel;
      cancel.mutable_cancel()->set_call_id(call->name);
      w->link->Send(std::move(cancel));
    }
  }
  End(call, absl::DeadlineExceededError(absl::StrCat(
                "call=", call->name, " handler=", call->handler, ": not answered within ",
                absl::FormatDuration(call->timeout), " (", where, ")")));
}

void CallRouter::End(PendingCall* call, absl::StatusOr<std::string> result) {
  if (call->ended) return;
  call->ended = true;
  if (call->timer != 0) {
    loop_->CancelTimer(call->timer);
    call->timer = 0;
  }
  std::shared_ptr<CallerReply> reply = call->reply;
  Ended on_ended = std::move(call->on_ended);
  // A call still running keeps its record (and its slot) until the worker answers.
  if (call->worker_id.empty()) Erase(call->id);
  absl::StatusCode code = reply->Give(std::move(result));
  if (on_ended) on_ended(code);
}

void CallRouter::Erase(uint64_t id) { calls_.erase(id); }

void CallRouter::FreeSlot(const PendingCall& call) {
  auto w = workers_.find(call.worker_id);
  if (w != workers_.end()) --w->second.busy[call.handler];
}

void CallRouter::FailQueued(const std::string& handler, const absl::Status& why) {
  auto q = queues_.find(handler);
  if (q == queues_.end()) return;
  std::deque<uint64_t> ids;
  ids.swap(q->second);
  queues_.erase(q);
  for (uint64_t id : ids) {
    auto it = calls_.find(id);
    if (it != calls_.end()) End(it->second.get(), why);
  }
}

}  // namespace ampmr::master
