// JobRun's answer to ListTasks: its tasks' states beside the attempts its
// AttemptLog recorded.
#include "absl/strings/str_cat.h"
#include "master/job_run.h"

namespace ampmr::master {
namespace {

v1::TaskState ToTaskState(Task::State state) {
  switch (state) {
    case Task::State::kPending:
      return v1::TASK_PENDING;
    case Task::State::kRunning:
      return v1::TASK_RUNNING;
    case Task::State::kDone:
      return v1::TASK_DONE;
    case Task::State::kFailed:
      return v1::TASK_FAILED;
    case Task::State::kCancelled:
      return v1::TASK_CANCELLED;
  }
  return v1::TASK_STATE_UNSPECIFIED;
}

}  // namespace

v1::ListTasksResponse JobRun::ListTasks(const v1::ListTasksRequest& request) const {
  if (restored_final_) {
    // The tasks are released once the job ended: what is left is the final
    // status and the attempt records, which say how each task ended.
    v1::ListTasksResponse response = attempts_.ListTasks(
        request, status_.map().total(), status_.reduce().total(),
        [](bool, int, v1::TaskInfo*) {});
    for (v1::TaskInfo& task : *response.mutable_tasks()) {
      bool done = status_.state() == v1::SUCCEEDED, failed = false;
      for (const v1::AttemptInfo& a : task.attempts()) {
        done = done || a.state() == v1::ATTEMPT_SUCCEEDED;
        failed = failed || a.state() == v1::ATTEMPT_FAILED;
      }
      task.set_state(done ? v1::TASK_DONE
                          : failed && status_.state() == v1::FAILED ? v1::TASK_FAILED
                                                                    : v1::TASK_CANCELLED);
    }
    return response;
  }
  return attempts_.ListTasks(
      request, static_cast<int>(maps_.size()), static_cast<int>(reduces_.size()),
      [this](bool reduce, int index, v1::TaskInfo* info) {
        const Task& task = reduce ? *reduces_[index] : *maps_[index];
        info->set_state(ToTaskState(task.state));
        if (!reduce) {
          info->set_input(absl::StrCat(inputs_[task.split.file], " bytes ", task.split.start,
                                       "+", task.split.length));
        }
      });
}

}  // namespace ampmr::master
