// Test doubles for the worker's Agent: a TaskRunner and CallHandlers that
// record what they were asked and hold each attempt's or call's `done`, so the
// test decides when (and how) it finishes.
#ifndef AMPMR_TESTS_WORKER_FAKE_TASK_RUNNER_H_
#define AMPMR_TESTS_WORKER_FAKE_TASK_RUNNER_H_

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/call_handlers.h"
#include "worker/task_runner.h"

namespace ampmr::worker {

class FakeTaskRunner : public TaskRunner {
 public:
  struct Attempt {
    std::string attempt_id;
    v1::RunMap map;        // set for a map attempt
    v1::RunReduce reduce;  // set for a reduce attempt
    Done<v1::MapDone> map_done;
    Done<v1::ReduceDone> reduce_done;
    bool started = false;   // the test says it holds a slot
    bool finished = false;  // done was called

    bool is_map() const { return static_cast<bool>(map_done); }
    // Ends the attempt with an error (whichever kind it is).
    void Fail(const absl::Status& why) {
      finished = true;
      if (is_map()) {
        map_done(why);
      } else {
        reduce_done(why);
      }
    }
  };

  void RunMap(v1::RunMap run, Done<v1::MapDone> done) override {
    Attempt a;
    a.attempt_id = run.task().attempt_id();
    a.map = std::move(run);
    a.map_done = std::move(done);
    attempts.push_back(std::move(a));
  }
  void RunReduce(v1::RunReduce run, Done<v1::ReduceDone> done) override {
    Attempt a;
    a.attempt_id = run.task().attempt_id();
    a.reduce = std::move(run);
    a.reduce_done = std::move(done);
    attempts.push_back(std::move(a));
  }
  void AddReduceInputs(const v1::AddMapOutputs& more) override { added.push_back(more); }
  void Cancel(const std::string& attempt_id) override { cancelled.push_back(attempt_id); }
  void CancelAll() override { ++cancel_alls; }
  // Like the real runner: attempts that have not started are answered with why.
  void GiveBackQueued(const absl::Status& why) override {
    given_back.push_back(why);
    for (Attempt& a : attempts) {
      if (a.started || a.finished) continue;
      a.Fail(absl::Status(why.code(), absl::StrCat("attempt=", a.attempt_id, ": ", why.message())));
    }
  }
  AttemptStatuses Statuses() override {
    ++statuses_calls;
    return statuses;
  }
  std::vector<v1::FetchFailure> FetchFailures() override {
    return std::exchange(fetch_failures, {});
  }
  absl::StatusOr<v1::TaskLogText> TaskLog(const std::string& job_id,
                                          const std::string& attempt_id) override {
    auto it = logs.find(job_id + "/" + attempt_id);
    if (it == logs.end()) return absl::NotFoundError(absl::StrCat("no log of ", attempt_id));
    v1::TaskLogText text;
    text.set_text(it->second);
    return text;
  }
  void ForgetLogs(const std::string& job_id) override { forgotten_logs.push_back(job_id); }
  void ForgetJob(const std::string& job_id) override { forgotten_jobs.push_back(job_id); }
  void ForgetAllJobs() override { ++forget_alls; }

  Attempt* Find(const std::string& attempt_id) {
    for (Attempt& a : attempts) {
      if (a.attempt_id == attempt_id) return &a;
    }
    return nullptr;
  }

  std::deque<Attempt> attempts;  // a deque: pointers stay valid as more arrive
  std::vector<std::string> cancelled;
  std::vector<v1::AddMapOutputs> added;  // AddReduceInputs, in order
  int cancel_alls = 0;
  std::vector<absl::Status> given_back;
  AttemptStatuses statuses;  // what Statuses() reports
  int statuses_calls = 0;
  std::vector<v1::FetchFailure> fetch_failures;  // what FetchFailures() reports, once
  std::map<std::string, std::string> logs;  // "JOB/ATTEMPT" -> what TaskLog answers
  std::vector<std::string> forgotten_logs;  // ForgetLogs' jobs, in order
  std::vector<std::string> forgotten_jobs;  // ForgetJob's, in order
  int forget_alls = 0;
};

class FakeCallHandlers : public CallHandlers {
 public:
  struct Pending {
    HandlerCall call;
    HandlerPool::Done done;
  };

  std::vector<std::string> names() const override { return handler_names; }
  void Call(HandlerCall call, HandlerPool::Done done) override {
    calls.push_back(Pending{std::move(call), std::move(done)});
  }
  void Cancel(const std::string& call_id) override { cancelled.push_back(call_id); }
  void DropQueued(const absl::Status& why) override { dropped.push_back(why); }

  std::vector<std::string> handler_names;
  std::deque<Pending> calls;
  std::vector<std::string> cancelled;
  std::vector<absl::Status> dropped;
};

}  // namespace ampmr::worker

#endif  // AMPMR_TESTS_WORKER_FAKE_TASK_RUNNER_H_
