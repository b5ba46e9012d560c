// The subcommands that talk to a running master. `run` is in run_command.cc.
#include "client/commands.h"

#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/exit_status.h"
#include "client/follow_job.h"
#include "client/job_report.h"
#include "client/master_client.h"
#include "client/reconnecting_watch.h"
#include "client/signal_watcher.h"

namespace ampmr::client {
namespace {

absl::StatusOr<std::unique_ptr<MasterClient>> ConnectTo(const std::string& master,
                                                        const SecurityOptions& security) {
  MasterClientOptions options;
  options.address = master;
  options.security = security;
  return MasterClient::Connect(options);
}

// --reconnect-timeout SECS.
absl::StatusOr<ReconnectOptions> ReconnectFor(double seconds) {
  if (!(seconds >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--reconnect-timeout: must be >= 0 seconds, got ", seconds));
  }
  ReconnectOptions options;
  options.timeout = absl::Seconds(seconds);
  return options;
}

// The lost-master notice goes to stderr; stdout stays as without an outage.
void PrintNotice(const std::string& notice) { std::cerr << notice << std::flush; }

}  // namespace

int SubmitCommand(const SubmitOptions& options) {
  absl::StatusOr<std::string> cwd = CurrentDir();
  if (!cwd.ok()) return ReportError(cwd.status());
  absl::StatusOr<v1::JobSpec> spec = BuildJobSpec(options.job, *cwd);
  if (!spec.ok()) return ReportError(spec.status());
  absl::StatusOr<ReconnectOptions> reconnect = ReconnectFor(options.reconnect_timeout_seconds);
  if (!reconnect.ok()) return ReportError(reconnect.status());
  // --wait: Ctrl-C (or SIGTERM) stops watching, never the job. The watcher
  // comes before the channel's threads; the client is interrupted from it.
  std::mutex mu;
  MasterClient* watching = nullptr;  // guarded by mu
  std::unique_ptr<SignalWatcher> signals;
  if (options.wait) {
    absl::StatusOr<std::unique_ptr<SignalWatcher>> started =
        SignalWatcher::Start([&mu, &watching](int signo) {
          if (signo == SIGCHLD) return;
          std::lock_guard<std::mutex> lock(mu);
          if (watching != nullptr) watching->Interrupt();
        });
    if (!started.ok()) return ReportError(started.status());
    signals = *std::move(started);
  }
  absl::StatusOr<std::unique_ptr<MasterClient>> client = ConnectTo(options.master, options.security);
  if (signals != nullptr && signals->interrupted() != 0) {
    return ExitCodeForSignal(signals->interrupted());
  }
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<std::string> job_id = (*client)->SubmitJob(*spec);
  if (!job_id.ok()) return ReportError(job_id.status());
  // Alone on the first line, flushed at once: scripts read it while --wait
  // keeps going.
  std::cout << *job_id << std::endl;
  if (!options.wait) return kExitSuccess;
  {
    std::lock_guard<std::mutex> lock(mu);
    watching = client->get();
    if (signals->interrupted() != 0) watching->Interrupt();
  }
  absl::StatusOr<v1::JobStatus> final_status = FollowJob(**client, *job_id, *spec, *reconnect);
  {
    std::lock_guard<std::mutex> lock(mu);
    watching = nullptr;
  }
  if (signals->interrupted() != 0) {
    std::cerr << "ampmr: stopped watching; job " << *job_id
              << " keeps running on the master. Watch it again with: ampmr wait --master "
              << options.master << " " << *job_id << std::endl;
    return ExitCodeForSignal(signals->interrupted());
  }
  if (!final_status.ok()) return ReportError(final_status.status());
  return ReportFinishedJob(*final_status);
}

int StatusCommand(const JobOptions& options) {
  absl::StatusOr<std::unique_ptr<MasterClient>> client = ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<v1::JobStatus> status = (*client)->GetJob(options.job_id);
  if (!status.ok()) return ReportError(status.status());
  if (options.json) {
    std::cout << ToJsonLine(*status) << std::endl;
  } else {
    std::cout << FormatJobStatus(*status, absl::Now()) << std::flush;
  }
  return kExitSuccess;
}

int WaitCommand(const JobOptions& options) {
  absl::StatusOr<ReconnectOptions> reconnect = ReconnectFor(options.reconnect_timeout_seconds);
  if (!reconnect.ok()) return ReportError(reconnect.status());
  absl::StatusOr<std::unique_ptr<MasterClient>> client = ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  // GetJob first: an unknown id is a usage error, reported at once. A master
  // lost already is waited for by the watch below.
  absl::StatusOr<v1::JobStatus> status = (*client)->GetJob(options.job_id);
  if (!status.ok() && status.status().code() != absl::StatusCode::kUnavailable) {
    return ReportError(status.status());
  }
  if (!status.ok() || !IsFinal(status->state())) {
    status = WatchJobWithReconnect(
        **client, options.job_id, *reconnect, [](const v1::JobStatus&) {}, PrintNotice);
    if (!status.ok()) return ReportError(status.status());
  }
  std::cout << status->job_id() << " " << StateName(status->state()) << std::endl;
  std::cerr << FormatJobFailure(*status) << std::flush;
  return ExitCodeForJob(*status);
}

int CancelCommand(const JobOptions& options) {
  absl::StatusOr<std::unique_ptr<MasterClient>> client = ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<v1::JobStatus> status = (*client)->CancelJob(options.job_id, absl::Seconds(30));
  if (!status.ok()) return ReportError(status.status());
  std::cout << status->job_id() << " " << StateName(status->state()) << std::endl;
  return kExitSuccess;
}

int JobsCommand(const ListOptions& options) {
  absl::StatusOr<std::unique_ptr<MasterClient>> client = ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<v1::ListJobsResponse> jobs = (*client)->ListJobs(options.page_size);
  if (!jobs.ok()) return ReportError(jobs.status());
  if (options.json) {
    for (const v1::JobStatus& job : jobs->jobs()) {
      std::cout << ToJsonLine(job) << "\n";
    }
  } else {
    std::cout << FormatJobsTable(jobs->jobs(), absl::Now());
  }
  std::cout << std::flush;
  return kExitSuccess;
}

int WorkersCommand(const ListOptions& options) {
  absl::StatusOr<std::unique_ptr<MasterClient>> client = ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<v1::ListWorkersResponse> workers = (*client)->ListWorkers();
  if (!workers.ok()) return ReportError(workers.status());
  if (options.json) {
    for (const v1::WorkerInfo& worker : workers->workers()) {
      std::cout << ToJsonLine(worker) << "\n";
    }
  } else {
    std::cout << FormatWorkersTable(workers->workers(), absl::Now());
  }
  std::cout << std::flush;
  return kExitSuccess;
}

int CallCommand(const CallOptions& options) {
  if (!(options.timeout_seconds >= 0)) {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat("--timeout: must be >= 0 seconds, got ", options.timeout_seconds)));
  }
  v1::CallRequest request;
  request.set_handler(options.handler);
  request.set_timeout_seconds(options.timeout_seconds);
  request.set_idempotent(options.idempotent);
  if (options.payload_from_stdin) {
    request.set_payload(
        std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()));
  } else {
    request.set_payload(options.payload);
  }
  absl::StatusOr<std::unique_ptr<MasterClient>> client = ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<std::string> answer = (*client)->Call(request);
  if (!answer.ok()) {
    // The code matters to scripts (retry on UNAVAILABLE, not on NOT_FOUND).
    const absl::Status& why = answer.status();
    return ReportError(absl::Status(
        why.code(), absl::StrCat(absl::StatusCodeToString(why.code()), ": ", why.message())));
  }
  std::cout << *answer << std::flush;
  return kExitSuccess;
}

