// ampmr-master: serves jobs to clients and tasks to workers until SIGTERM or
// SIGINT. Prints one line to stdout when it serves:
//   ampmr-master listening on HOST:PORT
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "common/cli_flags.h"
#include "common/logging.h"
#include "master/server.h"

int main(int argc, char** argv) {
  ampmr::SetLogProgramName("master");
  ampmr::master::MasterOptions options;
  double heartbeat_timeout = 10;
  ampmr::FlagSet flags(
      "ampmr-master [--listen ADDR] [--data-dir DIR]",
      "The ampmr master: accepts jobs from clients (JobService) and sessions from\n"
      "workers (WorkerSession), plans, schedules, gathers and commits jobs.");
  flags.String("listen", &options.listen, "ADDR",
               "gRPC address to serve clients and workers on; port 0 picks a free port");
  flags.String("data-dir", &options.data_dir, "DIR",
               "journal jobs in DIR/journal.db, so a master started again on DIR resumes "
               "them; none: jobs do not survive a restart")
      .DefaultText("none");
  flags.String("http", &options.http, "ADDR",
               "serve a status page (/) and Prometheus metrics (/metrics) over HTTP here")
      .DefaultText("none");
  flags.Double("heartbeat-timeout", &heartbeat_timeout, "SECS",
               "declare a worker lost after this long without a heartbeat");
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<std::vector<std::string>> positional = flags.Parse(args);
  if (!positional.ok()) {
    std::cerr << "ampmr-master: " << positional.status().message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return 0;
  }
  if (!positional->empty()) {
    std::cerr << "ampmr-master: unexpected argument " << (*positional)[0] << " (see --help)\n";
    return 2;
  }
  if (heartbeat_timeout <= 0) {
    std::cerr << "ampmr-master: --heartbeat-timeout: must be > 0\n";
    return 2;
  }
  options.coordinator.heartbeat_timeout = absl::Seconds(heartbeat_timeout);
  options.coordinator.heartbeat_interval =
      std::min(absl::Seconds(1), options.coordinator.heartbeat_timeout / 4);
  // A resumed job waits as long for a worker to come back with its outputs
  // as a running job waits for a silent worker's heartbeat.
  options.coordinator.rejoin_grace = options.coordinator.heartbeat_timeout;

  // Signals are taken by sigwait below, so block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = ampmr::master::MasterServer::Start(options);
  if (!server.ok()) {
    std::cerr << "ampmr-master: " << server.status().message() << "\n";
    return 1;
  }
  std::printf("ampmr-master listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  AMPMR_LOG(INFO) << "signal " << sig << ": shutting down";
  (*server)->Shutdown();
  return 0;
}
