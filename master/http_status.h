// HttpStatus: the master's human status page ("/") and Prometheus metrics
// ("/metrics"), served only where `ampmr-master --http ADDR` asks. Handlers run
// on the HTTP server's threads and read the coordinator by posting to its loop
// and waiting for the answer, so they never touch master state directly.
#ifndef AMPMR_MASTER_HTTP_STATUS_H_
#define AMPMR_MASTER_HTTP_STATUS_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/loop.h"
#include "master/coordinator.h"
#include "master/http_auth.h"

namespace httplib {
class Server;
}

namespace ampmr::master {

class HttpStatus {
 public:
  // Serves on `address` ("HOST:PORT"; port 0 picks one). `loop` runs
  // `coordinator`. Every route needs the token `authenticator` checks (see
  // HttpAuth); it must outlive this. UNAVAILABLE naming the address when it
  // cannot be listened on (e.g. already in use).
  static absl::StatusOr<std::unique_ptr<HttpStatus>> Start(const std::string& address, Loop* loop,
                                                           Coordinator* coordinator,
                                                           const TokenAuthenticator* authenticator);
  ~HttpStatus();  // Stop()s

  void Stop();
  // The address actually bound.
  const std::string& address() const { return address_; }

 private:
  explicit HttpStatus(const TokenAuthenticator* authenticator);

  const HttpAuth auth_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
};

// Renders what the page and the metrics show (pure functions, for tests).
std::string RenderStatusPage(const std::vector<v1::JobStatus>& jobs,
                             const std::vector<v1::WorkerInfo>& workers);
std::string RenderMetrics(const std::vector<v1::JobStatus>& jobs,
                          const std::vector<v1::WorkerInfo>& workers);

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_HTTP_STATUS_H_
