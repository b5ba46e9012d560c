// JobRun: one job from planned splits to committed output (README "How it works").
//
//   Start -> (--total-order) sampling: a few tasks run the mapper over the
//            heads of some splits; their keys give the cut points (total_order.h)
//         -> map phase: one Task per split; the phase ends when every map is
//            done, and the first task out of attempts fails the job
//         -> reduce phase: R Tasks, each told where its partition of every
//            accepted map output lives; ends the same way. Reduces may start
//            during the map phase (slow start: once reduce_slowstart of the
//            maps are done, on slots no map wants; see Scheduler): they are
//            told the outputs accepted so far, then each one as it is
//            accepted (AddMapOutputs), the last saying so
//         -> commit: the accepted part files and _SUCCESS become the output
//            directory in one rename; or, on failure or cancel, the staged
//            output is removed.
//
// Reduce attempts write their part files in a staging directory beside the
// output; the accepted ones are assembled there and, when the whole job
// succeeded, renamed into place at once (OutputCommitter). Nothing partial
// ever has a final name.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_JOB_RUN_H_
#define AMPMR_MASTER_JOB_RUN_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "ampmr/v1/job.pb.h"
#include "ampmr/v1/session.pb.h"
#include "common/amp/deferred.h"
#include "common/loop.h"
#include "master/attempt_log.h"
#include "master/cluster_metrics.h"
#include "master/job_counters.h"
#include "master/journal.h"
#include "master/output_committer.h"
#include "master/scheduler.h"
#include "master/split_plan.h"
#include "master/task.h"
#include "master/task_source.h"
#include "master/worker_registry.h"

namespace ampmr::master {

class JobRun;

// What JobStatus shows instead of each env value.
inline constexpr char kHiddenEnvValue[] = "(hidden)";

struct JobEnv {
  Loop* loop = nullptr;
  Scheduler* scheduler = nullptr;
  WorkerRegistry* registry = nullptr;
  // Called after any change worth showing to watchers, and when the job ends.
  std::function<void(JobRun*)> on_change;
  // Where accepted tasks and the job's end are recorded (not committed: the
  // coordinator flushes it); null: nowhere, the job does not survive a restart.
  Journal* journal = nullptr;
  // Cumulative attempt metrics, shared by every job; null: none kept.
  ClusterMetrics* metrics = nullptr;
  // The fraction of a job's maps done before its reduces may start (Hadoop's
  // mapreduce.job.reduce.slowstart.completedmaps), unless its spec says;
  // 1: once every map is done.
  double reduce_slowstart = 0.05;
};

class JobRun : public TaskSource {
 public:
  // REQUIRES: `spec` validated and normalized; `splits` planned from it.
  JobRun(std::string id, v1::JobSpec spec, SplitPlan splits, JobEnv env);
  // A job that had ended before the master restarted: its final status only.
  JobRun(v1::JobStatus final_status, JobEnv env);
  ~JobRun() override;

  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  void Start();
  // Instead of Start(), for a job the journal says was running when the
  // master stopped (constructed from its journaled spec and splits): its
  // accepted reduces whose part files are committed are kept, its accepted map
  // outputs are awaited from reconnecting workers (see OnWorkerJoined) for up
  // to `rejoin_grace` and made again if not reported, and everything else runs
  // again. `boot` (the journal's) makes the new attempt ids unlike old ones.
  void Resume(const JournaledJob& journaled, int64_t boot, absl::Duration rejoin_grace);
  // A worker (re)connected: accepted map outputs it reports holding are used
  // where it serves them; those awaited from its address and not reported
  // are made again.
  void OnWorkerJoined(const WorkerState& worker);
  // Stops every attempt and ends the job CANCELLED. No-op once finished.
  void Cancel(const std::string& why);

  // TaskSource: the job's priority (JobSpec.priority); whether its reduces
  // may start (slow start; not while map outputs are awaited); begin an
  // attempt on `worker`; preempt an early reduce.
  int priority() const override { return status_.spec().priority(); }
  ReduceStart reduce_start() const override;
  void StartAttempt(Task* task, WorkerState* worker) override;
  bool PreemptEarlyReduce(const std::string& worker_id) override;

