// AttemptContext: what an exec or plugin task needs to know about the attempt
// it serves beyond its input: ids (for the mapreduce_* environment and the
// plugin Task), the split of a map task, the job's --env parameters, and when
// to stop (the cancel flag and the --task-timeout deadline).
//
// A plain value; the map and reduce task runners build one per attempt.
#ifndef AMPMR_WORKER_TASK_ATTEMPT_CONTEXT_H_
#define AMPMR_WORKER_TASK_ATTEMPT_CONTEXT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ampmr/v1/session.pb.h"

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

  // If non-null, an exec task polls it and, once it reads true, kills its
  // process group and fails with CANCELLED. Must outlive the task.
  const std::atomic<bool>* cancelled = nullptr;

  // --task-timeout: past `deadline` an exec task kills its process group and
  // fails with DEADLINE_EXCEEDED. timeout_seconds only serves messages.
  absl::Time deadline = absl::InfiniteFuture();
  double timeout_seconds = 0;

  // From a RunMap / RunReduce request, with the deadline counted from now.
  static AttemptContext ForTask(const v1::TaskContext& task, bool is_map,
                                const std::atomic<bool>* cancelled) {
    AttemptContext c;
    c.job_id = task.job_id();
    c.task_id = task.task_id();
    c.attempt_id = task.attempt_id();
    c.partition = task.partition();
    c.is_map = is_map;
    c.env.insert(task.env().begin(), task.env().end());
    c.cancelled = cancelled;
    c.timeout_seconds = task.timeout_seconds();
    if (c.timeout_seconds > 0) c.deadline = absl::Now() + absl::Seconds(c.timeout_seconds);
    return c;
  }
  static AttemptContext ForMap(const v1::RunMap& run, const std::atomic<bool>* cancelled) {
    AttemptContext c = ForTask(run.task(), true, cancelled);
    c.input_file = run.split().path();
    c.input_start = run.split().start();
    c.input_length = run.split().length();
    return c;
  }
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_ATTEMPT_CONTEXT_H_
