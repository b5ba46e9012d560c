// MasterLink: the worker's connection to the master. It dials the master's
// WorkerSession.Connect stream and, for each stream, makes a new amp::Session
// on the worker's loop and hands it to `on_session` (the Agent) before the
// stream starts reading; when the stream ends it calls `on_lost` and dials
// again, after a backoff (min_backoff doubling to max_backoff, reset once a
// session is welcomed). The channel sends HTTP/2 keepalive pings, so a master
// that cannot be reached any more (a partition, a dead host) ends the stream
// within keepalive_time + keepalive_timeout instead of never.
//
// Every stream carries the cluster token and, with --tls-ca, runs over TLS
// verified against it (`credentials`).
//
// Log lines: one when a session is welcomed, one when it is lost, and one per
// failed attempt to connect with its reason (a refused token says so and
// names --token-file), except that an attempt failing like the one before is
// logged at most every 30 s (with how many were not).
//
// Thread-safety: Create and the destructor on the owner's thread; Start and
// Close on any thread; the rest happens on `loop`. Boxes are read on gRPC
// threads, where read-thread responders run (see amp::Session); the rest is
// posted to the loop.
#ifndef AMPMR_WORKER_MASTER_LINK_H_
#define AMPMR_WORKER_MASTER_LINK_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/amp/deferred.h"
#include "common/amp/session.h"
#include "common/credentials.h"
#include "common/loop.h"

namespace grpc {
class Channel;
}

namespace ampmr::worker {

struct MasterLinkOptions {
  // The master's address, HOST:PORT (HOST a name, an IPv4 address, or an
  // IPv6 address in brackets).
  std::string master;
  // The token and TLS files to dial with; null: none.
  std::shared_ptr<const ClusterCredentials> credentials;
  // Waits between attempts to connect.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // HTTP/2 keepalive: ping after this long without reads, give up on the
  // connection if the ping is not answered within the timeout.
  absl::Duration keepalive_time = absl::Milliseconds(2500);
  absl::Duration keepalive_timeout = absl::Milliseconds(2500);
};

// OK if `address` is HOST:PORT as MasterLinkOptions::master wants, else
// INVALID_ARGUMENT naming it.
absl::Status CheckMasterAddress(absl::string_view address);

class MasterLink {
 public:
  // Given each new session (its stream not yet reading); fires with the worker
  // id once the master welcomed it, or fails.
  using OnSession = std::function<amp::Deferred<std::string>(amp::Session*)>;
  // Told when that session's stream ended, before the session is destroyed.
  using OnLost = std::function<void(const absl::Status& why)>;

  // INVALID_ARGUMENT for a malformed address. Nothing is dialled until Start.
  static absl::StatusOr<std::unique_ptr<MasterLink>> Create(const MasterLinkOptions& options,
                                                            Loop* loop, OnSession on_session,
                                                            OnLost on_lost);
  // REQUIRES: `loop` no longer runs (stopped). Cancels the stream if it is
  // still open and waits (up to 5 s) for its end.
  ~MasterLink();

  MasterLink(const MasterLink&) = delete;
  MasterLink& operator=(const MasterLink&) = delete;

  // Dials the master (on the loop).
  void Start();
  // Stops dialling and ends the current session (on the loop, which runs it
  // before it stops).
  void Close();

  // The local address ("HOST:PORT") of the worker's end of its current
  // connection to the master; empty when not connected or not known.
  // Thread-safe.
  std::string local_address() const;

 private:
  struct Stream;
  MasterLink(const MasterLinkOptions& options, Loop* loop, OnSession on_session, OnLost on_lost);

  void Connect();
  void OnWelcomed(Stream* stream, const std::string& worker_id);
  void OnStreamDone(Stream* stream, const absl::Status& why);
  void LogFailedAttempt(const absl::Status& why, absl::Duration retry_in);

  // Constant after Create.
  const MasterLinkOptions options_;
  Loop* const loop_;
  const OnSession on_session_;
  const OnLost on_lost_;
  std::shared_ptr<grpc::Channel> channel_;

  // Loop thread only (and the destructor, once the loop stopped).
  std::unique_ptr<Stream> stream_;  // the current stream, if any
  bool stopping_ = false;
  absl::Duration backoff_;
  std::string last_failure_;  // why the last failed attempt failed
  absl::Time last_failure_logged_ = absl::InfinitePast();
  int failures_not_logged_ = 0;

  // Counts streams whose reactor has not finished yet (set on gRPC threads),
  // so the destructor can wait for the last one.
  mutable std::mutex mu_;
  std::condition_variable streams_done_;
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
  std::string local_address_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_MASTER_LINK_H_
