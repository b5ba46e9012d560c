#include "worker/agent.h"

#include <unistd.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/framework_counters.h"
#include "common/logging.h"

namespace ampmr::worker {
namespace {

using Reply = amp::Session::Reply;

// The reply for one attempt's result: its MapDone or ReduceDone, or the
// error. `named`: the master takes the framework's counters by name only.
TaskRunner::Done<v1::MapDone> AnswerMap(Reply reply, bool named) {
  return [reply = std::move(reply), named](absl::StatusOr<v1::MapDone> done) {
    if (!done.ok()) return reply(done.status());
    if (named) WithNamedFrameworkCounters(&*done);
    v1::Answer answer;
    *answer.mutable_map_done() = std::move(*done);
    reply(std::move(answer));
  };
}

TaskRunner::Done<v1::ReduceDone> AnswerReduce(Reply reply, bool named) {
  return [reply = std::move(reply), named](absl::StatusOr<v1::ReduceDone> done) {
    if (!done.ok()) return reply(done.status());
    if (named) WithNamedFrameworkCounters(&*done);
    v1::Answer answer;
    *answer.mutable_reduce_done() = std::move(*done);
    reply(std::move(answer));
  };
}

absl::Status Draining(const v1::TaskContext& task) {
  return absl::UnavailableError(absl::StrCat("attempt=", task.attempt_id(), ": worker draining"));
}

absl::Status NoJobFiles(const v1::TaskContext& task, const absl::Status& why) {
  return absl::AbortedError(absl::StrCat("attempt=", task.attempt_id(), ": shipped files of job=",
                                         task.job_id(), ": ", why.message()));
}

}  // namespace

Agent::Agent(Loop* loop, TaskRunner* runner, CallHandlers* calls, MapOutputStore* store,
             JobFileStore* files, AgentOptions options)
    : loop_(loop),
      runner_(runner),
      calls_(calls),
      store_(store),
      files_(files),
      options_(std::move(options)),
      heartbeat_interval_(options_.heartbeat_interval) {}

Agent::~Agent() {
  if (heartbeat_timer_ != 0) loop_->CancelTimer(heartbeat_timer_);
}

amp::Deferred<std::string> Agent::Attach(amp::Session* session) {
  session_ = session;
  session->SetResponder(v1::Command::kRunMap, [this](v1::Command c, Reply r) {
    RunMap(std::move(*c.mutable_run_map()), std::move(r));
  });
  session->SetResponder(v1::Command::kRunReduce, [this](v1::Command c, Reply r) {
    RunReduce(std::move(*c.mutable_run_reduce()), std::move(r));
  });
  session->SetResponder(v1::Command::kJobContext, [this](v1::Command c, Reply r) {
    v1::JobContext* job = c.mutable_job_context();
    v1::TaskContext& context = job_contexts_[job->job_id()];
    context = std::move(*job->mutable_context());
    context.clear_task_id();  // each task names its own
    context.clear_attempt_id();
    context.clear_partition();
    r(v1::Answer());
  });
  session->SetResponder(v1::Command::kAddMapOutputs, [this](const v1::Command& c, Reply r) {
    AddMapOutputs(c.add_map_outputs());
    r(v1::Answer());
  });
  session->SetResponder(v1::Command::kCancel, [this](const v1::Command& c, Reply r) {
    Cancel(c.cancel());
    r(v1::Answer());
  });
  session->SetResponder(v1::Command::kForgetJob, [this](const v1::Command& c, Reply r) {
    ForgetJob(c.forget_job().job_id());
    if (c.forget_job().logs()) runner_->ForgetLogs(c.forget_job().job_id());
    r(v1::Answer());
  });
  session->SetResponder(v1::Command::kGetTaskLog, [this](const v1::Command& c, Reply r) {
    absl::StatusOr<v1::TaskLogText> log =
        runner_->TaskLog(c.get_task_log().job_id(), c.get_task_log().attempt_id());
    if (!log.ok()) return r(log.status());
    v1::Answer answer;
    *answer.mutable_task_log() = *std::move(log);
    r(std::move(answer));
  });
  session->SetResponder(v1::Command::kHeartbeat,
                        [](const v1::Command&, Reply r) { r(v1::Answer()); });
  // Calls only queue work for the handlers' threads (builtin:echo answers at
  // once), so they are taken where they were read, a hop through the loop saved.
  session->SetReadThreadResponder(v1::Command::kCall, [this](v1::Command c, Reply r) {
    RunCall(std::move(*c.mutable_call()), std::move(r));
  });

  amp::Deferred<std::string> welcomed;
  session->CallRemote(Hello()).AddBoth(
      [this, session, welcomed](const absl::StatusOr<v1::Answer>& answer) mutable {
        if (session != session_) {
          welcomed.Errback(absl::UnavailableError("session ended before the Welcome"));
          return;
        }
        if (!answer.ok()) {
          welcomed.Errback(answer.status());  // the stream's end follows
          return;
        }
        if (!answer->has_welcome()) {
          absl::Status refused = absl::InternalError("master answered Hello without a Welcome");
          session->Close(refused);
          welcomed.Errback(refused);
          return;
        }
        OnWelcome(answer->welcome());
        welcomed.Callback(worker_id_);
      });
  return welcomed;
}

v1::Command Agent::Hello() const {
  v1::Command hello;
  v1::Hello* h = hello.mutable_hello();
  h->set_host(options_.host);
  h->set_shuffle_address(options_.shuffle_address);
  h->set_slots(options_.slots);
  h->set_pid(options_.pid);
  h->set_job_contexts(true);
  for (const std::string& name : calls_->names()) h->add_handlers(name);
  // A master that restarted reuses the accepted outputs among these.
  for (const MapOutputStore::Held& held : store_->List()) {
    if (::access(held.path.c_str(), R_OK) != 0) continue;
    v1::HeldMapOutput* out = h->add_map_outputs();
    out->set_attempt_id(held.attempt_id);
    out->set_job_id(held.job_id);
    out->set_output_path(held.path);
  }
  return hello;
}

void Agent::OnWelcome(const v1::Welcome& welcome) {
  worker_id_ = welcome.worker_id();
  framework_counters_ = welcome.framework_counters();
  if (welcome.heartbeat_interval_seconds() > 0) {
    heartbeat_interval_ = absl::Seconds(welcome.heartbeat_interval_seconds());
  }
  SendHeartbeat();
}

void Agent::SendHeartbeat() {
  heartbeat_timer_ = 0;
  if (session_ == nullptr || session_->closed()) return;
  v1::Command beat;
  v1::Heartbeat* heartbeat = beat.mutable_heartbeat();
  if (options_.usage) {
    UsageSample usage = options_.usage();
    heartbeat->set_cpu_percent(usage.cpu_percent);
    heartbeat->set_rss_bytes(usage.rss_bytes);
  }
  for (auto& [attempt_id, status] : runner_->Statuses()) {
    v1::AttemptStatus* s = heartbeat->add_statuses();
    s->set_attempt_id(attempt_id);
    s->set_status(std::move(status));
  }
  for (v1::FetchFailure& failure : runner_->FetchFailures()) {
    *heartbeat->add_fetch_failures() = std::move(failure);
  }
  session_->SendNoAnswer(std::move(beat));
  heartbeat_timer_ = loop_->RunAfter(heartbeat_interval_, [this] { SendHeartbeat(); });
}

void Agent::Detach(const absl::Status&) {
  session_ = nullptr;
  worker_id_.clear();
  if (heartbeat_timer_ != 0) loop_->CancelTimer(heartbeat_timer_);
  heartbeat_timer_ = 0;
  // A new master may reuse the ids of jobs this one forgot, or knew.
  store_->ClearForgottenJobs();
  waiting_for_files_.clear();  // their GetJobFiles fail with the session
  job_contexts_.clear();
  reduces_waiting_.clear();
  files_->ForgetAll();
  runner_->ForgetAllJobs();
  // The master re-runs whatever this session was doing; stop wasting slots on it.
  runner_->CancelAll();
  calls_->DropQueued(absl::UnavailableError("session to the master ended"));
}

void Agent::Drain(std::function<void()> given_back) {
  draining_ = true;
  // Tell the master first, so the attempts given back are not counted against
  // their tasks and no new ones arrive.
  auto give_back = [this, given_back = std::move(given_back),
                    once = std::make_shared<bool>(false)] {
    if (*once) return;
    *once = true;
    runner_->GiveBackQueued(absl::UnavailableError("worker draining"));
    given_back();
  };
  if (session_ == nullptr || session_->closed() || worker_id_.empty()) {
    give_back();
    return;
  }
  Loop::TimerId timer = loop_->RunAfter(options_.drain_ack_timeout, give_back);
  v1::Command drain;
  drain.mutable_drain();
  session_->CallRemote(std::move(drain))
      .AddBoth([this, timer, give_back](const absl::StatusOr<v1::Answer>&) {
        loop_->CancelTimer(timer);
        give_back();
      });
}

// The command is held where `start` can move it to the runner, so an attempt
// that starts at once is never copied.
void Agent::RunMap(v1::RunMap run, Reply reply) {
  if (absl::Status ok = AddJobContext(run.mutable_task()); !ok.ok()) return reply(ok);
  auto held = std::make_shared<v1::RunMap>(std::move(run));
  StartWithFiles(held->task(), std::move(reply), [this, held](Reply r) {
    runner_->RunMap(std::move(*held), AnswerMap(std::move(r), !framework_counters_));
  });
}

void Agent::RunReduce(v1::RunReduce run, Reply reply) {
  if (absl::Status ok = AddJobContext(run.mutable_task()); !ok.ok()) return reply(ok);
  auto held = std::make_shared<v1::RunReduce>(std::move(run));
  const std::string attempt = held->task().attempt_id();
  StartWithFiles(held->task(), std::move(reply), [this, held](Reply r) {
    runner_->RunReduce(std::move(*held), AnswerReduce(std::move(r), !framework_counters_));
  });
  // Waiting for its job's files: map outputs named meanwhile are added here.
  if (waiting_attempts_.count(attempt) > 0) reduces_waiting_[attempt] = held;
}

absl::Status Agent::AddJobContext(v1::TaskContext* task) const {
  if (!task->mapper().empty()) return absl::OkStatus();  // the whole context came with it
  auto it = job_contexts_.find(task->job_id());
  if (it == job_contexts_.end() || it->second.mapper().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt=", task->attempt_id(), ": no context for job=", task->job_id(),
                     " on this session: the master sent the task without its job's context"));
  }
  // The job's context names no task (see the responder), so this sets only
  // the job's fields, without a copy of the task's own.
  task->MergeFrom(it->second);
  return absl::OkStatus();
}

