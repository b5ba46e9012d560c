#include "master/http_status.h"

#include <httplib.h>

#include <future>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/listen_address.h"
#include "common/logging.h"

namespace ampmr::master {
namespace {

struct Snapshot {
  std::vector<v1::JobStatus> jobs;
  std::vector<v1::WorkerInfo> workers;
};

// Reads the coordinator on its own thread; waits at most a few seconds.
absl::StatusOr<Snapshot> Read(Loop* loop, Coordinator* coordinator) {
  auto promise = std::make_shared<std::promise<Snapshot>>();
  std::future<Snapshot> future = promise->get_future();
  loop->Post([promise, coordinator] {
    v1::ListJobsRequest all;
    all.set_page_size(1000);  // the most a page holds: every job kept, by default
    absl::StatusOr<v1::ListJobsResponse> jobs = coordinator->ListJobs(all);
    promise->set_value(
        Snapshot{std::vector<v1::JobStatus>(jobs->jobs().begin(), jobs->jobs().end()),
                 coordinator->ListWorkers()});
  });
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    return absl::UnavailableError("the coordinator did not answer in time");
  }
  return future.get();
}

std::string Html(absl::string_view text) {
  return absl::StrReplaceAll(text,
                             {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

std::string Label(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

}  // namespace

std::string RenderStatusPage(const std::vector<v1::JobStatus>& jobs,
                             const std::vector<v1::WorkerInfo>& workers) {
  std::string page =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>ampmr master</title>"
      "<meta http-equiv=\"refresh\" content=\"2\"><style>body{font-family:sans-serif}"
      "td,th{padding:2px 10px;text-align:left}</style></head><body><h1>ampmr master</h1>";
  absl::StrAppend(&page, "<h2>Workers (", workers.size(),
                  ")</h2><table><tr><th>id</th>"
                  "<th>host</th><th>pid</th><th>slots</th><th>running</th><th>done</th>"
                  "<th>shuffle</th></tr>");
  for (const auto& w : workers) {
    absl::StrAppend(&page, "<tr><td>", Html(w.worker_id()), "</td><td>", Html(w.host()),
                    "</td><td>", w.pid(), "</td><td>", w.slots(), "</td><td>", w.running(),
                    "</td><td>", w.tasks_done(), "</td><td>", Html(w.shuffle_address()),
                    "</td></tr>");
  }
  absl::StrAppend(&page, "</table><h2>Jobs (", jobs.size(),
                  ")</h2><table><tr><th>id</th>"
                  "<th>state</th><th>map</th><th>reduce</th><th>mapper</th><th>output</th>"
                  "<th>error</th></tr>");
  for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
    const v1::JobStatus& j = *it;
    absl::StrAppend(&page, "<tr><td>", Html(j.job_id()), "</td><td>", v1::JobState_Name(j.state()),
                    "</td><td>", j.map().done(), "/", j.map().total(), "</td><td>",
                    j.reduce().done(), "/", j.reduce().total(), "</td><td>",
                    Html(j.spec().mapper()), "</td><td>", Html(j.spec().output()), "</td><td>",
                    Html(j.error()), "</td></tr>");
  }
  absl::StrAppend(&page, "</table>");
  // What running attempts last said (reporter:status), newest jobs first.
  std::string statuses;
  for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
    for (const v1::TaskStatus& t : it->task_statuses()) {
      absl::StrAppend(&statuses, "<tr><td>", Html(it->job_id()), "</td><td>", Html(t.task_id()),
                      "</td><td>", Html(t.worker_id()), "</td><td>", Html(t.status()),
                      "</td></tr>");
    }
  }
  if (!statuses.empty()) {
    absl::StrAppend(&page,
                    "<h2>Task status</h2><table><tr><th>job</th><th>task</th>"
                    "<th>worker</th><th>status</th></tr>",
                    statuses, "</table>");
  }
  absl::StrAppend(&page, "</body></html>\n");
  return page;
}

std::string RenderMetrics(const std::vector<v1::JobStatus>& jobs,
                          const std::vector<v1::WorkerInfo>& workers) {
  std::map<std::string, int> by_state;
  for (int s = v1::PENDING; s <= v1::CANCELLED; ++s) {
    by_state[v1::JobState_Name(static_cast<v1::JobState>(s))] = 0;
  }
  int64_t running_tasks = 0, slots = 0, tasks_done = 0;
  for (const auto& j : jobs) ++by_state[v1::JobState_Name(j.state())];
  for (const auto& w : workers) {
    running_tasks += w.running();
    slots += w.slots();
    tasks_done += w.tasks_done();
  }
  std::string out;
  absl::StrAppend(&out, "# HELP ampmr_jobs Jobs known to the master, by state.\n",
                  "# TYPE ampmr_jobs gauge\n");
  for (const auto& [state, n] : by_state) {
    absl::StrAppend(&out, "ampmr_jobs{state=\"", state, "\"} ", n, "\n");
  }
  absl::StrAppend(&out, "# HELP ampmr_workers Workers connected now.\n# TYPE ampmr_workers gauge\n",
                  "ampmr_workers ", workers.size(), "\n",
                  "# HELP ampmr_slots Task slots of the connected workers.\n",
                  "# TYPE ampmr_slots gauge\nampmr_slots ", slots, "\n",
                  "# HELP ampmr_attempts_running Task attempts running now.\n",
                  "# TYPE ampmr_attempts_running gauge\nampmr_attempts_running ", running_tasks,
                  "\n", "# HELP ampmr_worker_tasks_done Tasks accepted from connected workers.\n",
                  "# TYPE ampmr_worker_tasks_done gauge\nampmr_worker_tasks_done ", tasks_done,
                  "\n");
  absl::StrAppend(&out, "# HELP ampmr_job_counter A job's counters (accepted attempts only).\n",
                  "# TYPE ampmr_job_counter gauge\n");
  for (const auto& j : jobs) {
    std::map<std::string, int64_t> sorted(j.counters().begin(), j.counters().end());
    for (const auto& [name, value] : sorted) {
      absl::StrAppend(&out, "ampmr_job_counter{job=\"", Label(j.job_id()), "\",name=\"",
                      Label(name), "\"} ", value, "\n");
    }
  }
  return out;
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
  auto status = std::unique_ptr<HttpStatus>(new HttpStatus(authenticator));
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
  auto serve = [loop, coordinator](const char* type, auto render) {
    return [loop, coordinator, type, render](const httplib::Request&, httplib::Response& res) {
      absl::StatusOr<Snapshot> snap = Read(loop, coordinator);
      if (!snap.ok()) {
        res.status = 503;
        res.set_content(std::string(snap.status().message()) + "\n", "text/plain");
        return;
      }
      res.set_content(render(snap->jobs, snap->workers), type);
    };
  };
  status->server_->Get("/", serve("text/html; charset=utf-8", RenderStatusPage));
  status->server_->Get("/metrics", serve("text/plain; version=0.0.4", RenderMetrics));
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

HttpStatus::HttpStatus(const TokenAuthenticator* authenticator) : auth_(authenticator) {}

HttpStatus::~HttpStatus() { Stop(); }

void HttpStatus::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ampmr::master
