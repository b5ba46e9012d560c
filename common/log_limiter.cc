#include "common/log_limiter.h"

namespace ampmr {

bool LogLimiter::Allow(absl::string_view key, int64_t* skipped, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Entry& entry = it->second;
    if (now - entry.last_logged < interval_) {
      ++entry.skipped;
      return false;
    }
    *skipped = entry.skipped;
    entry = Entry{now, 0};
    return true;
  }
  if (entries_.size() >= kMaxKeys) {
    absl::erase_if(entries_,
                   [&](const auto& kv) { return now - kv.second.last_logged >= interval_; });
    if (entries_.size() >= kMaxKeys) entries_.clear();
  }
  entries_.emplace(key, Entry{now, 0});
  *skipped = 0;
  return true;
}

}  // namespace ampmr
