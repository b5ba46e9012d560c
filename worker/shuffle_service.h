// ShuffleServiceImpl: serves byte ranges of this worker's map outputs to
// reducers on other workers, streamed in chunks. Uses gRPC's synchronous API:
// each Fetch reads the file on a gRPC server thread, never a session or slot
// thread.
#ifndef AMPMR_WORKER_SHUFFLE_SERVICE_H_
#define AMPMR_WORKER_SHUFFLE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "ampmr/v1/shuffle.grpc.pb.h"
#include "worker/map_output_store.h"

namespace ampmr::worker {

class ShuffleServiceImpl : public v1::ShuffleService::Service {
 public:
  explicit ShuffleServiceImpl(const MapOutputStore* store) : store_(store) {}

  grpc::Status Fetch(grpc::ServerContext* ctx, const v1::FetchRequest* request,
                     grpc::ServerWriter<v1::Chunk>* writer) override;

 private:
  const MapOutputStore* store_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_SHUFFLE_SERVICE_H_
