// ampmr: the command line (README "Using it"). Picks the subcommand, declares and
// parses its flags into options, and runs it. Exit codes: exit_status.h.
#include <signal.h>
#include <stdlib.h>

#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/exit_status.h"
#include "client/job_flags.h"
#include "client/streaming_flags.h"
#include "common/cli_flags.h"
#include "common/grpc_log.h"
#include "common/mutex_mode.h"
#include "common/security_flags.h"
#include "common/version.h"

namespace ampmr::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kDefaultMaster[] = "127.0.0.1:7070";

constexpr char kUsage[] =
    "usage: ampmr COMMAND [flags] [args]\n"
    "\n"
    "Runs MapReduce jobs, on a local cluster of its own or on an "
    "ampmr-master.\n"
    "\n"
    "commands:\n"
    "  run      run one job on an embedded master and workers, then clean up\n"
    "  submit   submit a job to a master; prints the job id (--wait: follow "
    "it)\n"
    "  streaming  run a Hadoop Streaming command line (-input -output -mapper -D ...)\n"
    "  status   show a job's state, progress, counters and error\n"
    "  wait     block until a job ends; exit 0 if it succeeded, else 1\n"
    "  cancel   cancel a job and print its resulting state\n"
    "  jobs     list the master's jobs\n"
    "  workers  list the workers connected to the master\n"
    "  call     send one request to a worker handler, print the answer\n"
    "  logs     print the stderr a job's task attempts wrote\n"
    "\n"
    "`ampmr COMMAND --help` explains a command's flags; `ampmr --version`\n"
    "prints the version. Commands that talk to a master use --master ADDR,\n"
    "else $AMPMR_MASTER, else 127.0.0.1:7070.\n"
    "\n"
    "exit status: 0 success; 1 the job failed or the master could not be\n"
    "reached; 2 usage or validation error; 130/143 interrupted "
    "(SIGINT/SIGTERM).\n";

std::string DefaultMaster() {
  const char* env = getenv("AMPMR_MASTER");
  return env != nullptr && env[0] != '\0' ? env : kDefaultMaster;
}

// --master and the flags to reach it securely (--token-file, --tls-ca).
void AddMasterFlags(FlagSet* flags, std::string* master, SecurityOptions* security) {
  *master = DefaultMaster();
  flags->String("master", master, "ADDR", "the master's gRPC address, HOST:PORT")
      .DefaultText(absl::StrCat("$AMPMR_MASTER, else ", kDefaultMaster, "; here ", *master));
  AddSecurityFlags(flags, security, SecurityRole::kClient);
}

// --reconnect-timeout, for the commands that wait for a job on a master.
void AddReconnectFlag(FlagSet* flags, double* seconds) {
  flags->Double("reconnect-timeout", seconds, "SECS",
                "if the master goes away, keep reconnecting for up to SECS "
                "(0: fail at once)");
}

// The positional arguments a command takes.
struct Positional {
  size_t min = 0;
  size_t max = 0;
  const char* name = "";  // for "missing JOB_ID"
  const char* hint = "";  // appended to "unexpected argument"
};

// The job commands take no positional arguments.
constexpr Positional kNoneForJobs = {0, 0, "", ""};

// Parses `args` into `flags` and checks the positional arguments. Returns the
// exit code when the command must not run (help, bad usage).
std::optional<int> ParseCommandLine(FlagSet* flags, const Args& args, const Positional& want,
                                    Args* positional) {
  absl::StatusOr<Args> parsed = flags->Parse(args);
  if (!parsed.ok()) return ReportError(parsed.status());
  if (flags->help_requested()) {
    std::cout << flags->Help();
    return kExitSuccess;
  }
  if (flags->version_requested()) {
    std::cout << "ampmr " << kVersion << "\n";
    return kExitSuccess;
  }
  if (parsed->size() > want.max) {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", (*parsed)[want.max], "\"", want.hint)));
  }
  if (parsed->size() < want.min) {
    return ReportError(
        absl::InvalidArgumentError(absl::StrCat("missing ", want.name, " (see --help)")));
  }
  *positional = *std::move(parsed);
  return std::nullopt;
}

