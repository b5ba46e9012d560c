// absl::Status <-> grpc::Status, for the gRPC adapters of master, worker and
// client. Canonical codes are the same numbers on both sides.
#ifndef AMPMR_COMMON_AMP_GRPC_STATUS_H_
#define AMPMR_COMMON_AMP_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace ampmr::amp {

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace ampmr::amp

#endif  // AMPMR_COMMON_AMP_GRPC_STATUS_H_
