// ShuffleServiceImpl: serves byte ranges of this worker's map outputs to
// reducers on other workers, streamed in chunks, to callers that carry the
// cluster token (UNAUTHENTICATED otherwise, before any output is looked up).
// Uses gRPC's synchronous API: each Fetch reads the file on a gRPC server
// thread, never a session or slot thread. ShuffleServer is the gRPC server
// that serves it, over TLS with --tls-cert/--tls-key.
#ifndef AMPMR_WORKER_SHUFFLE_SERVICE_H_
#define AMPMR_WORKER_SHUFFLE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ampmr/v1/shuffle.grpc.pb.h"
#include "common/credentials.h"
#include "worker/map_output_store.h"

namespace ampmr::worker {

class ShuffleServiceImpl : public v1::ShuffleService::Service {
 public:
  ShuffleServiceImpl(const MapOutputStore* store, const ClusterCredentials* credentials)
      : store_(store), credentials_(credentials) {}

  grpc::Status Fetch(grpc::ServerContext* ctx, const v1::FetchRequest* request,
                     grpc::ServerWriter<v1::Chunk>* writer) override;

 private:
  const MapOutputStore* const store_;
  const ClusterCredentials* const credentials_;
};

// The server other workers' reducers fetch from. Thread-safe.
class ShuffleServer {
 public:
  // Serves `store` on `listen` with `credentials` (both must outlive the
  // server); port 0 picks a free port. INVALID_ARGUMENT for a non-loopback
  // `listen` without a token (ClusterCredentials::CheckListen), UNAVAILABLE
  // if it cannot listen there (the port is taken, say).
  static absl::StatusOr<std::unique_ptr<ShuffleServer>> Start(
      const std::string& listen, const MapOutputStore* store,
      const ClusterCredentials* credentials);
  ~ShuffleServer();  // Shutdown()s

  // The port bound.
  int port() const { return port_; }
  // Ends fetches in progress after a short grace (gRPC waits out the whole
  // deadline while any reducer keeps a channel open). Idempotent.
  void Shutdown();

 private:
  ShuffleServer(const MapOutputStore* store, const ClusterCredentials* credentials)
      : service_(store, credentials) {}

  ShuffleServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_SHUFFLE_SERVICE_H_
