#include "master/http_status.h"

#include <httplib.h>

#include <algorithm>
#include <future>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/listen_address.h"
#include "common/logging.h"
#include "master/api_json.h"
#include "master/dashboard_assets.h"
#include "master/metrics_text.h"

namespace ampmr::master {
namespace {

constexpr auto kLoopWait = std::chrono::seconds(5);

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

// Runs `fn` on the coordinator's loop and waits for what it returns. `fn`
// gets a callback to call once, then or later (GetTaskLog answers later).
template <typename T>
absl::StatusOr<T> OnLoop(Loop* loop,
                         std::function<void(std::function<void(absl::StatusOr<T>)>)> fn) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<T>>>();
  std::future<absl::StatusOr<T>> future = promise->get_future();
  loop->Post([promise, fn = std::move(fn)] {
    fn([promise](absl::StatusOr<T> value) { promise->set_value(std::move(value)); });
  });
  if (future.wait_for(kLoopWait) != std::future_status::ready) {
    return absl::UnavailableError("the master did not answer in time");
  }
  return future.get();
}

template <typename T>
absl::StatusOr<T> ReadOnLoop(Loop* loop, std::function<absl::StatusOr<T>()> read) {
  return OnLoop<T>(loop, [read = std::move(read)](auto done) { done(read()); });
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
      return 410;  // the attempt's worker, and its log, are gone
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

// `name` from the query: an integer in [lo, hi], `fallback` if absent.
absl::StatusOr<int> IntParam(const httplib::Request& request, const char* name, int fallback,
                             int lo, int hi) {
  if (!request.has_param(name)) return fallback;
  int value = 0;
  if (!absl::SimpleAtoi(request.get_param_value(name), &value) || value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "=", request.get_param_value(name), ": want an integer from ", lo,
                     " to ", hi));
  }
  return value;
}

