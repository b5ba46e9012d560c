#include "common/mutex_mode.h"

#include "absl/synchronization/mutex.h"

namespace ampmr {

void UseReleaseMutexes() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace ampmr
