// WorkerLink: the master's handle on one connected worker's session. The real
// one wraps an amp::Session; tests use fakes that hold the Deferreds so the
// test decides when and how each call is answered.
//
// Thread-safety: coordinator thread only, but for CallFromAnyThread.
#ifndef AMPMR_MASTER_WORKER_LINK_H_
#define AMPMR_MASTER_WORKER_LINK_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "ampmr/v1/session.pb.h"
#include "common/amp/deferred.h"
#include "common/amp/session.h"

namespace ampmr::master {

class WorkerLink {
 public:
  virtual ~WorkerLink() = default;
  // Asks the worker; fires with its answer or error, UNAVAILABLE if the link
  // breaks.
  virtual amp::Deferred<v1::Answer> Call(v1::Command command) = 0;
  // Asks the worker from any thread (amp::Session::CallFromAnyThread):
  // `answer` runs once, on the thread that read the worker's answer, or with
  // UNAVAILABLE when the link breaks; false (and `answer` never runs) if the
  // link is closed.
  virtual bool CallFromAnyThread(v1::Command command, amp::Session::ReadThreadAnswer answer) = 0;
  // Tells the worker, wanting no answer.
  virtual void Send(v1::Command command) = 0;
  // Drops the worker (for example after missed heartbeats).
  virtual void Close(const absl::Status& why) = 0;
};

// What tells a worker to drop a job's map outputs and shipped files, and with
// `logs` its attempts' stderr too (once the master forgets the job).
inline v1::Command ForgetJobCommand(const std::string& job_id, bool logs) {
  v1::Command command;
  command.mutable_forget_job()->set_job_id(job_id);
  command.mutable_forget_job()->set_logs(logs);
  return command;
}

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_WORKER_LINK_H_
