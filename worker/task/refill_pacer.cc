#include "worker/task/refill_pacer.h"

#include <algorithm>

namespace ampmr::worker {

absl::Duration RefillPacer::Wait(size_t queued, absl::Time now) {
  const size_t half = capacity_ / 2;
  if (queued == 0 && waited_ && now > sample_time_) {
    // Found empty after a wait: the child waited, so it reads at least this
    // fast, and likely faster than the last rate (which made the wait long).
    const double at_least =
        static_cast<double>(sample_queued_) / absl::ToDoubleSeconds(now - sample_time_);
    rate_ = std::max(at_least, rate_ * 2);
  }
  if (queued <= half) {
    waited_ = false;
    return absl::ZeroDuration();
  }
  waited_ = true;
  if (sample_time_ == absl::InfinitePast()) Wrote(queued, now);
  const absl::Duration since = now - sample_time_;
  if (since >= kSample) {
    if (queued >= sample_queued_) return std::clamp(since, kSample, kMaxWait);  // nothing read
    rate_ = static_cast<double>(sample_queued_ - queued) / absl::ToDoubleSeconds(since);
    Wrote(queued, now);
  } else if (rate_ <= 0) {
    return std::max(kMinWait, kSample - since);  // a first rate takes kSample
  }
  const absl::Duration until_half = absl::Seconds(static_cast<double>(queued - half) / rate_);
  return std::clamp(until_half, kMinWait, kMaxWait);
}

void RefillPacer::Wrote(size_t queued, absl::Time now) {
  sample_queued_ = queued;
  sample_time_ = now;
}

}  // namespace ampmr::worker
