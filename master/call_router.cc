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

CallRouter::~CallRouter() {
  std::unique_lock<std::mutex> lock(mu_);
  std::map<uint64_t, std::unique_ptr<PendingCall>> calls;
  calls.swap(calls_);
  for (auto& [id, call] : calls) End(call.get(), absl::UnavailableError("master shutting down"));
  Tell(lock);
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
  std::unique_lock<std::mutex> lock(mu_);
  if (!OfferedLocked(handler)) {
    lock.unlock();
    refuse(
        absl::NotFoundError(absl::StrCat("no connected worker offers handler ", Quote(handler))));
    return;
  }
  std::deque<uint64_t>& queue = queues_[handler];
  if (static_cast<int>(queue.size()) >= options_.max_queued) {
    size_t queued = queue.size();
    lock.unlock();
    refuse(absl::ResourceExhaustedError(
        absl::StrCat("handler ", Quote(handler), ": ", queued, " calls already queued")));
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
  call->done = std::move(done);
  call->on_ended = std::move(ended);
  uint64_t id = call->id;
  call->timer = loop_->RunAfter(call->timeout, [this, alive = std::weak_ptr<bool>(alive_), id] {
    if (!alive.expired()) OnTimeout(id);
  });
  calls_.emplace(id, std::move(call));
  queue.push_back(id);
  Dispatch(handler);
  Tell(lock);
}

void CallRouter::AddWorker(const std::string& worker_id) {
  const WorkerState* w = registry_->Find(worker_id);
  if (w == nullptr || w->hello.handlers_size() == 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  WorkerCalls& calls = workers_[worker_id];
  calls.link = w->link;
  calls.handlers.insert(w->hello.handlers().begin(), w->hello.handlers().end());
  calls.slots = w->slots;
  calls.draining = w->draining;
  for (const auto& h : calls.handlers) Dispatch(h);
  Tell(lock);
}

void CallRouter::DrainWorker(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workers_.find(worker_id);
  if (it != workers_.end()) it->second.draining = true;
}

void CallRouter::RemoveWorker(const std::string& worker_id, const absl::Status& why) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  std::set<std::string> handlers = std::move(it->second.handlers);
  workers_.erase(it);

  std::vector<uint64_t> running;
  for (const auto& [id, call] : calls_) {
    if (call->worker_id == worker_id) running.push_back(id);
  }
  // In id order, so retried calls keep their arrival order at the queue's head.
  for (auto rit = running.rbegin(); rit != running.rend(); ++rit) {
    PendingCall* call = calls_.at(*rit).get();
    call->worker_id.clear();
    if (!call->done) {
      calls_.erase(*rit);
    } else if (call->idempotent && call->sends < options_.max_sends &&
               OfferedLocked(call->handler)) {
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
    if (OfferedLocked(h)) {
      Dispatch(h);
    } else {
      FailQueued(h, absl::UnavailableError(absl::StrCat("handler ", Quote(h),
                                                        ": the last worker offering it went away (",
                                                        worker_id, ": ", why.message(), ")")));
    }
  }
  Tell(lock);
}

size_t CallRouter::queued(const std::string& handler) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queues_.find(handler);
  return it == queues_.end() ? 0 : it->second.size();
}

size_t CallRouter::open_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, call] : calls_) n += call->done ? 1 : 0;
  return n;
}

bool CallRouter::Offered(const std::string& handler) const {
  std::lock_guard<std::mutex> lock(mu_);
  return OfferedLocked(handler);
}

bool CallRouter::OfferedLocked(const std::string& handler) const {
  for (const auto& [id, worker] : workers_) {
    if (worker.handlers.count(handler) != 0) return true;
  }
  return false;
}

void CallRouter::Dispatch(const std::string& handler) {
  auto q = queues_.find(handler);
  while (q != queues_.end() && !q->second.empty()) {
    auto worker = PickWorker(handler);
    if (worker == workers_.end()) return;
    uint64_t id = q->second.front();
    q->second.pop_front();
    Send(calls_.at(id).get(), worker);
  }
}

