#include "common/mutex_mode.h"

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace ampmr {
namespace {

// With deadlock detection on (Debian's Abseil), taking two mutexes in both
// orders kills the process ("dying due to potential deadlock").
TEST(MutexModeTest, LockOrderIsNotCheckedInReleaseMode) {
  UseReleaseMutexes();
  absl::Mutex a;
  absl::Mutex b;
  {
    absl::MutexLock hold_a(&a);
    absl::MutexLock hold_b(&b);
  }
  {
    absl::MutexLock hold_b(&b);
    absl::MutexLock hold_a(&a);
  }
  SUCCEED();
}

}  // namespace
}  // namespace ampmr
