// Abseil's mutexes in release mode.
//
// Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock
// detection on: every Lock() records the locks the thread holds in one
// process-wide graph, under one process-wide lock. gRPC takes all its locks
// through absl::Mutex, dozens per RPC and per stream message, so that check
// costs every call CPU and makes all gRPC threads contend on one lock (a
// lock/unlock pair takes ~170 ns with it, ~55 ns without, on the project's VM).
#ifndef AMPMR_COMMON_MUTEX_MODE_H_
#define AMPMR_COMMON_MUTEX_MODE_H_

namespace ampmr {

// Turns absl::Mutex's deadlock detection off, as a release build of Abseil
// has it. Call once from main, before any thread starts.
void UseReleaseMutexes();

}  // namespace ampmr

#endif  // AMPMR_COMMON_MUTEX_MODE_H_
