// HttpStatus: the master's HTTP views (README "Seeing what the cluster does"), served only where
// `ampmr-master --http ADDR` asks:
//   /                       the dashboard: jobs (paged), workers, handlers
//   /jobs/ID                a job: phases, counters, timeline, tasks
//   /static/...             the dashboard's script and style sheet
//   /api/v1/jobs            ?offset=&limit= (newest first)
//   /api/v1/jobs/ID         one job with its counters and first failed attempts
//   /api/v1/jobs/ID/tasks   ?offset=&limit=&failed_only=1 (failures first)
//   /api/v1/jobs/ID/attempts          ?limit= the latest attempts, for the timeline
//   /api/v1/jobs/ID/tasks/TASK/log    ?attempt=N an attempt's stderr (text)
//   /api/v1/workers, /api/v1/handlers
//   /metrics                Prometheus text format
// Every route is registered through Route(); with a cluster token, HttpAuth
// answers 401 to any request without it, before every route. Handlers run on the HTTP server's
// threads: they copy what they need on the coordinator's loop (waiting at most a few seconds) and
// render off it.
#ifndef AMPMR_MASTER_HTTP_STATUS_H_
#define AMPMR_MASTER_HTTP_STATUS_H_

#include <functional>
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
struct Request;
}  // namespace httplib

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
  struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
  };
  using Handler = std::function<Reply(const httplib::Request&)>;

  HttpStatus(Loop* loop, Coordinator* coordinator, const TokenAuthenticator* authenticator);
  void AddRoutes();
  // Serves GET `pattern` (a regex; groups in request.matches) with `handler`.
  void Route(const std::string& pattern, Handler handler);

  Reply Jobs(const httplib::Request& request);
  Reply Job(const httplib::Request& request);
  Reply Tasks(const httplib::Request& request);
  Reply Attempts(const httplib::Request& request);
  Reply TaskLog(const httplib::Request& request);
  Reply Workers(const httplib::Request& request);
  Reply Handlers(const httplib::Request& request);
  Reply Metrics(const httplib::Request& request);

  Loop* const loop_;
  Coordinator* const coordinator_;
  const HttpAuth auth_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_HTTP_STATUS_H_
