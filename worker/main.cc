// ampmr-worker: dials the master, runs the tasks it sends, serves map outputs
// to other workers, until SIGTERM or SIGINT. Prints nothing on stdout.
#include <signal.h>

#include <iostream>
#include <optional>

#include "common/cli_flags.h"
#include "common/logging.h"
#include "common/mutex_mode.h"
#include "common/security_flags.h"
#include "common/stop_signals.h"
#include "worker/master_link.h"
#include "worker/task/group_reaper.h"
#include "worker/worker.h"

int main(int argc, char** argv) {
  ampmr::UseReleaseMutexes();
  ampmr::SetLogProgramName("worker");
  ampmr::worker::WorkerOptions options;
  if (const char* env = std::getenv("AMPMR_MASTER"); env != nullptr && *env != '\0') {
    options.master = env;
  }
  ampmr::FlagSet flags(
      "ampmr-worker [--master ADDR] [--slots N] [--work-dir DIR] [--token-file FILE]",
      "An ampmr worker: dials the master (reconnecting with backoff), runs map and\n"
      "reduce tasks in --slots slots, and serves its map outputs to reducers.");
  flags.String("master", &options.master, "ADDR", "the master's address")
      .DefaultText("$AMPMR_MASTER, else 127.0.0.1:7070");
  flags.Int32("slots", &options.slots, "N", "tasks run at once, and children per --handler");
  flags.String("work-dir", &options.work_dir, "DIR", "where map outputs and scratch files go; made 0700 (0711 with --task-user), so it must "
               "be the worker user's own, not writable by others")
      .DefaultText("a temporary directory, removed at exit");
  flags
      .String("shuffle-listen", &options.shuffle_listen, "ADDR",
              "where to serve map outputs to other workers; port 0 picks a free port")
      .DefaultText("this host's address toward --master, a free port");
  flags
      .String("advertise-host", &options.advertise_host, "HOST",
              "host name other workers use to reach this one")
      .DefaultText("the --shuffle-listen host, or the hostname for 0.0.0.0");
  double drain_grace = 30;
  flags.Double("drain-grace", &drain_grace, "SECS",
               "on SIGTERM, how long running tasks may take to finish before the worker exits");
  std::vector<std::string> handler_flags;
  flags.Repeated("handler", &handler_flags, "NAME=COMMAND",
                 "serve calls to NAME from --slots long-lived children of the shell COMMAND "
                 "(frames on fd 3 and 4, see README \"Calls\"), or builtin:echo");
  flags.Int64("handler-max-calls", &options.handler_max_calls, "N",
              "replace a handler child after it answered N calls; 0: never");
  flags
      .String("task-user", &options.task_user, "USER",
              "run exec tasks and handler children as USER and its groups (the worker must "
              "run as root); plugin: tasks, which run inside the worker, are then refused")
      .DefaultText("the worker's own user");
  ampmr::AddSecurityFlags(&flags, &options.security, ampmr::SecurityRole::kServer);
  if (std::optional<int> exit_code = flags.ParseFlagsOnly("ampmr-worker", argc, argv)) {
    return *exit_code;
  }
  for (const std::string& flag : handler_flags) {
    absl::StatusOr<ampmr::worker::HandlerSpec> spec = ampmr::worker::ParseHandlerSpec(flag);
    if (!spec.ok()) {
      std::cerr << "ampmr-worker: " << spec.status().message() << "\n";
      return 2;
    }
    options.handlers.push_back(std::move(*spec));
  }
  if (options.handler_max_calls < 0) {
    std::cerr << "ampmr-worker: --handler-max-calls: must be >= 0\n";
    return 2;
  }
  if (options.slots < 1) {
    std::cerr << "ampmr-worker: --slots: must be >= 1, got " << options.slots << "\n";
    return 2;
  }
  if (absl::Status s = ampmr::worker::CheckMasterAddress(options.master); !s.ok()) {
    std::cerr << "ampmr-worker: " << s.message() << "\n";
    return 2;
  }

  // First: it forks, and no thread may exist yet.
  if (absl::Status s = ampmr::worker::GroupReaper::Start(); !s.ok()) {
    std::cerr << "ampmr-worker: " << s.message() << "\n";
    return 1;
  }
  const sigset_t stop_signals = ampmr::BlockStopSignals();

  auto worker = ampmr::worker::Worker::Start(options);
  if (!worker.ok()) {
    std::cerr << "ampmr-worker: " << worker.status().message() << "\n";
    return worker.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  const int sig = ampmr::WaitForStopSignal(stop_signals);
  if (sig == SIGTERM) {
    AMPMR_LOG(INFO) << "SIGTERM: draining";
    (*worker)->Drain(absl::Seconds(drain_grace));
  }
  AMPMR_LOG(INFO) << "signal " << sig << ": shutting down";
  (*worker)->Shutdown();
  ampmr::worker::GroupReaper::Stop();
  return 0;
}
