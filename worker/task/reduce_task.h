// RunReduceTask runs one reduce attempt on the calling thread: merge the
// attempt's inputs (partition r of every accepted map output, already on
// local disk), run the reducer, and write the part file's lines
// key<TAB>value\n to RunReduce.temp_path. The master renames temp_path into
// place once it accepts the attempt. No gRPC here: fetching remote map
// outputs is the transport layer's job, done before this is called.
//
// Thread-safe in that concurrent calls for different attempts share nothing.
#ifndef AMPMR_WORKER_TASK_REDUCE_TASK_H_
#define AMPMR_WORKER_TASK_REDUCE_TASK_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ampmr/v1/session.pb.h"
#include "common/subprocess.h"
#include "worker/task/progress_clock.h"
#include "worker/task/stderr_log.h"

namespace ampmr::worker {

// One sorted run to merge: bytes [offset, offset + length) of a local file
// (a fetched copy of a map output partition, or this worker's own output).
struct ReduceInput {
  std::string path;
  int64_t offset = 0;
  int64_t length = 0;
};

struct ReduceTaskOptions {
  // What to run: task context (attempt id, reducer) and temp_path. Its
  // `inputs` (remote locations) are not read here; see `inputs` below.
  v1::RunReduce run;

  // The local runs to merge, in map task order (equal keys keep this order).
  std::vector<ReduceInput> inputs;

  // If non-null, checked while merging; once it reads true the task stops
  // with CANCELLED. Must outlive the call.
  const std::atomic<bool>* cancelled = nullptr;

  // --task-timeout's clock (progress_clock.h), as for a map task; touched
  // per batch of records merged.
  std::shared_ptr<ProgressClock> progress;

  // Where an exec reducer runs (the attempt's working directory); empty: the
  // worker's own.
  std::string working_dir;

  // Where an exec reducer keeps its stderr; null: not kept.
  std::shared_ptr<StderrLog> stderr_log;
  // Who exec children run as (--task-user); unset: the worker's user.
  std::optional<RunAs> run_as;
};

// An empty task reducer means builtin:identity (the --reducer default).
// On success temp_path holds the whole output; ReduceDone has the attempt id,
// output_bytes, the framework's counters in framework_counters
// (reduce_input_groups, reduce_input_records, reduce_output_records,
// shuffled_bytes) and the user counters in counters. On failure
// temp_path is removed and the error names the attempt:
//   attempt=j1-r0-a1: sum: key "the": value "x" is not a 64-bit integer
// Codes: INVALID_ARGUMENT (bad spec or a reducer rejecting its input),
// ABORTED (an exec reducer that exited unsuccessfully or died of a signal),
// NOT_FOUND / FAILED_PRECONDITION (a plugin that cannot be loaded), DATA_LOSS
// (a corrupt or short input, naming the file and offset), CANCELLED,
// DEADLINE_EXCEEDED (the task timeout killed an exec reducer), errno-derived
// codes for I/O.
absl::StatusOr<v1::ReduceDone> RunReduceTask(const ReduceTaskOptions& options);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_REDUCE_TASK_H_
