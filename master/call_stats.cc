#include "master/call_stats.h"

namespace ampmr::master {
namespace {

int64_t WholeSecond(absl::Time t) { return absl::ToUnixSeconds(t); }

}  // namespace

bool CallStats::Begin(const std::string& handler) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = handlers_.find(handler);
  if (it == handlers_.end()) {
    if (handlers_.size() >= kMaxHandlers) return false;
    it = handlers_.emplace(handler, Handler()).first;
  }
  ++it->second.open;
  return true;
}

void CallStats::End(const std::string& handler, absl::StatusCode code, absl::Duration latency,
                    absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = handlers_.find(handler);
  if (it == handlers_.end()) return;
  Handler& h = it->second;
  --h.open;
  h.seconds.Observe(absl::ToDoubleSeconds(latency));
  ++h.ends[code];
  int64_t second = WholeSecond(now);
  size_t i = static_cast<size_t>(second % kRateWindow);
  if (h.second_of[i] != second) {
    h.second_of[i] = second;
    h.ended_in[i] = 0;
  }
  ++h.ended_in[i];
}

std::map<std::string, CallStats::Handler> CallStats::handlers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return handlers_;
}

double CallStats::Rate(const Handler& handler, absl::Time now) {
  // The current second is not over: count the kRateWindow before it.
  int64_t current = WholeSecond(now);
  int64_t sum = 0;
  for (size_t i = 0; i < handler.ended_in.size(); ++i) {
    int64_t age = current - handler.second_of[i];
    if (age >= 1 && age <= kRateWindow) sum += handler.ended_in[i];
  }
  return static_cast<double>(sum) / kRateWindow;
}

}  // namespace ampmr::master
