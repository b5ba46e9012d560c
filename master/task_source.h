// TaskSource: a job as the Scheduler sees it. The scheduler holds the job's
// waiting tasks in order and decides which job gets the next free slot; the
// job decides whether a task may start now and how an attempt begins.
// JobRun is the real one; scheduler tests use fakes.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_TASK_SOURCE_H_
#define AMPMR_MASTER_TASK_SOURCE_H_

#include <string>

#include "master/task.h"
#include "master/worker_registry.h"

namespace ampmr::master {

class TaskSource {
 public:
  virtual ~TaskSource() = default;

  // Among jobs competing for slots, higher priorities get them first.
  // Constant while the job has tasks queued.
  virtual int priority() const = 0;
  // Whether the job's reduces may start now: not yet (too few maps done for
  // slow start, or map outputs awaited after a master restart), early (enough
  // maps are done and more are to come: a reduce started now holds its slot
  // while it waits for them), or as any task (every map is done).
  enum class ReduceStart { kNotYet, kEarly, kNow };
  virtual ReduceStart reduce_start() const = 0;
  // Begins an attempt of `task` on `worker`, which has room for it. The job
  // tells the scheduler when it ends (Scheduler::AttemptEnded).
  virtual void StartAttempt(Task* task, WorkerState* worker) = 0;
  // Stops the latest started of the job's early reduce attempts on worker
  // `worker_id` still waiting for map outputs, so that a map can have its
  // slot: not a failure, nothing counted; the reduce is queued again. False
  // if the job has none there.
  virtual bool PreemptEarlyReduce(const std::string& worker_id) = 0;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_TASK_SOURCE_H_
