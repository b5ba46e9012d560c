// ampmr-master: serves jobs to clients and tasks to workers until SIGTERM or
// SIGINT. Prints one line to stdout when it serves:
//   ampmr-master listening on HOST:PORT
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include "common/cli_flags.h"
#include "common/grpc_log.h"
#include "common/logging.h"
#include "common/mutex_mode.h"
#include "common/security_flags.h"
#include "common/stop_signals.h"
#include "master/server.h"

int main(int argc, char** argv) {
  ampmr::UseReleaseMutexes();
  ampmr::SetLogProgramName("master");
  ampmr::RouteGrpcLogs(/*quiet=*/false);
  ampmr::master::MasterOptions options;
  double heartbeat_timeout = 10;
  ampmr::FlagSet flags(
      "ampmr-master [--listen ADDR] [--data-dir DIR] [--token-file FILE]",
      "The ampmr master: accepts jobs from clients (JobService) and sessions from\n"
      "workers (WorkerSession), plans, schedules, gathers and commits jobs.");
  flags.String("listen", &options.listen, "ADDR",
               "gRPC address to serve clients and workers on; port 0 picks a free port");
  flags
      .String("data-dir", &options.data_dir, "DIR",
              "journal jobs in DIR/journal.db, so a master started again on DIR resumes "
              "them; none: jobs do not survive a restart")
      .DefaultText("none");
  flags
      .String("http", &options.http, "ADDR",
              "serve a status page (/) and Prometheus metrics (/metrics) over HTTP here")
      .DefaultText("none");
  flags.Double("heartbeat-timeout", &heartbeat_timeout, "SECS",
               "declare a worker lost after this long without a heartbeat");
  ampmr::AddSecurityFlags(&flags, &options.security, ampmr::SecurityRole::kServer);
  flags.Int64("max-tasks", &options.max_tasks, "N",
              "refuse a job that would have more than N tasks (map splits and reduces)");
  flags.Double("reduce-slowstart", &options.coordinator.reduce_slowstart, "F",
               "start a job's reduces once this fraction of its maps is done (on slots no map "
               "wants; they fetch map outputs while the other maps run), as Hadoop's "
               "mapreduce.job.reduce.slowstart.completedmaps; 1: once every map is done; a job's "
               "own --reduce-slowstart comes first");
  flags.Int32("keep-jobs", &options.coordinator.keep_jobs, "N",
              "finished jobs kept in memory; older ones are forgotten (`ampmr status` still "
              "answers for them from the journal under --data-dir)");
  if (std::optional<int> exit_code = flags.ParseFlagsOnly("ampmr-master", argc, argv)) {
    return *exit_code;
  }
  if (heartbeat_timeout <= 0) {
    std::cerr << "ampmr-master: --heartbeat-timeout: must be > 0\n";
    return 2;
  }
  if (!(options.coordinator.reduce_slowstart >= 0 && options.coordinator.reduce_slowstart <= 1)) {
    std::cerr << "ampmr-master: --reduce-slowstart: must be between 0 and 1\n";
    return 2;
  }
  if (options.coordinator.keep_jobs < 0) {
    std::cerr << "ampmr-master: --keep-jobs: must be >= 0\n";
    return 2;
  }
  if (options.max_tasks < 2) {
    std::cerr << "ampmr-master: --max-tasks: must be >= 2 (a map and a reduce)\n";
    return 2;
  }
  options.coordinator.heartbeat_timeout = absl::Seconds(heartbeat_timeout);
  options.coordinator.heartbeat_interval =
      std::min(absl::Seconds(1), options.coordinator.heartbeat_timeout / 4);
  // A resumed job waits as long for a worker to come back with its outputs
  // as a running job waits for a silent worker's heartbeat.
  options.coordinator.rejoin_grace = options.coordinator.heartbeat_timeout;

  // Before any thread starts, so every thread inherits the mask.
  const sigset_t stop_signals = ampmr::BlockStopSignals();

  auto server = ampmr::master::MasterServer::Start(options);
  if (!server.ok()) {
    std::cerr << "ampmr-master: " << server.status().message() << "\n";
    return server.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::printf("ampmr-master listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);

  const int sig = ampmr::WaitForStopSignal(stop_signals);
  AMPMR_LOG(INFO) << "signal " << sig << ": shutting down";
  (*server)->Shutdown();
  return 0;
}
