#include "master/metrics_text.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace ampmr::master {
namespace {

std::string Label(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

void Header(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

bool Running(v1::JobState s) { return s == v1::PENDING || s == v1::MAPPING || s == v1::REDUCING; }

void AttemptCounter(std::string* out, absl::string_view name, absl::string_view help,
                    int64_t map, int64_t reduce) {
  Header(out, name, "counter", help);
  absl::StrAppend(out, name, "{kind=\"map\"} ", map, "\n", name, "{kind=\"reduce\"} ", reduce,
                  "\n");
}

void AppendJobs(const MetricsSnapshot& s, std::string* out) {
  std::map<std::string, int> by_state;
  for (int st = v1::PENDING; st <= v1::CANCELLED; ++st) {
    by_state[JobStateName(static_cast<v1::JobState>(st))] = 0;
  }
  for (const auto& j : s.jobs) ++by_state[JobStateName(j.state())];
  Header(out, "ampmr_jobs", "gauge", "Jobs the master holds, by state.");
  for (const auto& [state, n] : by_state) {
    absl::StrAppend(out, "ampmr_jobs{state=\"", state, "\"} ", n, "\n");
  }
  // Per-job series, for running jobs only.
  std::string tasks, failed, values;
  for (const auto& j : s.jobs) {
    if (!Running(j.state())) continue;
    std::string job = Label(j.job_id());
    for (const auto& [phase, p] : {std::pair<const char*, const v1::PhaseProgress*>{"map", &j.map()},
                                   {"reduce", &j.reduce()}}) {
      absl::StrAppend(&tasks, "ampmr_running_job_tasks{job=\"", job, "\",phase=\"", phase,
                      "\",state=\"all\"} ", p->total(), "\n", "ampmr_running_job_tasks{job=\"",
                      job, "\",phase=\"", phase, "\",state=\"done\"} ", p->done(), "\n",
                      "ampmr_running_job_tasks{job=\"", job, "\",phase=\"", phase,
                      "\",state=\"running\"} ", p->running(), "\n");
      absl::StrAppend(&failed, "ampmr_running_job_failed_attempts{job=\"", job, "\",phase=\"",
                      phase, "\"} ", p->failed_attempts(), "\n");
    }
    std::map<std::string, int64_t> sorted(j.counters().begin(), j.counters().end());
    for (const auto& [name, value] : sorted) {
      if (!absl::StartsWith(name, "ampmr.")) continue;
      absl::StrAppend(&values, "ampmr_running_job_value{job=\"", job, "\",name=\"", Label(name),
                      "\"} ", value, "\n");
    }
  }
  Header(out, "ampmr_running_job_tasks", "gauge",
         "Tasks of each running job, by phase: all, done, running.");
  absl::StrAppend(out, tasks);
  Header(out, "ampmr_running_job_failed_attempts", "gauge",
         "Attempts of each running job that failed by themselves, by phase.");
  absl::StrAppend(out, failed);
  Header(out, "ampmr_running_job_value", "gauge",
         "Built-in counters (ampmr.*) of each running job, accepted attempts only.");
  absl::StrAppend(out, values);
}

void AppendWorkers(const MetricsSnapshot& s, std::string* out) {
  int64_t slots = 0, running = 0, rss = 0;
  double cpu = 0;
  for (const auto& w : s.workers) {
    slots += w.slots();
    running += w.running();
    rss += w.rss_bytes();
    cpu += w.cpu_percent();
  }
  Header(out, "ampmr_workers", "gauge", "Workers connected now.");
  absl::StrAppend(out, "ampmr_workers ", s.workers.size(), "\n");
  Header(out, "ampmr_slots", "gauge", "Task slots of the connected workers.");
  absl::StrAppend(out, "ampmr_slots ", slots, "\n");
  Header(out, "ampmr_attempts_running", "gauge", "Task attempts running now.");
  absl::StrAppend(out, "ampmr_attempts_running ", running, "\n");
  Header(out, "ampmr_workers_cpu_percent", "gauge",
         "CPU use of the connected workers and their task processes, summed (100 = one core).");
  absl::StrAppend(out, "ampmr_workers_cpu_percent ", cpu, "\n");
  Header(out, "ampmr_workers_resident_bytes", "gauge",
         "Resident memory of the connected workers and their task processes, summed.");
  absl::StrAppend(out, "ampmr_workers_resident_bytes ", rss, "\n");
}

void AppendAttempts(const ClusterMetrics& m, std::string* out) {
  AttemptCounter(out, "ampmr_attempts_started_total", "Task attempts started.", m.map.started,
                 m.reduce.started);
  AttemptCounter(out, "ampmr_attempts_succeeded_total", "Task attempts accepted.",
                 m.map.succeeded, m.reduce.succeeded);
  AttemptCounter(out, "ampmr_attempts_failed_total",
                 "Task attempts that failed by themselves (counted against max attempts).",
                 m.map.failed, m.reduce.failed);
  AttemptCounter(out, "ampmr_attempts_killed_total",
                 "Task attempts stopped by the master (backups that lost, jobs that ended).",
                 m.map.killed, m.reduce.killed);
  AttemptCounter(out, "ampmr_attempts_lost_total",
                 "Task attempts lost with their worker (run again, not counted).", m.map.lost,
                 m.reduce.lost);
  Header(out, "ampmr_task_duration_seconds", "histogram", "Durations of accepted task attempts.");
  m.map.seconds.AppendTo("ampmr_task_duration_seconds", "kind=\"map\"", out);
  m.reduce.seconds.AppendTo("ampmr_task_duration_seconds", "kind=\"reduce\"", out);
  Header(out, "ampmr_shuffled_bytes_total", "counter",
         "Map output bytes fetched by accepted reduce attempts.");
  absl::StrAppend(out, "ampmr_shuffled_bytes_total ", m.shuffled_bytes, "\n");
}

void AppendHandlers(const std::vector<HandlerFigures>& handlers, std::string* out) {
  Header(out, "ampmr_calls_total", "counter", "Calls ended, by handler and status code.");
  for (const auto& h : handlers) {
    for (const auto& [code, n] : h.ends) {
      absl::StrAppend(out, "ampmr_calls_total{handler=\"", Label(h.name), "\",code=\"",
                      absl::StatusCodeToString(code), "\"} ", n, "\n");
    }
  }
  Header(out, "ampmr_call_duration_seconds", "histogram",
         "Call latency from arrival to answer, queueing included, by handler.");
  for (const auto& h : handlers) {
    h.seconds.AppendTo("ampmr_call_duration_seconds",
                       absl::StrCat("handler=\"", Label(h.name), "\""), out);
  }
  Header(out, "ampmr_call_queue_depth", "gauge", "Calls waiting for a free child, by handler.");
  for (const auto& h : handlers) {
    absl::StrAppend(out, "ampmr_call_queue_depth{handler=\"", Label(h.name), "\"} ", h.queued,
                    "\n");
  }
  Header(out, "ampmr_calls_running", "gauge", "Calls running on a child now, by handler.");
  for (const auto& h : handlers) {
    absl::StrAppend(out, "ampmr_calls_running{handler=\"", Label(h.name), "\"} ", h.running,
                    "\n");
  }
}

}  // namespace

std::string RenderMetrics(const MetricsSnapshot& snapshot) {
  std::string out;
  AppendJobs(snapshot, &out);
  AppendWorkers(snapshot, &out);
  AppendAttempts(snapshot.cluster, &out);
  AppendHandlers(snapshot.handlers, &out);
  return out;
}

}  // namespace ampmr::master
