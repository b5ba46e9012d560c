// Worker: one ampmr-worker process. Dials the master and keeps one AMP-style
// session open (reconnecting with backoff), runs the tasks the master sends in
// a SlotPool, and serves its map outputs to other workers' reducers.
//
// Threads: the session loop owns the amp::Session and all session state; slot
// threads run tasks and post their answers back to the loop; gRPC threads only
// post. Shutdown order: stop reconnecting, end the session, stop the slots,
// stop the shuffle server, stop the loop, remove a temporary work dir.
#ifndef AMPMR_WORKER_WORKER_H_
#define AMPMR_WORKER_WORKER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/handler_pool.h"

namespace ampmr::worker {

struct WorkerOptions {
  // The master's gRPC address.
  std::string master = "127.0.0.1:7070";
  // Tasks run at once.
  int slots = 1;
  // Where map outputs and scratch files go; empty: a new temporary directory,
  // removed at exit.
  std::string work_dir;
  // Where to serve ShuffleService; port 0 picks a free port.
  std::string shuffle_listen = "127.0.0.1:0";
  // Host other workers use to reach this one; default: the listen host, or
  // this machine's hostname when listening on all interfaces.
  std::string advertise_host;
  // Long-lived call handlers (--handler NAME=COMMAND), `slots` children each.
  std::vector<HandlerSpec> handlers;
  // Replace a handler child after it answered this many calls; 0: never.
  int64_t handler_max_calls = 0;
  // Longest wait between reconnection attempts.
  absl::Duration max_backoff = absl::Seconds(5);
};

class Worker {
 public:
  static absl::StatusOr<std::unique_ptr<Worker>> Start(const WorkerOptions& options);
  ~Worker();  // Shutdown()s

  // Stops taking attempts, gives back queued ones, and waits up to `grace`
  // for running ones to finish. Call Shutdown() after.
  void Drain(absl::Duration grace);
  void Shutdown();
  const std::string& shuffle_address() const;

 private:
  struct Impl;
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_WORKER_H_
