#include "worker/map_output_store.h"

#include <unistd.h>

#include <vector>

namespace ampmr::worker {

void MapOutputStore::Add(const std::string& attempt_id, const std::string& job_id,
                         const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (forgotten_jobs_.count(job_id) == 0) {
      outputs_[attempt_id] = Output{job_id, path};
      return;
    }
  }
  ::unlink(path.c_str());
}

std::optional<std::string> MapOutputStore::Find(const std::string& attempt_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = outputs_.find(attempt_id);
  if (it == outputs_.end()) return std::nullopt;
  return it->second.path;
}

int MapOutputStore::ForgetJob(const std::string& job_id) {
  std::vector<std::string> paths;
  {
    std::lock_guard<std::mutex> lock(mu_);
    forgotten_jobs_.insert(job_id);
    for (auto it = outputs_.begin(); it != outputs_.end();) {
      if (it->second.job_id == job_id) {
        paths.push_back(it->second.path);
        it = outputs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& p : paths) ::unlink(p.c_str());
  return static_cast<int>(paths.size());
}

void MapOutputStore::ClearForgottenJobs() {
  std::lock_guard<std::mutex> lock(mu_);
  forgotten_jobs_.clear();
}

size_t MapOutputStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outputs_.size();
}

std::vector<MapOutputStore::Held> MapOutputStore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Held> out;
  out.reserve(outputs_.size());
  for (const auto& [attempt, o] : outputs_) out.push_back(Held{attempt, o.job_id, o.path});
  return out;
}

}  // namespace ampmr::worker
