// RunMapTask runs one map attempt start to finish on the calling thread:
// read the split, run the mapper, partition/sort/combine/spill its output,
// and leave ONE map output file, <work_dir>/<attempt_id>.out, holding R
// partitions back to back (record_io.h format). No gRPC here: the worker's
// session code calls this from a slot thread and ships the MapDone.
//
// Thread-safe in that concurrent calls for different attempts share nothing.
#ifndef AMPMR_WORKER_TASK_MAP_TASK_H_
#define AMPMR_WORKER_TASK_MAP_TASK_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "ampmr/v1/session.pb.h"
#include "common/subprocess.h"
#include "worker/task/input_file_cache.h"
#include "worker/task/map_output.h"
#include "worker/task/progress_clock.h"
#include "worker/task/stderr_log.h"
#include "worker/task/split_reader.h"

namespace ampmr::worker {

struct MapTaskOptions {
  // What to run: task context (attempt id, mapper, combiner, reduces) and
  // the split.
  v1::RunMap run;

  // Where the map output and spill runs go; created if missing, by the first
  // file the attempt writes.
  std::string work_dir;

  // Bytes of buffered map output that trigger a spill.
  size_t buffer_limit = MapOutputOptions::kDefaultBufferLimit;

  // Size of each pread of the split.
  size_t read_block_size = SplitReader::kDefaultBlockSize;

  // Where the split's file is kept open across the job's attempts; null:
  // the attempt opens it and closes it when done. Must outlive the call.
  InputFileCache* input_files = nullptr;

  // If non-null, checked between chunks and while spilling (and by an exec
  // mapper or combiner while it waits); once it reads true the task stops
  // with CANCELLED, killing any child processes. Must outlive the call.
  const std::atomic<bool>* cancelled = nullptr;

  // --task-timeout's clock (progress_clock.h), shared with whoever watches
  // the attempt; null: one is made from the task's timeout_seconds. Touched
  // per block of input; an in-process mapper that stalls longer than the
  // timeout fails the task once its call returns.
  std::shared_ptr<ProgressClock> progress;

  // Where exec processes run (the attempt's working directory); empty: the
  // worker's own.
  std::string working_dir;

  // Where exec mappers and combiners keep their stderr; null: not kept.
  std::shared_ptr<StderrLog> stderr_log;
  // Who exec children run as (--task-user); unset: the worker's user.
  std::optional<RunAs> run_as;
};

// A map-only job (RunMap.output_dir set) writes the mapper's pairs, unsorted,
// as key<TAB>value lines to <output_dir>/part-NNNNN (NNNNN = the task's
// partition, i.e. the map index) instead; its MapDone has that output_path,
// no partitions, and input/output counters. The combiner is not run.
//
// A sampling task (RunMap.sample_bytes > 0, for --total-order) maps only
// the whole lines within the split's first sample_bytes and writes nothing:
// its MapDone has the attempt id and sample_keys, the keys the mapper
// emitted (up to KeySampler::kMaxSampleBytes of them).
//
// On success the output file exists and MapDone has the attempt id, its path,
// one PartitionInfo per reduce (in order; empty ones have length 0), the
// framework's counters in framework_counters (map_input_records,
// map_input_bytes, map_output_records, combine_input_records,
// combine_output_records, spilled_bytes) and the user counters in counters.
//
// On failure nothing is left behind in work_dir, and the error names the
// attempt and, where one is involved, the path:
//   attempt=j1-m3-a1: open /x/y: No such file or directory
//   attempt=j1-m3-a1: mapper exec:./m.py on /x/y: exited with status 1; stderr: ...
// Codes: INVALID_ARGUMENT (bad spec, reduces < 1, a mapper or combiner
// rejecting its input), ABORTED (an exec mapper or combiner that exited
// unsuccessfully or died of a signal), NOT_FOUND / FAILED_PRECONDITION (a
// plugin that cannot be loaded), CANCELLED, DEADLINE_EXCEEDED (the task
// timeout killed an exec task), FAILED_PRECONDITION (the input file is
// shorter than the split), and errno-derived codes for I/O.
absl::StatusOr<v1::MapDone> RunMapTask(const MapTaskOptions& options);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_MAP_TASK_H_