int LogsCommand(const LogsOptions& options) {
  absl::StatusOr<std::unique_ptr<MasterClient>> client = ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  // Which attempts: the one named, else every failed attempt of the job.
  std::vector<std::pair<std::string, int32_t>> attempts;
  if (!options.task_id.empty()) {
    attempts.emplace_back(options.task_id, options.attempt);
  } else {
    v1::ListTasksRequest request;
    request.set_job_id(options.job_id);
    request.set_failed_only(true);
    absl::StatusOr<v1::ListTasksResponse> tasks = (*client)->ListTasks(request);
    if (!tasks.ok()) return ReportError(tasks.status());
    for (const v1::TaskInfo& task : tasks->tasks()) {
      for (const v1::AttemptInfo& a : task.attempts()) {
        if (a.state() == v1::ATTEMPT_FAILED) attempts.emplace_back(task.task_id(), a.attempt());
      }
    }
    if (attempts.empty()) {
      std::cerr << "ampmr: job " << options.job_id
                << " has no failed attempt; name a task: ampmr logs " << options.job_id
                << " TASK_ID (m0, r1, ...)\n";
      return kExitSuccess;
    }
  }
  int exit_code = kExitSuccess;
  for (const auto& [task_id, attempt] : attempts) {
    v1::GetTaskLogRequest request;
    request.set_job_id(options.job_id);
    request.set_task_id(task_id);
    request.set_attempt(attempt);
    absl::StatusOr<v1::TaskLog> log = (*client)->GetTaskLog(request);
    if (!log.ok()) {
      exit_code = ReportError(log.status());
      continue;
    }
    // A header per attempt when there are several, like tail(1).
    if (attempts.size() > 1) {
      std::cout << "==> " << log->attempt_id() << " on " << log->worker_id() << " <==\n";
    }
    if (log->truncated()) std::cout << "[... earlier stderr cut to keep the cap ...]\n";
    std::cout << log->text();
    if (!log->text().empty() && log->text().back() != '\n') std::cout << "\n";
  }
  std::cout << std::flush;
  return exit_code;
}

}  // namespace ampmr::client
