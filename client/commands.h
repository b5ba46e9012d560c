// The ampmr subcommands (README "Using it"). main.cc parses the flags into these
// options; each command returns the process exit code (see exit_status.h).
// Results for people and scripts go to stdout; progress and errors to stderr.
#ifndef AMPMR_CLIENT_COMMANDS_H_
#define AMPMR_CLIENT_COMMANDS_H_

#include <cstdint>
#include <string>

#include "client/job_flags.h"
#include "common/security_flags.h"

namespace ampmr::client {

// `ampmr run`: one job on an embedded local cluster (run_command.cc).
struct RunOptions {
  JobFlags job;
  int32_t workers = 1;  // ampmr-worker processes, one slot each
};
int RunCommand(const RunOptions& options);

// How long `wait` and `submit --wait` keep reconnecting to a lost master
// (--reconnect-timeout); 0 disables reconnecting.
inline constexpr double kDefaultReconnectTimeoutSeconds = 60;

// `ampmr submit`: prints the job id alone on the first stdout line; with
// `wait`, then follows the job like `run`.
struct SubmitOptions {
  std::string master;
  SecurityOptions security;
  JobFlags job;
  bool wait = false;
  double reconnect_timeout_seconds = kDefaultReconnectTimeoutSeconds;
};
int SubmitCommand(const SubmitOptions& options);

// `ampmr status|wait|cancel JOB_ID`.
struct JobOptions {
  std::string master;
  SecurityOptions security;
  std::string job_id;
  bool json = false;                                                   // status only
  double reconnect_timeout_seconds = kDefaultReconnectTimeoutSeconds;  // wait only
};
int StatusCommand(const JobOptions& options);
int WaitCommand(const JobOptions& options);
int CancelCommand(const JobOptions& options);

// `ampmr jobs|workers`.
struct ListOptions {
  std::string master;
  SecurityOptions security;
  bool json = false;
  int32_t page_size = 0;  // jobs: per ListJobs page; 0: the master's default
};
int JobsCommand(const ListOptions& options);
int WorkersCommand(const ListOptions& options);

// `ampmr call --handler NAME [PAYLOAD | -]`: the answer's bytes on stdout.
struct CallOptions {
  std::string master;
  SecurityOptions security;
  std::string handler;
  double timeout_seconds = 0;  // 0: the master's default
  bool idempotent = false;
  std::string payload;
  bool payload_from_stdin = false;  // "-" was given
};
int CallCommand(const CallOptions& options);

// `ampmr logs JOB_ID [TASK_ID] [--attempt N]`: the stderr an attempt wrote,
// fetched from its worker through the master. Without TASK_ID, the job's
// failed attempts (or, if none failed, says how to name a task).
struct LogsOptions {
  std::string master;
  SecurityOptions security;
  std::string job_id;
  std::string task_id;  // empty: the failed attempts
  int32_t attempt = 0;  // 0: the task's last attempt
};
int LogsCommand(const LogsOptions& options);

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_COMMANDS_H_
