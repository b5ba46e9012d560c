// Clock: the time the client's retry loops wait on. RealClock is the wall
// clock; tests pass a fake that advances when asked to sleep.
#ifndef AMPMR_CLIENT_CLOCK_H_
#define AMPMR_CLIENT_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ampmr::client {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Blocks the calling thread for `duration`.
  virtual void SleepFor(absl::Duration duration) = 0;
};

// Thread-safe; stateless.
class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration duration) override { absl::SleepFor(duration); }
};

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_CLOCK_H_
