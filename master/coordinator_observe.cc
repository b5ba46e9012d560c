// The coordinator's answers about what the cluster did: task and attempt
// records, attempts' stderr (fetched from workers), worker usage.
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "master/coordinator.h"

namespace ampmr::master {
namespace {

// "m12" -> map 12, "r3" -> reduce 3.
bool ParseTaskId(absl::string_view id, bool* reduce, int* index) {
  if (id.size() < 2 || (id[0] != 'm' && id[0] != 'r')) return false;
  *reduce = id[0] == 'r';
  return absl::SimpleAtoi(id.substr(1), index) && *index >= 0;
}

}  // namespace

const JobRun* Coordinator::FindJob(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : it->second.get();
}

absl::StatusOr<v1::ListTasksResponse> Coordinator::ListTasks(
    const v1::ListTasksRequest& request) const {
  const JobRun* job = FindJob(request.job_id());
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job ", request.job_id()));
  if (request.offset() < 0 || request.limit() < 0) {
    return absl::InvalidArgumentError("ListTasks: offset and limit must be >= 0");
  }
  return job->ListTasks(request);
}

void Coordinator::GetTaskLog(const v1::GetTaskLogRequest& request, TaskLogDone done) {
  const JobRun* job = FindJob(request.job_id());
  if (job == nullptr) {
    done(absl::NotFoundError(absl::StrCat("no job ", request.job_id())));
    return;
  }
  bool reduce = false;
  int index = 0;
  if (!ParseTaskId(request.task_id(), &reduce, &index)) {
    done(absl::InvalidArgumentError(
        absl::StrCat("task ", request.task_id(), ": want a task id such as m0 or r1")));
    return;
  }
  absl::StatusOr<v1::AttemptInfo> attempt =
      job->attempts().Find(reduce, index, request.attempt());
  if (!attempt.ok()) {
    done(absl::NotFoundError(absl::StrCat("job ", request.job_id(), ": ",
                                          attempt.status().message())));
    return;
  }
  WorkerState* worker = registry_.Find(attempt->worker_id());
  if (worker == nullptr) {
    done(absl::FailedPreconditionError(
        absl::StrCat("attempt ", attempt->attempt_id(), " ran on worker ", attempt->worker_id(),
                     ", which is gone; its stderr went with it")));
    return;
  }
  v1::Command command;
  command.mutable_get_task_log()->set_job_id(request.job_id());
  command.mutable_get_task_log()->set_attempt_id(attempt->attempt_id());
  worker->link->Call(std::move(command))
      .AddBoth([info = *attempt, done = std::move(done)](const absl::StatusOr<v1::Answer>& answer) {
        if (!answer.ok()) {
          done(absl::Status(answer.status().code(),
                            absl::StrCat("worker ", info.worker_id(), ", attempt ",
                                         info.attempt_id(), ": ", answer.status().message())));
          return;
        }
        if (!answer->has_task_log()) {
          done(absl::InternalError(absl::StrCat("worker ", info.worker_id(),
                                                " answered GetTaskLog without a log")));
          return;
        }
        v1::TaskLog log;
        log.set_attempt_id(info.attempt_id());
        log.set_worker_id(info.worker_id());
        log.set_text(answer->task_log().text());
        log.set_truncated(answer->task_log().truncated());
        done(std::move(log));
      });
}

void Coordinator::WorkerUsage(const std::string& worker_id, double cpu_percent,
                              int64_t rss_bytes) {
  if (WorkerState* w = registry_.Find(worker_id)) {
    w->cpu_percent = cpu_percent;
    w->rss_bytes = rss_bytes;
  }
}

}  // namespace ampmr::master
