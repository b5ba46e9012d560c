// CallStats: per-handler figures of the calls the master routes, for the
// dashboard and /metrics: calls open now (queued or running), calls answered
// per second over the last kRateWindow seconds, a latency histogram (arrival
// to answer, queueing included) and how many ended with each status code.
//
// Bounded: only handlers some worker offered when the call arrived are
// tracked (a client cannot grow it with made-up names), at most kMaxHandlers.
//
// Thread-safety: thread-safe (calls begin on gRPC threads and end where their
// answers are read).
#ifndef AMPMR_MASTER_CALL_STATS_H_
#define AMPMR_MASTER_CALL_STATS_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "master/histogram.h"

namespace ampmr::master {

class CallStats {
 public:
  static constexpr size_t kMaxHandlers = 256;
  static constexpr int kRateWindow = 10;  // seconds

  struct Handler {
    int64_t open = 0;
    Histogram seconds = Histogram::Seconds();
    std::map<absl::StatusCode, int64_t> ends;
    // Calls ended in each of the last kRateWindow whole seconds (a ring).
    std::array<int64_t, kRateWindow> ended_in{};
    std::array<int64_t, kRateWindow> second_of{};
  };

  // A call for `handler` arrived. False (and nothing kept) if the handler is
  // not tracked and there is no room for it.
  bool Begin(const std::string& handler);
  // A call Begin accepted ended with `code` after `latency`.
  void End(const std::string& handler, absl::StatusCode code, absl::Duration latency,
           absl::Time now);

  // Calls answered per second over the last kRateWindow whole seconds.
  static double Rate(const Handler& handler, absl::Time now);

  // A copy of every tracked handler's figures.
  std::map<std::string, Handler> handlers() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Handler> handlers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_CALL_STATS_H_