std::map<std::string, CallRouter::WorkerCalls>::iterator CallRouter::PickWorker(
    const std::string& handler) {
  auto best = workers_.end();
  int best_free = 0;
  for (auto it = workers_.begin(); it != workers_.end(); ++it) {
    WorkerCalls& worker = it->second;
    if (worker.draining || worker.handlers.count(handler) == 0) continue;
    int free = worker.slots - worker.busy[handler];
    // Most free slots first; among equals the one sent to least recently.
    if (free > best_free ||
        (free == best_free && free > 0 && worker.last_send < best->second.last_send)) {
      best = it;
      best_free = free;
    }
  }
  return best;
}

void CallRouter::Send(PendingCall* call, std::map<std::string, WorkerCalls>::iterator worker) {
  WorkerCalls& calls = worker->second;
  v1::Command command;
  v1::Call* c = command.mutable_call();
  c->set_handler(call->handler);
  // The last send moves the payload; an earlier one may need it again.
  if (call->idempotent && call->sends + 1 < options_.max_sends) {
    c->set_payload(call->payload);
  } else {
    c->set_payload(std::move(call->payload));
  }
  c->set_timeout_seconds(absl::ToDoubleSeconds(call->deadline - loop_->Now()));
  c->set_call_id(call->name);
  c->set_idempotent(call->idempotent);
  uint64_t id = call->id;
  int send = call->sends + 1;
  if (!calls.link->CallFromAnyThread(std::move(command),
                                     [this, alive = std::weak_ptr<bool>(alive_), id,
                                      send](absl::StatusOr<v1::Answer*> answer) {
                                       if (!alive.expired()) OnAnswer(id, send, std::move(answer));
                                     })) {
    // Its link closed before the coordinator heard (RemoveWorker follows):
    // it takes no more calls.
    calls.draining = true;
    End(call,
        absl::UnavailableError(absl::StrCat("call=", call->name, " handler=", call->handler,
                                            ": worker=", worker->first, ": connection lost")));
    return;
  }
  call->worker_id = worker->first;
  call->sends = send;
  ++calls.busy[call->handler];
  calls.last_send = ++sends_;
}

absl::StatusOr<std::string> CallRouter::ResultOf(const std::string& name,
                                                 absl::StatusOr<v1::Answer*> answer) {
  if (!answer.ok()) return answer.status();
  if (!(*answer)->has_call_done()) {
    return absl::InternalError(absl::StrCat("call=", name, ": worker answered without CallDone"));
  }
  return std::move(*(*answer)->mutable_call_done()->mutable_payload());
}

void CallRouter::OnAnswer(uint64_t id, int send, absl::StatusOr<v1::Answer*> answer) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = calls_.find(id);
  // A stale answer: the worker was removed and the call moved on or ended.
  if (it == calls_.end() || it->second->sends != send || it->second->worker_id.empty()) return;
  PendingCall* call = it->second.get();
  std::string handler = call->handler;
  FreeSlot(*call);
  call->worker_id.clear();
  if (!call->done) {
    calls_.erase(it);
  } else {
    End(call, ResultOf(call->name, std::move(answer)));
  }
  Dispatch(handler);
  Tell(lock);
}

void CallRouter::OnTimeout(uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  PendingCall* call = it->second.get();
  call->timer = 0;
  if (!call->done) return;
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
    auto w = workers_.find(call->worker_id);
    if (w != workers_.end()) {
      v1::Command cancel;
      cancel.mutable_cancel()->set_call_id(call->name);
      w->second.link->Send(std::move(cancel));
    }
  }
  End(call, absl::DeadlineExceededError(absl::StrCat(
                "call=", call->name, " handler=", call->handler, ": not answered within ",
                absl::FormatDuration(call->timeout), " (", where, ")")));
  Tell(lock);
}

void CallRouter::End(PendingCall* call, absl::StatusOr<std::string> result) {
  if (!call->done) return;
  if (call->timer != 0) {
    loop_->CancelTimer(call->timer);
    call->timer = 0;
  }
  endings_.push_back(Ending{std::move(call->done), std::move(result), std::move(call->on_ended)});
  call->done = nullptr;
  // A call still running keeps its record (and its slot) until the worker answers.
  if (call->worker_id.empty()) calls_.erase(call->id);
}

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

void CallRouter::Tell(std::unique_lock<std::mutex>& lock) {
  std::vector<Ending> endings;
  endings.swap(endings_);
  lock.unlock();
  for (Ending& e : endings) {
    absl::StatusCode code = e.result.status().code();
    e.done(std::move(e.result));
    if (e.on_ended) e.on_ended(code);
  }
}

}  // namespace ampmr::master
