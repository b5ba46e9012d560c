// SlotTaskRunner: the real TaskRunner. Attempts run on the SlotPool's threads
// (never on the session loop or gRPC threads): maps through RunMapTask, their
// outputs registered in the MapOutputStore; reduces fetch their inputs with
// the ShuffleFetcher as their locations arrive (all at once, or, for a reduce
// started early, in steps: AddReduceInputs), then run RunReduceTask. An attempt that runs exec
// processes or names shipped files does so in a working directory of its own
// (JobFileStore::MakeAttemptDir), removed when it ends. A StallWatch watches
// every running attempt, for --task-timeout and for the statuses heartbeats
// carry. Map attempts read their splits' files through an InputFileCache,
// kept open until the job is forgotten. What an attempt's exec processes
// write to stderr is kept in work_dir/logs/JOB/ATTEMPT.stderr (StderrLog)
// until the master forgets the job.
//
// Thread-safe.
#ifndef AMPMR_WORKER_SLOT_TASK_RUNNER_H_
#define AMPMR_WORKER_SLOT_TASK_RUNNER_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "worker/job_file_store.h"
#include "worker/map_output_feed.h"
#include "worker/map_output_store.h"
#include "worker/shuffle_fetcher.h"
#include "worker/slot_pool.h"
#include "worker/stall_watch.h"
#include "worker/task/input_file_cache.h"
#include "worker/task/progress_clock.h"
#include "worker/task/stderr_log.h"
#include "worker/task_runner.h"

namespace ampmr::worker {

struct SlotTaskRunnerOptions {
  // Attempts run at once.
  int slots = 1;
  // Where map outputs, fetched inputs and scratch files go.
  std::string work_dir;
  // How long after an attempt's --task-timeout ran out the stall watch
  // answers for it, if the attempt has not stopped by itself.
  absl::Duration stall_grace = absl::Seconds(5);
  // What reduces fetch other workers' map outputs with; null: no token, no TLS.
  std::shared_ptr<const ClusterCredentials> credentials;
  // Who exec tasks run as (--task-user); unset: the worker's user. With it,
  // plugin: tasks (which would run inside the worker, as its user) are
  // refused with FAILED_PRECONDITION.
  std::optional<RunAs> run_as;
};

class SlotTaskRunner : public TaskRunner {
 public:
  // `store` and `files` must outlive the runner.
  SlotTaskRunner(const SlotTaskRunnerOptions& options, MapOutputStore* store,
                 const JobFileStore* files);
  ~SlotTaskRunner() override;  // Stop()s

  void RunMap(v1::RunMap run, Done<v1::MapDone> done) override;
  void RunReduce(v1::RunReduce run, Done<v1::ReduceDone> done) override;
  void AddReduceInputs(const v1::AddMapOutputs& more) override;
  void Cancel(const std::string& attempt_id) override;
  void CancelAll() override;
  void GiveBackQueued(const absl::Status& why) override;
  AttemptStatuses Statuses() override;
  std::vector<v1::FetchFailure> FetchFailures() override;
  absl::StatusOr<v1::TaskLogText> TaskLog(const std::string& job_id,
                                          const std::string& attempt_id) override;
  void ForgetLogs(const std::string& job_id) override;
  void ForgetJob(const std::string& job_id) override { input_files_.ForgetJob(job_id); }
  void ForgetAllJobs() override { input_files_.ForgetAll(); }

  // Waits until nothing runs or is queued, at most `timeout`; true if idle.
  bool WaitIdle(absl::Duration timeout) { return pool_.WaitIdle(timeout); }
  // Cancels everything and joins the slot threads.
  void Stop();

 private:
  // OK unless the attempt cannot run as --task-user (see run_as).
  absl::Status CheckRunsAsTaskUser(const v1::TaskContext& task) const;
  // On a slot thread: starts the attempt's progress clock and has `stalls_`
  // watch it until the caller removes it: for its --task-timeout, if it has
  // one, and for its status. A stalled attempt is answered with `fail`.
  std::shared_ptr<ProgressClock> Watch(const v1::TaskContext& task,
                                       std::function<void(const absl::Status&)> fail);

  // Where the attempt's stderr is kept: null unless it runs exec processes (or
  // keeping nothing, if its ids are not plain names).
  std::shared_ptr<StderrLog> StderrLogFor(const v1::TaskContext& task) const;
  // The feed of a reduce attempt queued or running, or null.
  std::shared_ptr<MapOutputFeed> FeedOf(const std::string& attempt_id);
  void EndFeed(const std::string& attempt_id);
  // Stops the feeds of every reduce attempt (they are all cancelled).
  void StopFeeds();

  const SlotTaskRunnerOptions options_;
  MapOutputStore* const store_;
  const JobFileStore* const files_;
  ShuffleFetcher fetcher_;
  StallWatch stalls_;
  InputFileCache input_files_;  // map attempts' splits' files, kept open per job
  std::mutex mu_;
  // Reduce attempts queued or running, and where their inputs arrive.
  std::map<std::string, std::shared_ptr<MapOutputFeed>> feeds_ ABSL_GUARDED_BY(mu_);
  SlotPool pool_;  // last: its threads use the members above
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_SLOT_TASK_RUNNER_H_