int Run(const Args& args) {
  RunOptions options;
  options.workers = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  FlagSet flags("ampmr run --input PATH... --output DIR --mapper SPEC [flags]",
                "Starts ampmr-master and ampmr-worker processes (from the folder of "
                "this\n"
                "executable) on ports the OS picks with a temporary directory, runs one\n"
                "job, prints its summary, and stops and removes them all however it "
                "ends.\n"
                "SPEC is builtin:NAME, exec:SHELL COMMAND or plugin:PATH.so. Relative\n"
                "paths are taken from the current directory.");
  AddJobFlags(&flags, &options.job);
  flags.Int32("workers", &options.workers, "N", "ampmr-worker processes to start, one slot each")
      .DefaultText(absl::StrCat("number of cores, here ", options.workers));
  Args positional;
  if (auto code = ParseCommandLine(&flags, args, kNoneForJobs, &positional)) {
    return *code;
  }
  return RunCommand(options);
}

int Submit(const Args& args) {
  SubmitOptions options;
  FlagSet flags("ampmr submit --input PATH... --output DIR --mapper SPEC [flags]",
                "Submits a job to a running master and prints its id alone on the first\n"
                "line of stdout. With --wait, then follows the job like `ampmr run`:\n"
                "progress on a terminal, a summary at the end, exit 0 only on success;\n"
                "a master restarted meanwhile is reconnected to (--reconnect-timeout).\n"
                "Relative paths are made absolute here, from the current directory.");
  AddMasterFlags(&flags, &options.master, &options.security);
  AddJobFlags(&flags, &options.job);
  flags.Bool("wait", &options.wait, "block until the job ends, like run");
  AddReconnectFlag(&flags, &options.reconnect_timeout_seconds);
  Args positional;
  if (auto code = ParseCommandLine(&flags, args, kNoneForJobs, &positional)) {
    return *code;
  }
  return SubmitCommand(options);
}

// The optional flags of status, wait and cancel.
struct JobCommandFlags {
  bool json = false;
  bool reconnect = false;
};

// status, wait and cancel: one JOB_ID.
int JobCommand(const Args& args, absl::string_view name, absl::string_view description,
               JobCommandFlags extra, const std::function<int(const JobOptions&)>& command) {
  JobOptions options;
  FlagSet flags(
      absl::StrCat("ampmr ", name, " [--master ADDR] JOB_ID", extra.json ? " [--json]" : "",
                   extra.reconnect ? " [--reconnect-timeout SECS]" : ""),
      std::string(description));
  AddMasterFlags(&flags, &options.master, &options.security);
  if (extra.json) {
    flags.Bool("json", &options.json, "print the JobStatus as one JSON line");
  }
  if (extra.reconnect) {
    AddReconnectFlag(&flags, &options.reconnect_timeout_seconds);
  }
  Args positional;
  if (auto code = ParseCommandLine(&flags, args, {1, 1, "JOB_ID"}, &positional)) {
    return *code;
  }
  options.job_id = positional[0];
  return command(options);
}

int ListCommand(const Args& args, absl::string_view name, absl::string_view description,
                const std::function<int(const ListOptions&)>& command) {
  ListOptions options;
  FlagSet flags(absl::StrCat("ampmr ", name, " [--master ADDR] [--json]"),
                std::string(description));
  AddMasterFlags(&flags, &options.master, &options.security);
  flags.Bool("json", &options.json, "one JSON object per line instead of a table");
  if (name == "jobs") {
    flags
        .Int32("page-size", &options.page_size, "N",
               "ask the master for N jobs at a time (all pages are listed)")
        .DefaultText("the master's, 100");
  }
  Args positional;
  if (auto code = ParseCommandLine(&flags, args, {}, &positional)) {
    return *code;
  }
  if (options.page_size < 0) {
    std::cerr << "ampmr: --page-size: must be >= 0\n";
    return kExitUsage;
  }
  return command(options);
}

int Call(const Args& args) {
  CallOptions options;
  FlagSet flags(
      "ampmr call --handler NAME [--master ADDR] [--timeout SECS] [PAYLOAD | "
      "-]",
      "Sends PAYLOAD (\"-\": stdin; none: empty) to a worker that offers the\n"
      "handler NAME and writes the answer's bytes to stdout unchanged.");
  AddMasterFlags(&flags, &options.master, &options.security);
  flags.String("handler", &options.handler, "NAME", "the handler to call").Required();
  flags
      .Double("timeout", &options.timeout_seconds, "SECS",
              "fail unless answered within SECS, queueing included")
      .DefaultText("the master's, 30");
  flags.Bool("idempotent", &options.idempotent,
             "the master may retry the call once on another child");
  Args positional;
  if (auto code = ParseCommandLine(&flags, args, {0, 1, "PAYLOAD"}, &positional)) {
    return *code;
  }
  if (!positional.empty()) {
    options.payload_from_stdin = positional[0] == "-";
    if (!options.payload_from_stdin) options.payload = positional[0];
  }
  return CallCommand(options);
}