  // A worker is gone: the map outputs it held that a reduce may still need
  // are made again (the MapReduce paper's rule).
  void OnWorkerLost(const std::string& worker_id);
  // Queues backup attempts for stragglers near the end of a phase: an
  // attempt running at least twice the phase's median attempt time and
  // `min_extra` beyond it, while nothing of this job waits in the queue; or,
  // while no attempt of the phase has finished, one running `without_median`.
  void LaunchBackups(absl::Duration min_extra, absl::Duration without_median);

  // A running attempt's last reporter:status line, shown in Status() while
  // it runs. False if `attempt_id` is not a running attempt of this job.
  bool SetAttemptStatus(const std::string& attempt_id, const std::string& status);
  // A reduce attempt started early, running on `worker_id`, could not fetch
  // a map output and waits for another: that output is made again now (as
  // when a reduce fails its fetch). False if `failure.attempt_id()` is not a
  // running attempt of this job; ignored if it runs elsewhere or the output
  // named is no longer the map's.
  bool ReduceFetchFailed(const std::string& worker_id, const v1::FetchFailure& failure);

  // The files shipped with the job, with their contents (Status() lists
  // them without); empty once the job has ended.
  const google::protobuf::RepeatedPtrField<v1::ShippedFile>& files() const { return files_; }

  // Lets go of the tasks of a finished job, keeping only its final status.
  // Not from inside the job's own callbacks (they may still use the tasks).
  // REQUIRES: finished().
  void ReleaseTasks();

  // Every attempt this run started (not those before a master restart).
  const AttemptLog& attempts() const { return attempts_; }
  // A page of the job's tasks with their attempts (see ListTasksRequest).
  v1::ListTasksResponse ListTasks(const v1::ListTasksRequest& request) const;

  const std::string& id() const { return id_; }
  v1::JobState state() const { return status_.state(); }
  bool finished() const;
  // What clients, the status page and the journal's record of a finished job
  // see: the spec's env values are each kHiddenEnvValue (keys show).
  v1::JobStatus Status() const;

 private:
  // The job-level fields of its tasks' contexts (job_id too), with the cut
  // points or without.
  void AddJobFields(bool cut_points, v1::TaskContext* ctx) const;
  // Whether `worker`'s session has this job's context, sending it first if
  // it has not (once per session: WorkerState::job_contexts), so that a task
  // command may leave it out; false for a worker whose Hello did not say it
  // reads job contexts, and while sampling.
  bool HasJobContext(WorkerState* worker);
  // The command that runs `attempt_id` of `task`; `short_form`: its context
  // only names the job, task, attempt and partition (the worker has the job's).
  v1::Command MakeCommand(const Task& task, const std::string& attempt_id, bool short_form) const;
  // A map attempt's output as its answer describes it: one partition per
  // reduce, none at a negative offset or of negative length. Map-only jobs
  // and sampling tasks have no partitions to check.
  absl::Status CheckMapOutput(const Task& task, const v1::Answer& answer) const;
  void OnAttemptDone(Task* task, const std::string& attempt_id,
                     const absl::StatusOr<v1::Answer>& result);
  // Removes the attempt from the task and frees its slot. Returns false if the
  // attempt is no longer running (superseded, cancelled, already ended).
  bool EndAttempt(Task* task, const std::string& attempt_id, Attempt* ended);
  void FailAttempt(Task* task, const Attempt& attempt, const absl::Status& error);
  void AcceptAttempt(Task* task, const Attempt& attempt, const v1::Answer& answer);
  void CancelRunning(Task* task);
  // Stops one attempt that was removed from its task: frees its slot, tells
  // its worker, records it killed.
  void KillAttempt(Attempt* attempt);
  // Where reduce `partition`'s input from done map `map` is; false if it
  // has none (the map emitted nothing for it).
  bool LocationOf(const Task& map, int partition, v1::MapOutputLocation* loc) const;
  // Map `map` was accepted: tells the reduces waiting for map outputs where
  // its output is, and, once every map is done, that it was the last.
  void FeedReduces(const Task& map);
  void MarkMapOutputLost(Task* map);
  // Reduce `reduce` could not fetch `map`'s output (`error`): its holder may
  // be unreachable, and a done map is made again, at most max_attempts times.
  void OnFetchFailed(const Task& reduce, Task* map, const absl::Status& error);
  // The task and running attempt `attempt_id` names, or nullptr.
  std::pair<Task*, const Attempt*> FindRunning(const std::string& attempt_id) const;
  void StartPhase(std::vector<std::unique_ptr<Task>>* tasks, v1::JobState phase);
  // Ends the phase if every task of it is done.
  void MaybeEndPhase();
  // --total-order: starts the sampling tasks, and, when they are done,
  // computes the cut points.
  void StartSampling();
  void OnSamplingDone();
  // The tasks of the phase running now.
  std::vector<std::unique_ptr<Task>>* PhaseTasks();
  void OnPhaseDone();
  absl::Status CommitJob();
  void Finish(v1::JobState state, const std::string& error);
  std::string TaskLabel(const Task& task) const;
  // The index in holders_ of `worker_id` serving ShuffleService at `address`.
  int32_t HolderOf(const std::string& worker_id, const std::string& address);
  // Task states, and the flags reduces wait on, change only through these,
  // which keep tally_ in step with them.
  void SetState(Task* task, Task::State state);
  void SetOutputLost(Task* map, bool lost);
  // Resuming: takes back one journaled acceptance.
  void RestoreAccepted(const JournaledTask& accepted);
  // Ends the wait for a resumed map's output (its counters count from now):
  // found on `holder`, or (null) not needed any more.
  void StopAwaiting(Task* map, const WorkerState* holder);
  // The output will not come: the map runs again.
  void GiveUpAwaiting(Task* map);
  void OnRejoinGraceOver();

