// Coordinator: all of the master's state, on one thread (README "How it works"). The
// gRPC adapters turn requests and worker boxes into calls on the coordinator's
// Loop; timers (heartbeat checks, backups, journal commits) run there too. Nothing here
// blocks or touches gRPC, so it runs the same under a FakeLoop in tests.
//
// Thread-safety: every method must be called on the loop thread, but Call
// (and calls() and call_stats(), which are thread-safe themselves).
#ifndef AMPMR_MASTER_COORDINATOR_H_
#define AMPMR_MASTER_COORDINATOR_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ampmr/v1/job.pb.h"
#include "ampmr/v1/session.pb.h"
#include "common/loop.h"
#include "master/call_router.h"
#include "master/call_stats.h"
#include "master/cluster_metrics.h"
#include "master/job_run.h"
#include "master/journal.h"
#include "master/scheduler.h"
#include "master/worker_registry.h"

namespace ampmr::master {

struct CoordinatorOptions {
  // How often workers send heartbeats, and how long without one (or any other
  // box) before a worker is declared lost.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  absl::Duration heartbeat_timeout = absl::Seconds(10);
  // Watchers see at most one progress event per this interval (phase changes
  // and the final state are sent at once).
  absl::Duration progress_interval = absl::Milliseconds(100);
  // A straggler gets a backup attempt once it has run at least twice its
  // phase's median attempt time and this much longer than the median.
  absl::Duration backup_min_extra = absl::Seconds(5);
  // While no attempt of its phase has finished (no median to compare with),
  // an attempt running this long gets a backup: it may be hung on a worker
  // that still heartbeats.
  absl::Duration backup_without_median = absl::Seconds(60);
  // Slow start: the fraction of a job's maps done before its reduces may
  // start (on slots no map wants; they fetch map outputs as maps finish).
  // Hadoop's mapreduce.job.reduce.slowstart.completedmaps; 1: only once every
  // map is done.
  double reduce_slowstart = 0.05;
  SchedulerOptions scheduler;
  CallRouterOptions calls;
  // Where jobs are journaled so that a restarted master resumes them (not
  // owned); null: nowhere. Writes are committed in groups: at most this long
  // after one, and at once when a job is submitted, changes phase or ends.
  Journal* journal = nullptr;
  absl::Duration journal_flush_interval = absl::Milliseconds(5);
  // How long a resumed job waits for workers to come back and report the
  // accepted map outputs they hold before making those outputs again.
  absl::Duration rejoin_grace = absl::Seconds(10);
  // Finished jobs kept in memory; older ones (by when they finished) are
  // forgotten, and answered for from the journal, if any.
  int keep_jobs = 1000;
};

class Coordinator {
 public:
  // Receives a job's status; `final` is true for the last event of a watch.
  using Watcher = std::function<void(const v1::JobStatus& status, bool final)>;

  Coordinator(Loop* loop, CoordinatorOptions options);
  ~Coordinator();

  // Rebuilds the jobs in the journal, if any: finished ones as history,
  // unfinished ones resumed (JobRun::Resume). Job ids continue after the
  // highest journaled. REQUIRES: before Start(), with no jobs or workers.
  absl::Status Recover();
  // Starts the heartbeat checks.
  void Start();
  // Stops intake: later submissions fail with UNAVAILABLE.
  void StopIntake() { accepting_ = false; }
  // Ends every worker session (at shutdown), so their streams finish now
  // rather than at the server's shutdown deadline.
  void CloseAllWorkers(const absl::Status& why);

  // REQUIRES: `spec` validated and normalized; `splits` planned from it.
  // `request_id` (may be empty) names the client's request: a later submit
  // with the same one gets this job's id back instead of a new job (see
  // JobForRequest). The last kMaxRequestIds are remembered.
  absl::StatusOr<std::string> SubmitJob(v1::JobSpec spec, SplitPlan splits,
                                        const std::string& request_id = "");
  // The job a submit with `request_id` made, if it is remembered.
  std::optional<std::string> JobForRequest(const std::string& request_id) const;
  static constexpr size_t kMaxRequestIds = 10000;
  // A forgotten job (see keep_jobs) is answered for from the journal.
  absl::StatusOr<v1::JobStatus> GetJob(const std::string& job_id) const;
  absl::StatusOr<v1::JobStatus> CancelJob(const std::string& job_id);
  // A page of the jobs kept in memory, oldest first, each without its input
  // list (input_count instead) and task statuses. INVALID_ARGUMENT for a
  // page token this master did not hand out.
  absl::StatusOr<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request) const;
  std::vector<v1::WorkerInfo> ListWorkers() const { return registry_.List(); }
  // The files shipped with a running job, for its workers. NOT_FOUND for a
  // job unknown or over.
  absl::StatusOr<v1::JobFiles> JobFiles(const std::string& job_id) const;

  // Calls `watcher` now with the job's status, then on progress, and a last
  // time with final=true. Returns an id for Unwatch (which a watcher whose
  // client went away must call).
  absl::StatusOr<int64_t> Watch(const std::string& job_id, Watcher watcher);
  void Unwatch(int64_t watch_id);

