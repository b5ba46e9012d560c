// TaskRunner: where the worker's Agent sends the map and reduce attempts the
// master asks for. The real one (SlotTaskRunner) runs them on slot threads;
// tests use a FakeTaskRunner that records what it was asked and lets the test
// decide when attempts finish.
//
// Thread-safety: every method may be called from any thread (the Agent calls
// them on its loop). `done` callbacks run once, on whatever thread finished
// or dropped the attempt, never under a lock of the runner.
#ifndef AMPMR_WORKER_TASK_RUNNER_H_
#define AMPMR_WORKER_TASK_RUNNER_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ampmr/v1/session.pb.h"

namespace ampmr::worker {

class TaskRunner {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  virtual ~TaskRunner() = default;

  // Runs (or queues) one attempt. `done` gets its result or why it failed:
  // the task's error, CANCELLED (Cancel, CancelAll), UNAVAILABLE (given back
  // by GiveBackQueued), DEADLINE_EXCEEDED (no progress for the task's
  // timeout). Errors name the attempt. The runner keeps `run` (callers move
  // it in: a queued attempt costs no copy of its command).
  virtual void RunMap(v1::RunMap run, Done<v1::MapDone> done) = 0;
  virtual void RunReduce(v1::RunReduce run, Done<v1::ReduceDone> done) = 0;
  // More inputs of a reduce attempt started with more_inputs (slow start),
  // queued or running; unknown attempts are ignored.
  virtual void AddReduceInputs(const v1::AddMapOutputs& more) = 0;

  // Cancels one attempt, queued or running; unknown ids are ignored.
  virtual void Cancel(const std::string& attempt_id) = 0;
  // Cancels every attempt (the session that sent them is gone).
  virtual void CancelAll() = 0;
  // Answers every attempt that has not started with `why`; running ones go on.
  virtual void GiveBackQueued(const absl::Status& why) = 0;

  // What the next heartbeat says: (attempt id, last reporter:status line) of
  // the running attempts that said one. Called once per heartbeat, which is
  // also when the runner gives up on attempts stalled past their timeout.
  using AttemptStatuses = std::vector<std::pair<std::string, std::string>>;
  virtual AttemptStatuses Statuses() = 0;
  // Also for the next heartbeat: the fetches of reduce attempts started early
  // that failed since the last call while the attempt waits for another
  // location of that map output (each given once).
  virtual std::vector<v1::FetchFailure> FetchFailures() = 0;

  // What one attempt of the job wrote to stderr, as kept (capped, the tail
  // kept); NOT_FOUND if it wrote none here or was forgotten.
  virtual absl::StatusOr<v1::TaskLogText> TaskLog(const std::string& job_id,
                                                  const std::string& attempt_id) = 0;
  // Deletes the stderr kept for the job's attempts (the master forgot it).
  virtual void ForgetLogs(const std::string& job_id) = 0;
  // The job is over: what the runner keeps for its attempts (their open
  // input files) goes. ForgetAllJobs: every job's (a new session's master
  // may reuse job ids).
  virtual void ForgetJob(const std::string& job_id) = 0;
  virtual void ForgetAllJobs() = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_RUNNER_H_
