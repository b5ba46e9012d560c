#include "master/api_json.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace ampmr::master {
namespace {

using nlohmann::json;

std::string Lower(absl::string_view name, absl::string_view prefix) {
  absl::ConsumePrefix(&name, prefix);
  return absl::AsciiStrToLower(name);
}

json PhaseJson(const v1::PhaseProgress& p) {
  return {{"total", p.total()},
          {"done", p.done()},
          {"running", p.running()},
          {"failed_attempts", p.failed_attempts()}};
}

// Strings from tasks and users may hold any bytes; nlohmann refuses invalid
// UTF-8, so invalid sequences become U+FFFD.
std::string Utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace

std::string JobStateName(v1::JobState state) { return Lower(v1::JobState_Name(state), ""); }
std::string AttemptStateName(v1::AttemptState state) {
  return Lower(v1::AttemptState_Name(state), "ATTEMPT_");
}
std::string TaskStateName(v1::TaskState state) {
  return Lower(v1::TaskState_Name(state), "TASK_");
}

json JobSummaryJson(const v1::JobStatus& job) {
  const v1::JobSpec& spec = job.spec();
  json inputs = json::array();
  for (const auto& in : spec.inputs()) inputs.push_back(Utf8(in));
  return {{"id", job.job_id()},
          {"name", Utf8(spec.name())},
          {"state", JobStateName(job.state())},
          {"map", PhaseJson(job.map())},
          {"reduce", PhaseJson(job.reduce())},
          {"submit_time", job.submit_time()},
          {"start_time", job.start_time()},
          {"end_time", job.end_time()},
          {"error", Utf8(job.error())},
          {"mapper", Utf8(spec.mapper())},
          {"reducer", Utf8(spec.reducer())},
          {"combiner", Utf8(spec.combiner())},
          {"inputs", inputs},
          {"output", Utf8(spec.output())},
          {"reduces", spec.reduces()},
          {"max_attempts", spec.max_attempts()}};
}

json JobJson(const v1::JobStatus& job) {
  json out = JobSummaryJson(job);
  json counters = json::object();
  for (const auto& [name, value] : job.counters()) counters[Utf8(name)] = value;
  out["counters"] = counters;
  json failed = json::array();
  for (const auto& a : job.failed_attempts()) failed.push_back(AttemptJson(a));
  out["failed_attempts"] = failed;
  json statuses = json::array();
  for (const auto& s : job.task_statuses()) {
    statuses.push_back({{"task_id", s.task_id()},
                        {"attempt_id", s.attempt_id()},
                        {"worker_id", s.worker_id()},
                        {"status", Utf8(s.status())}});
  }
  out["task_statuses"] = statuses;
  return out;
}

json JobsJson(const std::vector<v1::JobStatus>& page, size_t total, size_t offset) {
  json jobs = json::array();
  for (const auto& j : page) jobs.push_back(JobSummaryJson(j));
  return {{"total", total}, {"offset", offset}, {"jobs", jobs}};
}

json AttemptJson(const v1::AttemptInfo& a) {
  return {{"task_id", a.task_id()},
          {"attempt", a.attempt()},
          {"attempt_id", a.attempt_id()},
          {"worker_id", a.worker_id()},
          {"start_time", a.start_time()},
          {"end_time", a.end_time()},
          {"state", AttemptStateName(a.state())},
          {"error", Utf8(a.error())},
          {"backup", a.backup()}};
}

json TasksJson(const v1::ListTasksResponse& tasks, size_t offset) {
  json list = json::array();
  for (const auto& t : tasks.tasks()) {
    json attempts = json::array();
    for (const auto& a : t.attempts()) attempts.push_back(AttemptJson(a));
    list.push_back({{"task_id", t.task_id()},
                    {"kind", t.reduce() ? "reduce" : "map"},
                    {"state", TaskStateName(t.state())},
                    {"input", Utf8(t.input())},
                    {"attempts", attempts}});
  }
  return {{"total", tasks.total()},
          {"offset", offset},
          {"dropped_attempts", tasks.dropped_attempts()},
          {"tasks", list}};
}

json AttemptsJson(const std::vector<v1::AttemptInfo>& attempts, size_t total) {
  json list = json::array();
  for (const auto& a : attempts) list.push_back(AttemptJson(a));
  return {{"total", total}, {"attempts", list}};
}

json WorkersJson(const std::vector<v1::WorkerInfo>& workers, double now) {
  json list = json::array();
  for (const auto& w : workers) {
    json handlers = json::array();
    for (const auto& h : w.handlers()) handlers.push_back(h);
    list.push_back({{"id", w.worker_id()},
                    {"host", Utf8(w.host())},
                    {"pid", w.pid()},
                    {"shuffle_address", Utf8(w.shuffle_address())},
                    {"slots", w.slots()},
                    {"running", w.running()},
                    {"tasks_done", w.tasks_done()},
                    {"attempts_failed", w.attempts_failed()},
                    {"cpu_percent", w.cpu_percent()},
                    {"rss_bytes", w.rss_bytes()},
                    {"connected_time", w.connected_time()},
                    {"last_heartbeat_time", w.last_heartbeat_time()},
                    {"handlers", handlers}});
  }
  return {{"now", now}, {"workers", list}};
}

json HandlersJson(const std::vector<HandlerFigures>& handlers) {
  json list = json::array();
  for (const auto& h : handlers) {
    json errors = json::object();
    int64_t calls = 0;
    for (const auto& [code, n] : h.ends) {
      calls += n;
      if (code != absl::StatusCode::kOk) errors[absl::StatusCodeToString(code)] = n;
    }
    list.push_back({{"name", h.name},
                    {"workers", h.workers},
                    {"queued", h.queued},
                    {"running", h.running},
                    {"calls", calls},
                    {"calls_per_second", h.calls_per_second},
                    {"p50_seconds", h.seconds.Quantile(0.5)},
                    {"p99_seconds", h.seconds.Quantile(0.99)},
                    {"errors", errors}});
  }
  return {{"handlers", list}};
}

}  // namespace ampmr::master
