// Scheduler: matches waiting tasks to free worker slots, sharing the slots
// among running jobs (README "How it works").
//
// Sharing: the next free slot goes to the job of highest priority that has a
// task able to start; among equal priorities, to the one with the fewest
// attempts running, and among those to the one that got a slot least
// recently (round robin). That is max-min fair: every job gets an equal share
// of the slots, and what one cannot use goes to the others. A waiting job is
// never passed over by one of its priority with as many running or more, so
// none starves. Within a job, maps start before reduces, each in the order
// they were queued.
//
// Slow start: a job's reduces may start before its maps are all done
// (TaskSource::reduce_start), but only on a slot that no queued map of any
// job can use: they are placed after every map that could be, on a slot idle
// now. Such an early reduce holds its slot while it waits for map outputs.
// Should a queued map then find no room where early reduces of its job hold
// slots it could use (its worker lost, a map output made again), the latest
// started of them is preempted (stopped and queued again, not counted) so
// that the map runs; another job's, only when early reduces hold every slot
// (nothing else would free one). So reduces waiting for maps never keep the
// maps from running.
//
// Pipelining: a worker takes up to slots * depth attempts at once; depth
// grows above 1 only while recent attempts are short, so tiny tasks are
// pipelined (the worker has the next one queued when it finishes one, and a
// round trip to the worker is not paid per task) while long tasks stay spread
// evenly over idle slots. Durations are the time attempts ran on their slots
// (as workers report it), so neither the network's latency nor the queueing
// that pipelining itself causes makes tasks look long.
//
// Cost: choosing the job is O(log jobs); choosing the worker is the
// registry's PickFree. Nothing scans all queued tasks, except a job whose
// head task cannot be placed (see Schedule).
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_SCHEDULER_H_
#define AMPMR_MASTER_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "master/task.h"
#include "master/task_source.h"
#include "master/worker_registry.h"

namespace ampmr::master {

struct SchedulerOptions {
  // Most attempts outstanding per slot when tasks are short.
  int max_pipeline_depth = 64;
  // Attempts shorter than this on average count as short.
  absl::Duration short_task = absl::Milliseconds(50);
};

class Scheduler {
 public:
  // `registry` outlives the scheduler.
  Scheduler(WorkerRegistry* registry, SchedulerOptions options)
      : registry_(registry), options_(options) {}

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `task` of `job` for an attempt, behind the job's other queued
  // tasks of its kind. REQUIRES: !task->queued; `job` stays valid until
  // RemoveJob(job).
  void Enqueue(TaskSource* job, Task* task);
  // Forgets `job`: drops its queued tasks (cancelled, failed or done).
  void RemoveJob(TaskSource* job);
  // An attempt this scheduler started for `job` has ended (answered, failed,
  // cancelled). No-op for a job already removed.
  void AttemptEnded(TaskSource* job);
  // Starts attempts while there are queued tasks and free slots.
  void Schedule();
  // Feeds the running average that decides the pipeline depth: how long an
  // attempt ran on its slot.
  void RecordAttemptDuration(absl::Duration d);

  // Attempts of `job` started and not yet ended.
  int running(const TaskSource* job) const;
  size_t queued() const { return queued_; }
  int depth() const;

 private:
  struct JobQueue {
    TaskSource* job = nullptr;
    uint64_t turn = 0;  // when it last got a slot (or arrived), for ties
    int running = 0;
    std::deque<Task*> maps;  // and sampling tasks
    std::deque<Task*> reduces;
    bool empty() const { return maps.empty() && reduces.empty(); }
  };
  // Orders jobs with queued tasks by who gets the next slot.
  struct Turn {
    int priority;
    int running;
    uint64_t turn;
    JobQueue* queue;
    bool operator<(const Turn& o) const {
      if (priority != o.priority) return priority > o.priority;
      if (running != o.running) return running < o.running;
      return turn < o.turn;
    }
  };
  Turn TurnOf(JobQueue* q) const { return {q->job->priority(), q->running, q->turn, q}; }
  // Changes `q` (its running count or tasks) while keeping turns_ in step.
  template <typename F>
  void Update(JobQueue* q, F change);
  // Workers `task` should not go to: those running an attempt of it, then
  // those it failed on and, for a map, unreachable ones; *busy: the former
  // are not none. Every worker, if that rules out all of them, is fine.
  std::vector<std::string> Avoid(const Task& task, bool* busy) const;
  bool MayUse(const Task& task, const std::string& worker_id) const;
  // A worker with room for `task`, or nullptr.
  WorkerState* Place(const Task& task, int depth);
  // Whether every registered worker is in `avoid` (then a task takes any).
  bool AvoidsEveryone(const std::vector<std::string>& avoid) const;
  // Starts the first task of `q` that can be placed: a map, else a reduce
  // that may start (an early one only if `early`, at depth 1); false if none
  // can.
  bool StartOne(JobQueue* q, int depth, bool early);
  // Starts the first task in `tasks` (of `q`) that can be placed at `depth`.
  bool StartFrom(JobQueue* q, std::deque<Task*>* tasks, int depth);
  // One round over the jobs by turn, while slots are free.
  void Round(int depth, bool early);
  // Preempts an early reduce holding a slot a queued map could use at
  // `depth`; false if there is none to preempt.
  bool Preempt(int depth);

  WorkerRegistry* const registry_;
  const SchedulerOptions options_;
  std::map<const TaskSource*, JobQueue> jobs_;
  std::set<Turn> turns_;  // jobs with queued tasks
  size_t queued_ = 0;
  uint64_t next_turn_ = 1;
  double average_seconds_ = 1.0;  // pessimistic until measured
  int64_t attempts_measured_ = 0;
  bool scheduling_ = false;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_SCHEDULER_H_
