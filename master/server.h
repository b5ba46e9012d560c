// MasterServer: the master's lifecycle. Start order: journal, coordinator loop,
// planner loop, recovery of the journal's jobs, gRPC server (JobService,
// WorkerSession, health). Shutdown order: stop
// intake, shut the gRPC server down with a deadline (ending worker streams and
// watches), stop the loops, destroy state.
#ifndef AMPMR_MASTER_SERVER_H_
#define AMPMR_MASTER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/security_flags.h"
#include "master/coordinator.h"

namespace ampmr::master {

struct MasterOptions {
  // Where to serve gRPC; port 0 picks a free port (see MasterServer::address).
  std::string listen = "127.0.0.1:7070";
  // Where the master keeps its state (DIR/journal.db); created if missing.
  // Empty: no journal, so jobs do not survive a master restart.
  std::string data_dir;
  // Where to serve the status page and /metrics over HTTP; empty: nowhere.
  std::string http;
  // The cluster token every call must carry, and TLS. Without a token the
  // master listens on loopback addresses only, unless `security.insecure`.
  SecurityOptions security;
  // A job that would have more tasks than this (maps and reduces) is refused
  // at submit, as soon as planning passes the limit.
  int64_t max_tasks = 1000000;
  CoordinatorOptions coordinator;
};

class MasterServer {
 public:
  // INVALID_ARGUMENT for bad security options (unreadable token or TLS
  // files, a non-loopback --listen or --http without a token); UNAVAILABLE
  // when an address cannot be listened on (e.g. already in use), naming it.
  static absl::StatusOr<std::unique_ptr<MasterServer>> Start(const MasterOptions& options);
  ~MasterServer();  // Shutdown()s

  // The address actually bound, "HOST:PORT".
  const std::string& address() const;
  // The status page's address, "HOST:PORT", or "" when not served.
  std::string http_address() const;
  // Stops the master: worker sessions are ended first, then unary calls get
  // `grace` to finish. (gRPC's Server::Shutdown waits out its whole deadline
  // while any client keeps a connection open, even an idle one, so the grace
  // is short.) Idempotent.
  void Shutdown(absl::Duration grace = absl::Milliseconds(250));

 private:
  struct Impl;
  explicit MasterServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_SERVER_H_