  // Worker sessions. `link` stays valid until RemoveWorker. `peer` is where
  // the session came from, as gRPC names it ("ipv4:10.0.0.2:41234"); a
  // worker advertising a loopback shuffle address from elsewhere is warned of.
  v1::Welcome AddWorker(const v1::Hello& hello, WorkerLink* link, const std::string& peer = "");
  void RemoveWorker(const std::string& worker_id, const absl::Status& why);
  void WorkerSeen(const std::string& worker_id);
  // A heartbeat's reporter:status lines of the worker's running attempts.
  void AttemptStatuses(const google::protobuf::RepeatedPtrField<v1::AttemptStatus>& statuses);
  // A heartbeat's failed fetches of reduces waiting for map outputs: the
  // outputs they name are made again.
  void FetchFailures(const std::string& worker_id,
                     const google::protobuf::RepeatedPtrField<v1::FetchFailure>& failures);
  // The worker is going away (SIGTERM): it gets no new attempts, and the
  // attempts it gives back do not count against --max-attempts.
  void DrainWorker(const std::string& worker_id);

  // Routes one call to a worker offering its handler (README "Calls"), from
  // any thread (the gRPC thread that received it); `done` runs once, with
  // the answer or why there is none: on this thread, the gRPC thread that
  // read the worker's answer, or this loop's (see CallRouter).
  void Call(v1::CallRequest request, CallRouter::Done done);
  const CallRouter& calls() const { return calls_; }

  // Jobs held in memory.
  size_t job_count() const { return jobs_.size(); }

  // What the cluster did, for ListTasks, GetTaskLog, the dashboard and
  // /metrics (README "Seeing what the cluster does"; coordinator_observe.cc). FindJob: null if
  // unknown.
  const JobRun* FindJob(const std::string& job_id) const;
  absl::StatusOr<v1::ListTasksResponse> ListTasks(const v1::ListTasksRequest& request) const;
  // Fetches an attempt's stderr from the worker that ran it; `done` runs
  // once, on this thread. FAILED_PRECONDITION if that worker is gone.
  using TaskLogDone = std::function<void(absl::StatusOr<v1::TaskLog>)>;
  void GetTaskLog(const v1::GetTaskLogRequest& request, TaskLogDone done);
  // A heartbeat's figures of the worker's process tree.
  void WorkerUsage(const std::string& worker_id, double cpu_percent, int64_t rss_bytes);
  const ClusterMetrics& metrics() const { return metrics_; }
  const CallStats& call_stats() const { return call_stats_; }

 private:
  JobEnv MakeJobEnv();
  void OnJobChange(JobRun* job);
  void NotifyWatchers(JobRun* job, bool final);
  void CheckHeartbeats();
  // After a job ends (not from inside its own callbacks): lets go of its
  // tasks, and forgets the oldest finished jobs beyond keep_jobs.
  void SweepFinished();
  // A job not in memory, from the journal: NOT_FOUND if it has none.
  absl::StatusOr<v1::JobStatus> ForgottenJob(const std::string& job_id) const;
  // Commits the journal's open transaction; logs the first failure.
  void FlushJournal();
  // Tells a (re)joining worker to delete the outputs it holds of jobs that
  // are over or unknown, and lets resumed jobs reuse the others.
  void TakeHeldOutputs(const WorkerState& worker);

  Loop* const loop_;
  const CoordinatorOptions options_;
  ClusterMetrics metrics_;
  CallStats call_stats_;  // outlives calls_, whose end reports to it
  WorkerRegistry registry_;
  Scheduler scheduler_;
  CallRouter calls_;
  std::atomic<bool> accepting_{true};  // read by Call on other threads
  int64_t next_job_ = 1;
  std::map<std::string, std::unique_ptr<JobRun>> jobs_;
  std::map<int64_t, std::string> job_order_;  // job number -> id, for ListJobs pages
  std::deque<std::string> finished_;          // jobs in memory that ended, oldest end first
  std::vector<std::string> to_release_;       // ended, tasks not yet let go of
  Loop::TimerId sweep_timer_ = 0;
  // request_id -> job id, and the ids in the order they came (oldest first
  // forgotten past kMaxRequestIds).
  absl::flat_hash_map<std::string, std::string> job_by_request_;
  std::deque<std::string> request_order_;
  struct Watch_ {
    std::string job_id;
    Watcher watcher;
  };
  std::map<int64_t, Watch_> watches_;
  int64_t next_watch_ = 1;
  // Jobs with progress not yet shown to watchers, and the last phase shown.
  std::map<std::string, bool> dirty_;
  std::map<std::string, v1::JobState> shown_state_;
  bool flush_scheduled_ = false;
  Loop::TimerId heartbeat_timer_ = 0;
  Loop::TimerId journal_timer_ = 0;  // the pending group commit
  bool journal_failed_ = false;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_COORDINATOR_H_