  const std::string id_;
  const JobEnv env_;
  std::string attempt_prefix_;   // attempt ids are PREFIX-TASK-aN
  bool restored_final_ = false;  // an ended job from the journal: status_ is all there is
  const OutputCommitter committer_;
  AttemptLog attempts_{env_.loop->Now(), env_.metrics};
  v1::JobStatus status_;  // spec (shipped files without contents), state, counters, error, times
  google::protobuf::RepeatedPtrField<v1::ShippedFile> files_;
  // --total-order: the sampling tasks while they run, and the cut points
  // every map task partitions by once they are known.
  std::vector<std::unique_ptr<Task>> samples_;
  bool sampling_ = false;
  std::vector<std::string> cut_points_;
  std::vector<std::string> sample_keys_;  // the sampling tasks' keys, while sampling
  std::vector<std::string> inputs_;       // the input files; a split names one by index
  std::vector<std::unique_ptr<Task>> maps_;
  std::vector<std::unique_ptr<Task>> reduces_;
  // Workers holding accepted map outputs (MapOutput.holder indexes them).
  struct Holder {
    std::string worker_id;
    std::string address;  // its ShuffleService
  };
  std::vector<Holder> holders_;
  absl::flat_hash_map<std::string, int32_t> holder_index_;  // by worker id
  // Resumed maps whose accepted outputs are awaited from reconnecting
  // workers, by index: the address of the holder, and the counters that count
  // once the output is found.
  struct Awaited {
    std::string address;
    std::map<std::string, int64_t> counters;
  };
  std::map<int, Awaited> awaited_;
  // How many tasks are in the states reported and waited on. (Running
  // attempts are counted by the scheduler, which starts them all.)
  struct Tally {
    int maps_done = 0;     // state kDone
    int reduces_done = 0;  // state kDone
    int samples_done = 0;  // state kDone
    int lost_maps = 0;     // output_lost: done maps whose output is being made again
  };
  Tally tally_;
  Loop::TimerId rejoin_timer_ = 0;
  std::vector<absl::Duration> phase_durations_;  // accepted attempts, this phase
  JobCounters counters_;
  // Running attempts that reported a status, by attempt id.
  std::map<std::string, v1::TaskStatus> task_statuses_;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_JOB_RUN_H_
