#include "worker/stall_watch.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ampmr::worker {

void StallWatch::Add(const std::string& attempt_id, std::shared_ptr<ProgressClock> clock,
                     Expire expire) {
  std::lock_guard<std::mutex> lock(mu_);
  watched_[attempt_id] = Watched{std::move(clock), std::move(expire)};
}

void StallWatch::Remove(const std::string& attempt_id) {
  std::lock_guard<std::mutex> lock(mu_);
  watched_.erase(attempt_id);
}

void StallWatch::Check(absl::Time now) {
  std::vector<std::pair<std::string, Watched>> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = watched_.begin(); it != watched_.end();) {
      if (it->second.clock->deadline() + grace_ <= now) {
        expired.emplace_back(it->first, std::move(it->second));
        it = watched_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [attempt_id, watched] : expired) {
    watched.expire(watched.clock->StallError(absl::StrCat(
        "; attempt=", attempt_id, " is stuck in in-process code and was given up ",
        absl::FormatDuration(grace_), " later (its slot stays busy until the call returns)")));
  }
}

std::vector<std::pair<std::string, std::string>> StallWatch::Statuses() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [attempt_id, watched] : watched_) {
    std::string status = watched.clock->status();
    if (!status.empty()) out.emplace_back(attempt_id, std::move(status));
  }
  return out;
}

size_t StallWatch::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watched_.size();
}

}  // namespace ampmr::worker
