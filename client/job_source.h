// JobSource: the calls that follow a job, as a master answers them. The real
// one is MasterClient (gRPC); tests of the waiting logic use a fake, so that
// logic needs no gRPC headers.
//
// Errors use MasterClient's conventions: UNAVAILABLE when the master could
// not be reached or the stream broke, the master's own verdict (NOT_FOUND,
// ...) otherwise, CANCELLED after an interrupt.
#ifndef AMPMR_CLIENT_JOB_SOURCE_H_
#define AMPMR_CLIENT_JOB_SOURCE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "ampmr/v1/job.pb.h"

namespace ampmr::client {

class JobSource {
 public:
  virtual ~JobSource() = default;

  // The master's HOST:PORT, for messages.
  virtual const std::string& address() const = 0;

  virtual absl::StatusOr<v1::JobStatus> GetJob(const std::string& job_id) = 0;

  // Follows the job until the master reports a final state, calling
  // `on_event` on this thread for every event, and returns the final status.
  virtual absl::StatusOr<v1::JobStatus> WatchJob(
      const std::string& job_id, const std::function<void(const v1::JobStatus&)>& on_event) = 0;
};

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_JOB_SOURCE_H_
