// Worker: one ampmr-worker process's lifecycle. What the worker decides is in
// the Agent (worker/agent.h); this only builds the parts and takes them down.
//
// Start order: check the options (a malformed --master, a bad token or TLS
// file, a --task-user that cannot be taken are refused before anything
// starts), the work dir, the handler children (HandlerPool), the shipped
// files' store, the task slots (SlotTaskRunner), the shuffle server (which
// refuses a non-loopback address without a token; what started is then taken
// down), the session loop, the
// Agent, and last the MasterLink, which dials the master.
//
// Shutdown order: stop dialling and end the session (MasterLink::Close, run on
// the loop), stop the slots, kill the handler children, stop the shuffle
// server, stop the loop, wait for the stream's end (MasterLink destroyed),
// destroy the Agent, remove a temporary work dir.
//
// Thread-safety: Start, Drain, Shutdown and the destructor on one thread (the
// process's main thread).
#ifndef AMPMR_WORKER_WORKER_H_
#define AMPMR_WORKER_WORKER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/credentials.h"
#include "common/loop.h"
#include "common/security_flags.h"
#include "common/subprocess.h"
#include "worker/handler_pool.h"
#include "worker/job_file_store.h"
#include "worker/map_output_store.h"

namespace ampmr::worker {

class Agent;
class CallHandlers;
class MasterLink;
class ShuffleServer;
class SlotTaskRunner;

struct WorkerOptions {
  // The master's gRPC address, HOST:PORT.
  std::string master = "127.0.0.1:7070";
  // Tasks run at once.
  int slots = 1;
  // Where map outputs and scratch files go; empty: a new temporary directory,
  // removed at exit.
  std::string work_dir;
  // Where to serve ShuffleService; port 0 picks a free port. Empty: on this
  // host's address on the network it reaches the master through (the source
  // address of a connection to it), a free port, which is where workers on
  // the master's network can reach it.
  std::string shuffle_listen;
  // Host other workers use to reach this one; default: the listen host, or
  // this machine's hostname when listening on all interfaces.
  std::string advertise_host;
  // Long-lived call handlers (--handler NAME=COMMAND), `slots` children each.
  std::vector<HandlerSpec> handlers;
  // Replace a handler child after it answered this many calls; 0: never.
  int64_t handler_max_calls = 0;
  // Longest wait between reconnection attempts.
  absl::Duration max_backoff = absl::Seconds(5);
  // The cluster token (sent to the master, required of reducers fetching
  // from this worker), the TLS files of the shuffle server (--tls-cert,
  // --tls-key) and the CA the master and other workers are verified with
  // (--tls-ca); --insecure lets the shuffle server listen on a non-loopback
  // address without a token.
  SecurityOptions security;
  // Run exec tasks and handler children as this user and its groups; empty:
  // as the worker's own user. Needs the worker to run as root.
  std::string task_user;
};

class Worker {
 public:
  // INVALID_ARGUMENT for bad options; other errors if a part cannot start.
  static absl::StatusOr<std::unique_ptr<Worker>> Start(const WorkerOptions& options);
  ~Worker();  // Shutdown()s

  // Stops taking attempts, gives back queued ones, and waits up to `grace`
  // for running attempts and calls to finish. Call Shutdown() after.
  void Drain(absl::Duration grace);
  // Idempotent.
  void Shutdown();
  const std::string& shuffle_address() const { return shuffle_address_; }

 private:
  explicit Worker(const WorkerOptions& options);
  absl::Status MakeWorkDir();
  // Where map outputs, shuffle input and attempts' stderr go: WORK_DIR/private.
  std::string PrivateDir() const;
  absl::Status StartParts();

  WorkerOptions options_;
  std::shared_ptr<const ClusterCredentials> credentials_;
  std::optional<RunAs> run_as_;  // --task-user
  bool owns_work_dir_ = false;
  std::string shuffle_address_;
  // In start order; each is stopped and destroyed by Shutdown.
  std::unique_ptr<HandlerPool> handlers_;
  std::unique_ptr<CallHandlers> calls_;
  MapOutputStore store_;
  std::unique_ptr<JobFileStore> files_;
  std::unique_ptr<SlotTaskRunner> runner_;
  std::unique_ptr<ShuffleServer> shuffle_;
  ThreadLoop loop_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<MasterLink> link_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_WORKER_H_
