// Task counters: named int64 sums a task reports with its result; the master
// sums them over accepted attempts and shows them to users. The framework's
// own, "ampmr.*", travel as numbers in v1::FrameworkCounters
// (common/framework_counters.h); a Counters map keeps the user's, "GROUP.NAME".
#ifndef AMPMR_WORKER_TASK_COUNTERS_H_
#define AMPMR_WORKER_TASK_COUNTERS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace ampmr::worker {

// Ordered so reports are stable; std::less<> allows lookup by string_view.
using Counters = std::map<std::string, int64_t, std::less<>>;

inline void AddCounter(Counters* counters, absl::string_view name, int64_t amount) {
  auto it = counters->find(name);
  if (it == counters->end()) it = counters->emplace(std::string(name), 0).first;
  it->second += amount;
}

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_COUNTERS_H_
