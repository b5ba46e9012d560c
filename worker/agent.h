// Agent: the worker's side of its session with the master, and every decision
// the worker makes. On each new session it says Hello (slots, handlers, the
// map outputs it holds) and, once Welcomed, heartbeats (the statuses of running
// attempts, and the CPU and memory of the worker's process tree). It answers
// the master's commands:
//   JobContext         a job's context, kept for the session (Hello says the
//                      worker reads them);
//   RunMap, RunReduce  completed with their job's context if they came
//                      without it (a TaskContext with no mapper; failed with
//                      FAILED_PRECONDITION naming the job if there is none),
//                      to the TaskRunner, refused with UNAVAILABLE while
//                      draining; answered when the attempt ends (its
//                      framework counters by name unless the Welcome said
//                      the master reads them as numbers). An attempt
//                      naming shipped files waits for the job's files: the
//                      first asks the master (GetJobFiles, once per job
//                      however many attempts wait) and keeps them in the
//                      JobFileStore; if that fails, each waiting attempt
//                      fails with ABORTED naming the job;
//   AddMapOutputs      more inputs of a reduce attempt started early (slow
//                      start), to the TaskRunner, or to the attempt while it
//                      waits for its job's files;
//   Cancel             of an attempt to the TaskRunner, of a call to the
//                      CallHandlers;
//   Call               to the CallHandlers, on the thread that read it;
//   ForgetJob          drops the job's context, deletes its map outputs from
//                      the MapOutputStore and its files from the
//                      JobFileStore, has the TaskRunner let go of what it
//                      keeps for the job (and, once the master forgot the
//                      job, its stderr logs);
//   GetTaskLog         an attempt's kept stderr, from the TaskRunner;
//   Heartbeat          answered at once.
// When a session ends, attempts and queued calls it sent are cancelled (the
// master runs them elsewhere) and every job's context and files, and what the
// TaskRunner keeps for them, are forgotten (a new master may reuse job ids).
// Drain tells the master, refuses new attempts and gives queued ones back.
//
// It reaches the master only through the amp::Session it is handed (a new one
// per connection; see MasterLink), and execution only through TaskRunner and
// CallHandlers, so tests run it on a FakeLoop with fakes of all three.
//
// Thread-safety: loop thread only, except that answers to attempts and calls
// go straight from the threads that finish them into the session's Reply.
#ifndef AMPMR_WORKER_AGENT_H_
#define AMPMR_WORKER_AGENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/amp/deferred.h"
#include "common/amp/session.h"
#include "common/loop.h"
#include "worker/call_handlers.h"
#include "worker/job_file_store.h"
#include "worker/map_output_store.h"
#include "worker/process_usage.h"
#include "worker/task_runner.h"

namespace ampmr::worker {

struct AgentOptions {
  // What Hello tells the master about this worker.
  std::string host;
  std::string shuffle_address;  // where other workers fetch its map outputs
  int slots = 1;
  int64_t pid = 0;
  // What each heartbeat says the worker's process tree uses; null: nothing.
  std::function<UsageSample()> usage;
  // Heartbeat period until the master's Welcome says otherwise.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  // How long Drain waits for the master to acknowledge before it gives back
  // the queued attempts anyway.
  absl::Duration drain_ack_timeout = absl::Seconds(2);
};

class Agent {
 public:
  // Every pointer must outlive the agent.
  Agent(Loop* loop, TaskRunner* runner, CallHandlers* calls, MapOutputStore* store,
        JobFileStore* files, AgentOptions options);
  ~Agent();

  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // A new session with the master, its stream not yet reading: registers the
  // responders and says Hello. Fires with the worker id the master gave, or
  // why the master did not welcome it. `session` must stay alive until
  // Detach.
  amp::Deferred<std::string> Attach(amp::Session* session);
  // The session ended, with `why`; it is destroyed after this returns.
  void Detach(const absl::Status& why);

  // Tells the master this worker is going, refuses new attempts from now on,
  // gives back queued ones once the master has heard (or after
  // drain_ack_timeout), then runs `given_back`. Running attempts go on.
  void Drain(std::function<void()> given_back);

 private:
  void OnWelcome(const v1::Welcome& welcome);
  void SendHeartbeat();
  void RunMap(v1::RunMap run, amp::Session::Reply reply);
  void RunReduce(v1::RunReduce run, amp::Session::Reply reply);
  void AddMapOutputs(const v1::AddMapOutputs& more);
  // Fills a task's context that came without its job's fields (no mapper)
  // from the JobContext the master sent before it; FAILED_PRECONDITION
  // naming the job and attempt if none came. A whole context is left as is.
  absl::Status AddJobContext(v1::TaskContext* task) const;
  // Whether `task` can start now as far as shipped files go: it names none,
  // or its job's are here.
  bool HasJobFiles(const v1::TaskContext& task) const;
  // Runs `start` with `reply` for `task`'s attempt: at once if it names no
  // shipped files or they are here, else once they are; answers for it
  // instead if the worker drains, the files cannot be had, or the master
  // cancels the attempt meanwhile.
  void StartWithFiles(const v1::TaskContext& task, amp::Session::Reply reply,
                      std::function<void(amp::Session::Reply)> start);
  // Runs `start` once the job's files are in files_ (GetJobFiles answered),
  // or with why they are not.
  void WaitForJobFiles(const std::string& job_id, std::function<void(absl::Status)> start);
  void ForgetJob(const std::string& job_id);
  void Cancel(const v1::Cancel& cancel);
  // On the thread that read the call.
  void RunCall(v1::Call call, amp::Session::Reply reply);
  v1::Command Hello() const;

  // Constant after construction.
  Loop* const loop_;
  TaskRunner* const runner_;
  CallHandlers* const calls_;
  MapOutputStore* const store_;
  JobFileStore* const files_;
  const AgentOptions options_;

  // Loop thread only.
  amp::Session* session_ = nullptr;  // the current session, if any
  std::string worker_id_;            // empty until Welcomed
  // The master reads attempts' framework counters as numbers (its Welcome
  // said so); else they are sent by name.
  bool framework_counters_ = false;
  absl::Duration heartbeat_interval_;
  Loop::TimerId heartbeat_timer_ = 0;
  bool draining_ = false;  // no new attempts: the worker is about to go
  // The contexts of this session's jobs (Command.job_context), by job id,
  // until ForgetJob names the job or the session ends.
  std::map<std::string, v1::TaskContext> job_contexts_;
  // Attempts waiting for their job's files, by job, while GetJobFiles is
  // asked. Shared with that call's callback, which only keeps the files it
  // got if its entry is still here (not forgotten, not another session's).
  using FileWaiters = std::vector<std::function<void(absl::Status)>>;
  std::map<std::string, std::shared_ptr<FileWaiters>> waiting_for_files_;
  // Their attempt ids; Cancel takes an attempt out.
  std::set<std::string> waiting_attempts_;
  // The reduce attempts among them: inputs that arrive meanwhile are added to
  // what the runner will get.
  std::map<std::string, std::shared_ptr<v1::RunReduce>> reduces_waiting_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_AGENT_H_