// `ampmr streaming`: Hadoop Streaming's command line, on --master or an
// embedded cluster.
int Streaming(const Args& args) {
  absl::StatusOr<StreamingJob> parsed = ParseStreamingArgs(args);
  if (!parsed.ok()) return ReportError(parsed.status());
  if (parsed->help) {
    std::cout << kStreamingUsage;
    return kExitSuccess;
  }
  if (!parsed->master.empty()) {
    SubmitOptions options;
    options.master = parsed->master;
    options.job = parsed->job;
    options.wait = true;
    return SubmitCommand(options);
  }
  RunOptions options;
  options.job = parsed->job;
  options.workers = parsed->workers > 0
                        ? parsed->workers
                        : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  return RunCommand(options);
}

int Logs(const Args& args) {
  LogsOptions options;
  FlagSet flags("ampmr logs [--master ADDR] JOB_ID [TASK_ID] [--attempt N]",
                "Prints the stderr a task attempt wrote (kept by its worker, the last\n"
                "1 MiB of it, until the job's files are removed). TASK_ID is m0, r1, ...;\n"
                "without it, every failed attempt of the job, each under a header.");
  AddMasterFlags(&flags, &options.master, &options.security);
  flags.Int32("attempt", &options.attempt, "N", "which attempt of the task (1, 2, ...)")
      .DefaultText("the last");
  Args positional;
  if (auto code = ParseCommandLine(&flags, args, {1, 2, "JOB_ID"}, &positional)) {
    return *code;
  }
  if (options.attempt < 0) {
    return ReportError(absl::InvalidArgumentError("--attempt: must be >= 1"));
  }
  options.job_id = positional[0];
  if (positional.size() > 1) options.task_id = positional[1];
  return LogsCommand(options);
}

int Dispatch(const std::string& command, const Args& args) {
  if (command == "run") return Run(args);
  if (command == "streaming") return Streaming(args);
  if (command == "submit") return Submit(args);
  if (command == "status") {
    return JobCommand(args, "status", "Shows a job's state, progress, counters and error.",
                      {/*json=*/true, /*reconnect=*/false}, StatusCommand);
  }
  if (command == "wait") {
    return JobCommand(args, "wait",
                      "Blocks until the job ends and prints \"JOB_ID STATE\".\n"
                      "Exits 0 if it succeeded, else 1. A master restarted on\n"
                      "the same --data-dir resumes the job; wait reconnects to\n"
                      "it (see --reconnect-timeout).",
                      {/*json=*/false, /*reconnect=*/true}, WaitCommand);
  }
  if (command == "cancel") {
    return JobCommand(args, "cancel", "Cancels a job and prints \"JOB_ID STATE\" afterwards.", {},
                      CancelCommand);
  }
  if (command == "jobs") {
    return ListCommand(args, "jobs",
                       "Lists the master's jobs: id, state, map and reduce\n"
                       "tasks done/total, name (else mapper), age.",
                       JobsCommand);
  }
  if (command == "workers") {
    return ListCommand(args, "workers",
                       "Lists the live workers: id, host, pid, slots, running\n"
                       "and finished tasks, age of the last heartbeat, handlers.",
                       WorkersCommand);
  }
  if (command == "call") return Call(args);
  if (command == "logs") return Logs(args);
  std::cerr << "ampmr: unknown command \"" << command << "\"\n\n" << kUsage;
  return kExitUsage;
}

int Main(int argc, char** argv) {
  // A closed stdout (`ampmr jobs | head -1`) must not kill `run` before it
  // has stopped its children; writes just fail.
  signal(SIGPIPE, SIG_IGN);
  UseReleaseMutexes();
  RouteGrpcLogs(/*quiet=*/true);
  Args args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "-h" || command == "--help") {
    std::cout << kUsage;
    return kExitSuccess;
  }
  if (command == "--version") {
    std::cout << "ampmr " << kVersion << "\n";
    return kExitSuccess;
  }
  if (command == "help") {
    if (args.empty()) {
      std::cout << kUsage;
      return kExitSuccess;
    }
    return Dispatch(args[0], {"--help"});
  }
  return Dispatch(command, args);
}

}  // namespace
}  // namespace ampmr::client

int main(int argc, char** argv) { return ampmr::client::Main(argc, argv); }