void Agent::AddMapOutputs(const v1::AddMapOutputs& more) {
  auto it = reduces_waiting_.find(more.attempt_id());
  if (it == reduces_waiting_.end()) return runner_->AddReduceInputs(more);
  v1::RunReduce* run = it->second.get();
  if (!run->more_inputs()) return;
  for (const v1::MapOutputLocation& loc : more.inputs()) *run->add_inputs() = loc;
  run->set_more_inputs(!more.last());
}

void Agent::StartWithFiles(const v1::TaskContext& task, Reply reply,
                           std::function<void(Reply)> start) {
  if (draining_) return reply(Draining(task));
  if (HasJobFiles(task)) return start(std::move(reply));
  waiting_attempts_.insert(task.attempt_id());
  WaitForJobFiles(task.job_id(), [this, task, reply = std::move(reply),
                                  start = std::move(start)](absl::Status got) {
    // From now on a reduce's later map outputs go to the runner (or nowhere).
    reduces_waiting_.erase(task.attempt_id());
    if (waiting_attempts_.erase(task.attempt_id()) == 0) {
      return reply(absl::CancelledError(
          absl::StrCat("attempt=", task.attempt_id(), ": cancelled while waiting for its job's "
                       "shipped files")));
    }
    if (!got.ok()) return reply(NoJobFiles(task, got));
    if (draining_) return reply(Draining(task));
    start(reply);
  });
}

