// GroupReaper: makes the process groups of a worker's children (exec tasks,
// handler children, and whatever they start) die with the worker, even when
// the worker is SIGKILLed and gets no chance to clean up.
//
// Start() forks a small reaper process while the worker is still single
// threaded. The worker tells it, over a close-on-exec pipe, of each group it
// starts (Add) and reaps (Remove); when the pipe reaches end of file (the
// worker has exited, however it ended) the reaper SIGKILLs every group still
// listed and exits. Without it a child that neither reads nor writes (a
// stalled mapper) would outlive a killed worker: nothing else tells it.
//
// Add and Remove are thread-safe and cheap (one small atomic pipe write);
// they do nothing unless Start was called, so task code and tests run
// without a reaper.
#ifndef AMPMR_WORKER_TASK_GROUP_REAPER_H_
#define AMPMR_WORKER_TASK_GROUP_REAPER_H_

#include <sys/types.h>

#include "absl/status/status.h"
#include "common/subprocess.h"

namespace ampmr::worker {

class GroupReaper {
 public:
  // Forks the reaper. Call once, before any thread is started.
  static absl::Status Start();
  // For an orderly exit, once every child is gone: ends the reaper and waits
  // for it, so that nothing of the worker outlives it.
  static void Stop();

  // `pgid` (a group leader's pid) is alive; kill its group if the worker dies.
  static void Add(pid_t pgid);
  // Call after the group is killed and before its leader is waited for, so
  // that the id cannot have been reused by then.
  static void Remove(pid_t pgid);

  // Adds and removes the group of each child started with it
  // (SubprocessOptions::group_listener).
  static ProcessGroupListener* Listener();
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_GROUP_REAPER_H_
