// StreamingProcess runs one Hadoop Streaming command for a task attempt and
// moves data through it: the task writes input with Write() and ends it with
// Finish(); meanwhile every stdout line goes to an Emitter (EmitLine) and
// stderr is read by a StderrReporter (counters to the same Emitter, the rest
// kept for error messages).
//
// Both directions move at once: while input is being written, one poll()
// loop over stdin, stdout and stderr (all non-blocking) also drains the
// output, so a child that writes a lot before it has read all of its input
// never deadlocks with us. Pipes are 1 MiB and read and written in big
// blocks; the per-line cost is a short scan (FindByte) and a virtual call.
//
// A child may exit (or close stdin) before it has read all its input; the
// rest is dropped and, if it exited with status 0, that is a success. The
// calling thread blocks SIGPIPE around its writes and swallows the one an
// early exit raises, so this also works in a process that has not set
// SIGPIPE to SIG_IGN.
//
// Stopping: the loop wakes at least every 100 ms to check the attempt's
// cancel flag and progress clock; cancelling, or no progress (input taken,
// output or stderr read) for --task-timeout, kills the whole process group
// (SIGTERM, then SIGKILL after a grace period), as does destroying the
// object early.
//
// Not thread-safe; one task thread owns it.
#ifndef AMPMR_WORKER_TASK_STREAMING_PROCESS_H_
#define AMPMR_WORKER_TASK_STREAMING_PROCESS_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "worker/task/emitter.h"
#include "worker/task/line_reader.h"
#include "worker/task/progress_clock.h"
#include "worker/task/refill_pacer.h"
#include "worker/task/stderr_log.h"
#include "worker/task/stderr_reporter.h"

namespace ampmr::worker {

struct StreamingOptions {
  // Run as /bin/sh -c command.
  std::string command;
  // The child's whole environment, "NAME=VALUE" strings.
  std::vector<std::string> env;
  // Checked while waiting; see the header comment. Must outlive the process.
  const std::atomic<bool>* cancelled = nullptr;
  // Touched as the child progresses; the process is stopped once it stalls.
  // Shared with the task feeding it. Null: no timeout.
  std::shared_ptr<ProgressClock> progress;
  // Where the command runs; empty: this process's working directory.
  std::string working_dir;
  // Every stderr line is kept here too (reporter lines included); null: not.
  std::shared_ptr<StderrLog> stderr_log;
  // Between SIGTERM and SIGKILL when stopping early.
  absl::Duration kill_grace = absl::Seconds(1);
  // Who the child runs as (--task-user); unset: the worker's user.
  std::optional<RunAs> run_as;
};

class StreamingProcess {
 public:
  // Starts the command. Fails only if /bin/sh cannot be started.
  static absl::StatusOr<std::unique_ptr<StreamingProcess>> Start(StreamingOptions options);

  StreamingProcess(const StreamingProcess&) = delete;
  StreamingProcess& operator=(const StreamingProcess&) = delete;
  // Kills the process group if Finish() did not run to the end.
  ~StreamingProcess();

  // Writes all of `data` to the child's stdin, handing its output to `out`
  // meanwhile; returns once the data is in the pipe, or dropped because the
  // child closed its stdin. Fails with CANCELLED or DEADLINE_EXCEEDED when
  // stopped, and with ABORTED if the child already exited unsuccessfully.
  absl::Status Write(absl::string_view data, Emitter* out);

  // Closes stdin, hands the rest of the output to `out`, and waits for the
  // child to exit. ABORTED unless it exited with status 0: the message says
  // how it ended, its last reporter:status if any, and the end of its
  // stderr, e.g.
  //   exited with status 1; stderr: Traceback (most recent call last): | ...
  absl::Status Finish(Emitter* out);

  // The last reporter:status message.
  const std::string& status_message() const { return reporter_.status(); }

 private:
  StreamingProcess(StreamingOptions options, std::unique_ptr<Subprocess> child);

  // The loop: moves *pending into stdin while reading stdout and stderr.
  // Returns when *pending is empty (finishing == false) or when both outputs
  // are at end of file and the child has exited (finishing == true).
  absl::Status Pump(absl::string_view* pending, bool finishing, Emitter* out);
  void ReadStdout(Emitter* out);
  void ReadStderr(Emitter* out);
  // Writes what fits; drops the rest if the child closed its stdin.
  void WriteStdin(absl::string_view* pending);
  // The bytes in the stdin pipe not yet read by the child; -1 without a
  // pacer or if the kernel cannot say.
  int StdinQueued() const;
  // Zero when stdin should be written now, else how long until it should
  // (see RefillPacer).
  absl::Duration StdinWait();
  // Kills the group and returns the error if cancelled or out of time.
  absl::Status CheckStop();
  // An error saying `what` happened, with the tail of stderr.
  absl::Status Failure(absl::StatusCode code, absl::string_view what) const;

  // Constant after construction (progress is filled in when null).
  StreamingOptions options_;
  // /bin/sh -c command, its stdin, stdout and stderr on non-blocking pipes.
  const std::unique_ptr<Subprocess> child_;

  LineReader stdout_;
  LineReader stderr_;
  StderrReporter reporter_;
  // Paces the writes to stdin; unset if the pipe's size is unknown (then
  // stdin is written whenever it has room).
  std::optional<RefillPacer> pacer_;
  bool stdin_dropped_ = false;  // the child closed its stdin early
  bool finished_ = false;       // Finish ran (maybe from Write, on an early exit)
  absl::Status finish_status_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_STREAMING_PROCESS_H_