// Every job the master holds, oldest first (ListJobs, page by page).
std::vector<v1::JobStatus> AllJobs(const Coordinator& c) {
  std::vector<v1::JobStatus> all;
  v1::ListJobsRequest request;
  request.set_page_size(1000);
  while (true) {
    absl::StatusOr<v1::ListJobsResponse> page = c.ListJobs(request);
    if (!page.ok()) break;
    for (auto& job : *page->mutable_jobs()) all.push_back(std::move(job));
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  return all;
}

std::vector<HandlerFigures> CollectHandlers(const Coordinator& c, absl::Time now) {
  std::map<std::string, HandlerFigures> by_name;
  for (const v1::WorkerInfo& w : c.ListWorkers()) {
    for (const std::string& h : w.handlers()) {
      by_name[h].name = h;
      ++by_name[h].workers;
    }
  }
  for (const auto& [name, stats] : c.call_stats().handlers()) {
    HandlerFigures& f = by_name[name];
    f.name = name;
    f.seconds = stats.seconds;
    f.ends = stats.ends;
    f.calls_per_second = CallStats::Rate(stats, now);
    f.running = stats.open;  // less the queued ones, below
  }
  std::vector<HandlerFigures> out;
  for (auto& [name, f] : by_name) {
    f.queued = static_cast<int64_t>(c.calls().queued(name));
    f.running = std::max<int64_t>(0, f.running - f.queued);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

void HttpStatus::Route(const std::string& pattern, Handler handler) {
  server_->Get(pattern, [handler = std::move(handler)](const httplib::Request& request,
                                                       httplib::Response& response) {
    Reply reply = handler(request);
    response.status = reply.status;
    // Task output is shown as sent, never sniffed into HTML.
    response.set_header("X-Content-Type-Options", "nosniff");
    response.set_header("Cache-Control", "no-store");
    response.set_content(reply.body, reply.content_type);
  });
}

void HttpStatus::AddRoutes() {
  auto page = [](const char* name) -> Handler {
    Reply reply{404, "no such file\n", "text/plain"};
    for (const DashboardAsset& asset : DashboardAssets()) {
      if (asset.name != std::string_view(name)) continue;
      reply = Reply{200, std::string(asset.body), asset.content_type};
    }
    return [reply](const httplib::Request&) { return reply; };
  };
  Route("/", page("index.html"));
  Route(R"(/jobs/[^/]+)", page("index.html"));
  Route("/static/app.js", page("app.js"));
  Route("/static/style.css", page("style.css"));
  auto bind = [this](Reply (HttpStatus::*method)(const httplib::Request&)) {
    return [this, method](const httplib::Request& r) { return (this->*method)(r); };
  };
  Route("/api/v1/jobs", bind(&HttpStatus::Jobs));
  Route(R"(/api/v1/jobs/([^/]+))", bind(&HttpStatus::Job));
  Route(R"(/api/v1/jobs/([^/]+)/tasks)", bind(&HttpStatus::Tasks));
  Route(R"(/api/v1/jobs/([^/]+)/attempts)", bind(&HttpStatus::Attempts));
  Route(R"(/api/v1/jobs/([^/]+)/tasks/([^/]+)/log)", bind(&HttpStatus::TaskLog));
  Route("/api/v1/workers", bind(&HttpStatus::Workers));
  Route("/api/v1/handlers", bind(&HttpStatus::Handlers));
  Route("/metrics", bind(&HttpStatus::Metrics));
}

namespace {

// An error as JSON: {"error": "..."}.
template <typename R>
R ErrorReply(const absl::Status& status) {
  return R{HttpStatusOf(status.code()),
           nlohmann::json{{"error", std::string(status.message())}}.dump() + "\n",
           "application/json"};
}

template <typename R>
R JsonReply(const nlohmann::json& body) {
  return R{200, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
           "application/json"};
}

}  // namespace

HttpStatus::Reply HttpStatus::Jobs(const httplib::Request& request) {
  absl::StatusOr<int> offset = IntParam(request, "offset", 0, 0, 1 << 30);
  absl::StatusOr<int> limit = IntParam(request, "limit", 50, 1, 1000);
  if (!offset.ok()) return ErrorReply<Reply>(offset.status());
  if (!limit.ok()) return ErrorReply<Reply>(limit.status());
  struct Page {
    std::vector<v1::JobStatus> jobs;
    size_t total = 0;
  };
  absl::StatusOr<Page> page = ReadOnLoop<Page>(loop_, [c = coordinator_, o = *offset, l = *limit] {
    std::vector<v1::JobStatus> all = AllJobs(*c);  // oldest first
    Page p;
    p.total = all.size();
    for (size_t i = static_cast<size_t>(o); i < all.size() && p.jobs.size() < static_cast<size_t>(l);
         ++i) {
      p.jobs.push_back(std::move(all[all.size() - 1 - i]));
    }
    return absl::StatusOr<Page>(std::move(p));
  });
  if (!page.ok()) return ErrorReply<Reply>(page.status());
  return JsonReply<Reply>(JobsJson(page->jobs, page->total, static_cast<size_t>(*offset)));
}

HttpStatus::Reply HttpStatus::Job(const httplib::Request& request) {
  std::string id = request.matches[1];
  absl::StatusOr<v1::JobStatus> job = ReadOnLoop<v1::JobStatus>(
      loop_, [c = coordinator_, id] { return c->GetJob(id); });
  if (!job.ok()) return ErrorReply<Reply>(job.status());
  return JsonReply<Reply>(JobJson(*job));
}

HttpStatus::Reply HttpStatus::Tasks(const httplib::Request& request) {
  absl::StatusOr<int> offset = IntParam(request, "offset", 0, 0, 1 << 30);
  absl::StatusOr<int> limit = IntParam(request, "limit", 100, 1, 10000);
  absl::StatusOr<int> failed_only = IntParam(request, "failed_only", 0, 0, 1);
  for (const auto* p : {&offset, &limit, &failed_only}) {
    if (!p->ok()) return ErrorReply<Reply>(p->status());
  }
  v1::ListTasksRequest list;
  list.set_job_id(request.matches[1]);
  list.set_offset(*offset);
  list.set_limit(*limit);
  list.set_failed_only(*failed_only == 1);
  absl::StatusOr<v1::ListTasksResponse> tasks = ReadOnLoop<v1::ListTasksResponse>(
      loop_, [c = coordinator_, list] { return c->ListTasks(list); });
  if (!tasks.ok()) return ErrorReply<Reply>(tasks.status());
  return JsonReply<Reply>(TasksJson(*tasks, static_cast<size_t>(*offset)));
}

HttpStatus::Reply HttpStatus::Attempts(const httplib::Request& request) {
  absl::StatusOr<int> limit = IntParam(request, "limit", 5000, 1, 100000);
  if (!limit.ok()) return ErrorReply<Reply>(limit.status());
  std::string id = request.matches[1];
  struct Latest {
    std::vector<v1::AttemptInfo> attempts;
    size_t total = 0;
  };
  absl::StatusOr<Latest> latest =
      ReadOnLoop<Latest>(loop_, [c = coordinator_, id, l = *limit]() -> absl::StatusOr<Latest> {
        const JobRun* job = c->FindJob(id);
        if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job ", id));
        return Latest{job->attempts().Latest(static_cast<size_t>(l)), job->attempts().size()};
      });
  if (!latest.ok()) return ErrorReply<Reply>(latest.status());
  return JsonReply<Reply>(AttemptsJson(latest->attempts, latest->total));
}

HttpStatus::Reply HttpStatus::TaskLog(const httplib::Request& request) {
  absl::StatusOr<int> attempt = IntParam(request, "attempt", 0, 0, 1 << 20);
  if (!attempt.ok()) return ErrorReply<Reply>(attempt.status());
  v1::GetTaskLogRequest get;
  get.set_job_id(request.matches[1]);
  get.set_task_id(request.matches[2]);
  get.set_attempt(*attempt);
  absl::StatusOr<v1::TaskLog> log = OnLoop<v1::TaskLog>(
      loop_, [c = coordinator_, get](auto done) { c->GetTaskLog(get, std::move(done)); });
  if (!log.ok()) {
    return Reply{HttpStatusOf(log.status().code()), std::string(log.status().message()) + "\n",
                 "text/plain; charset=utf-8"};
  }
  std::string body = log->truncated() ? "[... earlier stderr cut to keep the cap ...]\n" : "";
  body += log->text();
  return Reply{200, std::move(body), "text/plain; charset=utf-8"};
}

HttpStatus::Reply HttpStatus::Workers(const httplib::Request&) {
  absl::StatusOr<std::vector<v1::WorkerInfo>> workers = ReadOnLoop<std::vector<v1::WorkerInfo>>(
      loop_, [c = coordinator_] { return c->ListWorkers(); });
  if (!workers.ok()) return ErrorReply<Reply>(workers.status());
  return JsonReply<Reply>(WorkersJson(*workers, Seconds(absl::Now())));
}

HttpStatus::Reply HttpStatus::Handlers(const httplib::Request&) {
  absl::StatusOr<std::vector<HandlerFigures>> handlers =
      ReadOnLoop<std::vector<HandlerFigures>>(loop_, [c = coordinator_, l = loop_] {
        return CollectHandlers(*c, l->Now());
      });
  if (!handlers.ok()) return ErrorReply<Reply>(handlers.status());
  return JsonReply<Reply>(HandlersJson(*handlers));
}

HttpStatus::Reply HttpStatus::Metrics(const httplib::Request&) {
  absl::StatusOr<MetricsSnapshot> snapshot =
      ReadOnLoop<MetricsSnapshot>(loop_, [c = coordinator_, l = loop_] {
        MetricsSnapshot s;
        s.jobs = AllJobs(*c);
        s.workers = c->ListWorkers();
        s.cluster = c->metrics();
        s.handlers = CollectHandlers(*c, l->Now());
        return absl::StatusOr<MetricsSnapshot>(std::move(s));
      });
  if (!snapshot.ok()) {
    return Reply{503, std::string(snapshot.status().message()) + "\n", "text/plain"};
  }
  return Reply{200, RenderMetrics(*snapshot), "text/plain; version=0.0.4; charset=utf-8"};
}

absl::StatusOr<std::unique_ptr<HttpStatus>> HttpStatus::Start(
    const std::string& address, Loop* loop, Coordinator* coordinator,
    const TokenAuthenticator* authenticator) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--http ", address, ": want HOST:PORT"));
  }
  std::string host = address.substr(0, colon);
  auto status = std::unique_ptr<HttpStatus>(new HttpStatus(loop, coordinator, authenticator));
  status->server_ = std::make_unique<httplib::Server>();
  // httplib sets SO_REUSEPORT too, which would let a second master share the
  // port: only SO_REUSEADDR (for restarts over TIME_WAIT).
  status->server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Every route is a GET but /login's small form.
  status->server_->set_payload_max_length(64 << 10);
  status->auth_.Install(status->server_.get());
  status->AddRoutes();
  int bound = port == 0 ? status->server_->bind_to_any_port(host)
                        : (status->server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    absl::Status why = CheckBindable("--http", address);
    return why.ok() ? absl::UnavailableError(absl::StrCat("--http ", address, ": cannot listen"))
                    : why;
  }
  status->address_ = absl::StrCat(host, ":", bound);
  httplib::Server* server = status->server_.get();
  status->thread_ = std::thread([server] { server->listen_after_bind(); });
  AMPMR_LOG(INFO) << "status page on http://" << status->address_ << "/";
  return status;
}

HttpStatus::HttpStatus(Loop* loop, Coordinator* coordinator,
                       const TokenAuthenticator* authenticator)
    : loop_(loop), coordinator_(coordinator), auth_(authenticator) {}

HttpStatus::~HttpStatus() { Stop(); }

void HttpStatus::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ampmr::master
