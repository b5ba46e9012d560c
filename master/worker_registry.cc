#include "master/worker_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ampmr::master {

WorkerState* WorkerRegistry::Add(const v1::Hello& hello, WorkerLink* link, absl::Time now) {
  std::string id = absl::StrCat("w", next_id_++);
  WorkerState& w = workers_[id];
  w.id = id;
  w.hello = hello;
  w.link = link;
  w.connected = now;
  w.last_heartbeat = now;
  return &w;
}

void WorkerRegistry::Remove(const std::string& id) { workers_.erase(id); }

WorkerState* WorkerRegistry::Find(const std::string& id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

WorkerState* WorkerRegistry::PickFree(int depth, const std::vector<std::string>& exclude) {
  WorkerState* best = nullptr;
  int best_free = 0;
  for (auto& [id, w] : workers_) {
    if (w.draining) continue;
    if (std::find(exclude.begin(), exclude.end(), id) != exclude.end()) continue;
    int free = w.slots() * depth - w.running;
    if (free > best_free) {
      best = &w;
      best_free = free;
    }
  }
  return best;
}

bool WorkerRegistry::FetchFailed(const std::string& id, const std::string& reduce,
                                 const std::string& error) {
  WorkerState* w = Find(id);
  if (w == nullptr || !w->unreachable.empty()) return false;
  w->unfetched_by.insert(reduce);
  if (w->unfetched_by.size() < kUnreachableAfter) return false;
  w->unreachable = error;
  return true;
}

std::vector<std::string> WorkerRegistry::Unreachable() const {
  std::vector<std::string> out;
  for (const auto& [id, w] : workers_) {
    if (!w.unreachable.empty()) out.push_back(id);
  }
  return out;
}

std::vector<v1::WorkerInfo> WorkerRegistry::List() const {
  std::vector<v1::WorkerInfo> out;
  for (const auto& [id, w] : workers_) {
    v1::WorkerInfo info;
    info.set_worker_id(id);
    info.set_host(w.hello.host());
    info.set_shuffle_address(w.hello.shuffle_address());
    info.set_slots(w.slots());
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
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace ampmr::master
