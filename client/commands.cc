// The subcommands that talk to a running master. `run` is in run_command.cc.
#include "client/commands.h"

#include <iostream>
#include <iterator>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/exit_status.h"
#include "client/follow_job.h"
#include "client/job_report.h"
#include "client/master_client.h"
#include "client/reconnecting_watch.h"

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
  absl::StatusOr<std::unique_ptr<MasterClient>> client =
      ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<std::string> job_id = (*client)->SubmitJob(*spec);
  if (!job_id.ok()) return ReportError(job_id.status());
  // Alone on the first line, flushed at once: scripts read it while --wait
  // keeps going.
  std::cout << *job_id << std::endl;
  if (!options.wait) return kExitSuccess;
  absl::StatusOr<v1::JobStatus> final_status = FollowJob(**client, *job_id, *spec, *reconnect);
  if (!final_status.ok()) return ReportError(final_status.status());
  return ReportFinishedJob(*final_status);
}

int StatusCommand(const JobOptions& options) {
  absl::StatusOr<std::unique_ptr<MasterClient>> client =
      ConnectTo(options.master, options.security);
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
  absl::StatusOr<std::unique_ptr<MasterClient>> client =
      ConnectTo(options.master, options.security);
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
  absl::StatusOr<std::unique_ptr<MasterClient>> client =
      ConnectTo(options.master, options.security);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<v1::JobStatus> status = (*client)->CancelJob(options.job_id, absl::Seconds(30));
  if (!status.ok()) return ReportError(status.status());
  std::cout << status->job_id() << " " << StateName(status->state()) << std::endl;
  return kExitSuccess;
}

int JobsCommand(const ListOptions& options) {
  absl::StatusOr<std::unique_ptr<MasterClient>> client =
      ConnectTo(options.master, options.security);
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
  absl::StatusOr<std::unique_ptr<MasterClient>> client =
      ConnectTo(options.master, options.security);
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
  absl::StatusOr<std::unique_ptr<MasterClient>> client =
      ConnectTo(options.master, options.security);
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

}  // namespace ampmr::client
