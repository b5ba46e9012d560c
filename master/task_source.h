// TaskSource: a job as the Scheduler sees it. The scheduler holds the job's
// waiting tasks in order and decides which job gets the next free slot; the
// job decides whether a task may start now and how an attempt begins.
// JobRun is the real one; scheduler tests use fakes.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_TASK_SOURCE_H_
#define AMPMR_MASTER_TASK_SOURCE_H_

#include "master/task.h"
#include "master/worker_registry.h"

namespace ampmr::master {

class TaskSource {
 public:
  virtual ~TaskSource() = default;

  // Among jobs competing for slots, higher priorities get them first.
  // Constant while the job has tasks queued.
  virtual int priority() const = 0;
  // Whether `task` may start now (a reduce waits while a map output it needs
  // is being made again).
  virtual bool CanStart(const Task& task) const = 0;
  // Begins an attempt of `task` on `worker`, which has room for it. The job
  // tells the scheduler when it ends (Scheduler::AttemptEnded).
  virtual void StartAttempt(Task* task, WorkerState* worker) = 0;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_TASK_SOURCE_H_
