// AttemptContext: what an exec or plugin task needs to know about the attempt
// it serves beyond its input: ids (for the mapreduce_* environment and the
// plugin Task), the split of a map task, the job's --env parameters, and when
// to stop (the cancel flag and the --task-timeout progress clock).
//
// A plain value; the map and reduce task runners build one per attempt.
#ifndef AMPMR_WORKER_TASK_ATTEMPT_CONTEXT_H_
#define AMPMR_WORKER_TASK_ATTEMPT_CONTEXT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "ampmr/v1/session.pb.h"
#include "common/key_spec.h"
#include "common/subprocess.h"
#include "worker/task/progress_clock.h"
#include "worker/task/stderr_log.h"

namespace ampmr::worker {

struct AttemptContext {
  std::string job_id;
  std::string task_id;
  std::string attempt_id;
  int32_t partition = 0;  // the task index
  bool is_map = true;

  // The split (map tasks only).
  std::string input_file;
  int64_t input_start = 0;
  int64_t input_length = 0;

  // --env NAME=VALUE parameters.
  std::map<std::string, std::string> env;

  // The job's key fields and separator: an exec combiner's input lines are
  // key SEPARATOR value, so its output splits back the way it came in.
  KeySpec keys;

  // If non-null, an exec task polls it and, once it reads true, kills its
  // process group and fails with CANCELLED. Must outlive the task.
  const std::atomic<bool>* cancelled = nullptr;

  // --task-timeout: the attempt's tasks (mapper or reducer, combiner, their
  // exec children) share this clock, touch it as they progress and fail with
  // DEADLINE_EXCEEDED once it has not been touched for that long. Copies of
  // the context share it. Never null.
  std::shared_ptr<ProgressClock> progress = std::make_shared<ProgressClock>(0);

  // Where its exec processes run (the attempt's working directory, holding
  // the job's shipped files); empty: the worker's own.
  std::string working_dir;

  // Where its exec processes' stderr is kept for `ampmr logs`; null: not
  // kept. Copies of the context share it.
  std::shared_ptr<StderrLog> stderr_log;

  // Who its exec processes run as (--task-user); unset: the worker's user.
  std::optional<RunAs> run_as;

  // From a RunMap / RunReduce request, with the progress clock started now.
  // `progress` may be null: a clock for the task's timeout is made.
  static AttemptContext ForTask(const v1::TaskContext& task, bool is_map,
                                const std::atomic<bool>* cancelled,
                                std::shared_ptr<ProgressClock> progress) {
    AttemptContext c;
    c.job_id = task.job_id();
    c.task_id = task.task_id();
    c.attempt_id = task.attempt_id();
    c.partition = task.partition();
    c.is_map = is_map;
    c.env.insert(task.env().begin(), task.env().end());
    c.cancelled = cancelled;
    c.progress = progress != nullptr ? std::move(progress)
                                     : std::make_shared<ProgressClock>(task.timeout_seconds());
    return c;
  }
  static AttemptContext ForMap(const v1::RunMap& run, const std::atomic<bool>* cancelled,
                               std::shared_ptr<ProgressClock> progress) {
    AttemptContext c = ForTask(run.task(), true, cancelled, std::move(progress));
    c.input_file = run.split().path();
    c.input_start = run.split().start();
    c.input_length = run.split().length();
    return c;
  }
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_ATTEMPT_CONTEXT_H_