bool Agent::HasJobFiles(const v1::TaskContext& task) const {
  return task.files_size() == 0 || files_->Has(task.job_id());
}

void Agent::WaitForJobFiles(const std::string& job_id, std::function<void(absl::Status)> start) {
  std::shared_ptr<FileWaiters>& waiters = waiting_for_files_[job_id];
  if (waiters != nullptr) {  // already asked for
    waiters->push_back(std::move(start));
    return;
  }
  waiters = std::make_shared<FileWaiters>();
  waiters->push_back(std::move(start));
  v1::Command ask;
  ask.mutable_get_job_files()->set_job_id(job_id);
  session_->CallRemote(std::move(ask))
      .AddBoth([this, job_id, waiters](const absl::StatusOr<v1::Answer>& answer) {
        auto it = waiting_for_files_.find(job_id);
        const bool current = it != waiting_for_files_.end() && it->second == waiters;
        if (current) waiting_for_files_.erase(it);
        absl::Status got = answer.status();
        if (got.ok() && !answer->has_job_files()) {
          got = absl::InternalError("the master answered GetJobFiles without files");
        }
        if (got.ok() && !current) got = absl::AbortedError("the job was forgotten meanwhile");
        if (got.ok()) got = files_->Put(job_id, answer->job_files());
        for (auto& start : *waiters) start(got);
      });
}

void Agent::ForgetJob(const std::string& job_id) {
  job_contexts_.erase(job_id);
  store_->ForgetJob(job_id);
  waiting_for_files_.erase(job_id);
  files_->ForgetJob(job_id);
  runner_->ForgetJob(job_id);
}

void Agent::Cancel(const v1::Cancel& cancel) {
  if (!cancel.attempt_id().empty()) {
    waiting_attempts_.erase(cancel.attempt_id());
    reduces_waiting_.erase(cancel.attempt_id());
    runner_->Cancel(cancel.attempt_id());
  }
  if (!cancel.call_id().empty()) calls_->Cancel(cancel.call_id());
}

void Agent::RunCall(v1::Call call, Reply reply) {
  HandlerCall hc;
  hc.handler = call.handler();
  hc.payload = std::move(*call.mutable_payload());
  hc.call_id = call.call_id();
  if (call.timeout_seconds() > 0) hc.timeout = absl::Seconds(call.timeout_seconds());
  hc.idempotent = call.idempotent();
  calls_->Call(std::move(hc), [reply = std::move(reply)](absl::StatusOr<std::string> payload) {
    if (!payload.ok()) return reply(payload.status());
    v1::Answer answer;
    *answer.mutable_call_done()->mutable_payload() = std::move(*payload);
    reply(std::move(answer));
  });
}

}  // namespace ampmr::worker
