// LogLimiter: keeps a warning that can repeat (a refused peer, a malformed
// box) from filling the log: each key may be logged once per interval, and
// the next line it gets says how many were left out in between.
//
//   LogLimiter limiter(absl::Minutes(1));
//   int64_t skipped;
//   if (limiter.Allow(peer, &skipped)) AMPMR_LOG(WARNING) << ... << skipped;
//
// At most kMaxKeys keys are remembered; past that, keys not seen for an
// interval are forgotten, and if none are, all are (so a flood of distinct
// keys costs bounded memory and at most one line per key per interval).
//
// Thread-safe.
#ifndef AMPMR_COMMON_LOG_LIMITER_H_
#define AMPMR_COMMON_LOG_LIMITER_H_

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ampmr {

class LogLimiter {
 public:
  static constexpr size_t kMaxKeys = 4096;

  explicit LogLimiter(absl::Duration interval) : interval_(interval) {}

  // True when `key` may be logged now; *skipped is then how many times it
  // was refused since it was last logged.
  bool Allow(absl::string_view key, int64_t* skipped, absl::Time now = absl::Now());

 private:
  struct Entry {
    absl::Time last_logged;
    int64_t skipped = 0;
  };

  const absl::Duration interval_;
  std::mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ampmr

#endif  // AMPMR_COMMON_LOG_LIMITER_H_
