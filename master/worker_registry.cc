#include "master/worker_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ampmr::master {

bool WorkerState::Offers(const std::string& handler) const {
  for (const auto& h : hello.handlers()) {
    if (h == handler) return true;
  }
  return false;
}

bool WorkerRegistry::ByLoad::operator()(const WorkerState* a, const WorkerState* b) const {
  const int64_t free_a = a->slots - a->held, free_b = b->slots - b->held;
  if ((free_a > 0) != (free_b > 0)) return free_a > 0;
  if (free_a > 0) {
    int64_t la = static_cast<int64_t>(a->running - a->held) * free_b;
    int64_t lb = static_cast<int64_t>(b->running - b->held) * free_a;
    if (la != lb) return la < lb;
  }
  return a->connected != b->connected ? a->connected < b->connected : a->id < b->id;
}

WorkerState* WorkerRegistry::Add(const v1::Hello& hello, WorkerLink* link, absl::Time now) {
  std::string id = absl::StrCat("w", next_id_++);
  WorkerState& w = workers_[id];
  w.id = id;
  w.hello = hello;
  w.slots = hello.slots() > 0 ? hello.slots() : 1;
  w.link = link;
  w.connected = now;
  w.last_heartbeat = now;
  by_load_.insert(&w);
  return &w;
}

void WorkerRegistry::Remove(const std::string& id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  by_load_.erase(&it->second);
  held_slots_ -= it->second.held;
  unreachable_.erase(std::remove(unreachable_.begin(), unreachable_.end(), id), unreachable_.end());
  workers_.erase(it);
}

WorkerState* WorkerRegistry::Find(const std::string& id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

const WorkerState* WorkerRegistry::Find(const std::string& id) const {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

void WorkerRegistry::AttemptStarted(WorkerState* worker) { Rerank(worker, +1, 0); }

void WorkerRegistry::AttemptEnded(const std::string& id) {
  WorkerState* w = Find(id);
  if (w != nullptr) Rerank(w, -1, 0);
}

void WorkerRegistry::HoldSlot(WorkerState* worker) { Rerank(worker, 0, +1); }

void WorkerRegistry::ReleaseSlot(const std::string& id) {
  WorkerState* w = Find(id);
  if (w != nullptr) Rerank(w, 0, -1);
}

void WorkerRegistry::Rerank(WorkerState* worker, int running, int held) {
  // The set's node is moved, not freed and made again: this runs twice per attempt.
  auto node = by_load_.extract(worker);
  worker->running += running;
  worker->held += held;
  held_slots_ += held;
  if (!node.empty()) by_load_.insert(std::move(node));
}

void WorkerRegistry::ForgetJob(const std::string& job_id, bool logs) {
  const v1::Command command = ForgetJobCommand(job_id, logs);
  for (auto& [id, worker] : workers_) {
    worker.job_contexts.erase(job_id);
    worker.link->Send(command);
  }
}

void WorkerRegistry::Drain(const std::string& id) {
  WorkerState* w = Find(id);
  if (w == nullptr) return;
  by_load_.erase(w);
  w->draining = true;
}

WorkerState* WorkerRegistry::PickFree(int depth, const std::vector<std::string>& exclude) {
  // The least loaded with room first: if it has none, nobody has.
  for (WorkerState* w : by_load_) {
    if (w->running - w->held >= (w->slots - w->held) * depth) return nullptr;
    if (std::find(exclude.begin(), exclude.end(), w->id) == exclude.end()) return w;
  }
  return nullptr;
}

bool WorkerRegistry::RoomIfReleased(const WorkerState& worker, int depth) {
  return worker.held > 0 && worker.running - worker.held < (worker.slots - worker.held + 1) * depth;
}

bool WorkerRegistry::FetchFailed(const std::string& id, const std::string& reduce,
                                 const std::string& error) {
  WorkerState* w = Find(id);
  if (w == nullptr || !w->unreachable.empty()) return false;
  w->unfetched_by.insert(reduce);
  if (w->unfetched_by.size() < kUnreachableAfter) return false;
  w->unreachable = error;
  unreachable_.push_back(id);
  return true;
}

std::vector<v1::WorkerInfo> WorkerRegistry::List() const {
  std::vector<v1::WorkerInfo> out;
  for (const auto& [id, w] : workers_) {
    v1::WorkerInfo info;
    info.set_worker_id(id);
    info.set_host(w.hello.host());
    info.set_shuffle_address(w.hello.shuffle_address());
    info.set_slots(w.slots);
    info.set_running(w.running);
    info.set_tasks_done(w.tasks_done);
    info.set_connected_time(absl::ToDoubleSeconds(w.connected - absl::UnixEpoch()));
    info.set_last_heartbeat_time(absl::ToDoubleSeconds(w.last_heartbeat - absl::UnixEpoch()));
    for (const auto& h : w.hello.handlers()) info.add_handlers(h);
    info.set_pid(w.hello.pid());
    info.set_warning(w.unreachable.empty()
                         ? w.warning
                         : absl::StrCat("reducers cannot fetch its map outputs (", w.unreachable,
                                        ")", w.warning.empty() ? "" : "; ", w.warning));
    info.set_unreachable(!w.unreachable.empty());
    info.set_attempts_failed(w.attempts_failed);
    info.set_cpu_percent(w.cpu_percent);
    info.set_rss_bytes(w.rss_bytes);
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace ampmr::master
