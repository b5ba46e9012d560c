// WorkerSessionImpl: accepts workers' WorkerSession.Connect streams. Each
// stream gets an amp::Session on the coordinator's loop; the worker's Hello
// registers it with the coordinator (a Hello past the bounds of
// common/hello_limits.h is refused, logged once a minute per host), its heartbeats (and any other box) keep it
// alive, and the end of the stream unregisters it.
#ifndef AMPMR_MASTER_SESSION_SERVICE_H_
#define AMPMR_MASTER_SESSION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "ampmr/v1/session.grpc.pb.h"
#include "common/credentials.h"
#include "common/log_limiter.h"
#include "common/loop.h"
#include "master/coordinator.h"

namespace ampmr::master {

class WorkerSessionImpl : public v1::WorkerSession::CallbackService {
 public:
  // A stream that does not carry the token is refused before it is read.
  WorkerSessionImpl(Loop* loop, Coordinator* coordinator, const ClusterCredentials* credentials)
      : loop_(loop), coordinator_(coordinator), credentials_(credentials) {}

  grpc::ServerBidiReactor<v1::Box, v1::Box>* Connect(grpc::CallbackServerContext* ctx) override;

 private:
  Loop* const loop_;
  Coordinator* const coordinator_;
  const ClusterCredentials* const credentials_;
  LogLimiter hello_refusals_{absl::Minutes(1)};
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_SESSION_SERVICE_H_
