#include "master/job_counters.h"

namespace ampmr::master {

int JobCounters::Intern(const std::string& name) {
  // Looked up first: emplace would make (and free) a node for every known name.
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  const int id = static_cast<int>(names_.size());
  ids_.emplace(name, id);
  names_.push_back(name);
  sums_.push_back(0);
  return id;
}

void JobCounters::TakeBackMap(int index) {
  if (index < 0 || index >= static_cast<int>(maps_.size())) return;
  for (const auto& [id, value] : maps_[index]) sums_[id] -= value;
  maps_[index].clear();
  maps_[index].shrink_to_fit();
}

std::map<std::string, int64_t> JobCounters::Sums() const {
  std::map<std::string, int64_t> out;
  for (size_t i = 0; i < names_.size(); ++i) out[names_[i]] = sums_[i];
  return out;
}

}  // namespace ampmr::master
