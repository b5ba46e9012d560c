// Test doubles for the coordinator: a worker whose calls wait until the test
// answers them, answers shaped like a real worker's, and a scratch directory.
// Like a real worker, it keeps the job contexts it is sent, so a task command
// that came without its job's context is answered as the job's.
#ifndef AMPMR_TESTS_MASTER_FAKE_WORKER_H_
#define AMPMR_TESTS_MASTER_FAKE_WORKER_H_

#include <stdlib.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ampmr/v1/session.pb.h"
#include "common/amp/deferred.h"
#include "master/worker_link.h"

namespace ampmr::master {

class FakeWorker : public WorkerLink {
 public:
  struct Pending {
    v1::Command command;
    amp::Deferred<v1::Answer> answer;
    // A RunMap's or RunReduce's context, with its job's if it came without.
    v1::TaskContext context;
  };

  amp::Deferred<v1::Answer> Call(v1::Command command) override {
    amp::Deferred<v1::Answer> d;
    if (closed) {
      d.Errback(absl::UnavailableError("closed"));
      return d;
    }
    Pending& p = calls.emplace_back(Pending{std::move(command), d, {}});
    kinds.push_back(p.command.kind_case());
    if (p.command.has_run_map()) p.context = WithJobContext(p.command.run_map().task());
    if (p.command.has_run_reduce()) p.context = WithJobContext(p.command.run_reduce().task());
    return d;
  }
  // A call's answer goes to `answer` when the test fires the Deferred, as if
  // the thread that read it had handed it over.
  bool CallFromAnyThread(v1::Command command, amp::Session::ReadThreadAnswer answer) override {
    if (closed) return false;
    Call(std::move(command)).AddBoth([answer](const absl::StatusOr<v1::Answer>& result) {
      if (!result.ok()) {
        answer(result.status());
        return;
      }
      v1::Answer copy = *result;
      answer(&copy);
    });
    return true;
  }
  void Send(v1::Command command) override {
    kinds.push_back(command.kind_case());
    if (command.has_job_context()) {
      contexts[command.job_context().job_id()] = command.job_context().context();
    }
    if (command.has_forget_job()) contexts.erase(command.forget_job().job_id());
    sent.push_back(std::move(command));
  }
  // Like the real link: outstanding calls fail with UNAVAILABLE.
  void Close(const absl::Status& why) override {
    closed = true;
    FailAll(absl::UnavailableError(why.message()));
  }

  void FailAll(const absl::Status& why) {
    std::deque<Pending> failing = std::move(calls);
    calls.clear();
    for (auto& p : failing) p.answer.Errback(why);
  }

  // Calls not answered yet (cancelled ones have fired and are skipped).
  std::vector<Pending*> Open() {
    std::vector<Pending*> out;
    for (auto& p : calls) {
      if (!p.answer.fired()) out.push_back(&p);
    }
    return out;
  }
  // Payloads of the Call commands not answered yet.
  std::vector<std::string> OpenPayloads() {
    std::vector<std::string> out;
    for (Pending* p : Open()) out.push_back(p->command.call().payload());
    return out;
  }
  std::vector<std::string> CancelledAttempts() const {
    std::vector<std::string> out;
    for (const auto& c : sent) {
      if (c.has_cancel()) out.push_back(c.cancel().attempt_id());
    }
    return out;
  }
  std::vector<std::string> CancelledCalls() const {
    std::vector<std::string> out;
    for (const auto& c : sent) {
      if (c.has_cancel()) out.push_back(c.cancel().call_id());
    }
    return out;
  }
  std::vector<std::string> ForgottenJobs() const {
    std::vector<std::string> out;
    for (const auto& c : sent) {
      if (c.has_forget_job()) out.push_back(c.forget_job().job_id());
    }
    return out;
  }

  // The JobContexts sent, in order.
  std::vector<v1::JobContext> JobContexts() const {
    std::vector<v1::JobContext> out;
    for (const auto& c : sent) {
      if (c.has_job_context()) out.push_back(c.job_context());
    }
    return out;
  }

  std::deque<Pending> calls;  // a deque: answering one may add more, and pointers stay valid
  std::vector<v1::Command> sent;
  // What it was asked or told, in order.
  std::vector<v1::Command::KindCase> kinds;
  // The job contexts it has, by job (not forgotten since).
  std::map<std::string, v1::TaskContext> contexts;
  bool closed = false;

 private:
  v1::TaskContext WithJobContext(const v1::TaskContext& own) const {
    auto it = contexts.find(own.job_id());
    if (!own.mapper().empty() || it == contexts.end()) return own;
    v1::TaskContext ctx = it->second;
    ctx.set_task_id(own.task_id());
    ctx.set_attempt_id(own.attempt_id());
    ctx.set_partition(own.partition());
    return ctx;
  }
};

// The output file a map attempt's answer names.
inline std::string MapOutputPath(const std::string& attempt_id) {
  return "/work/" + attempt_id + ".out";
}

// Answers a map attempt as a worker would: one partition per reduce.
// `run_seconds`: how long the worker says it ran (0: it does not say).
inline void AnswerMap(FakeWorker::Pending* p, double run_seconds = 0) {
  const v1::RunMap& run = p->command.run_map();
  v1::Answer answer;
  v1::MapDone* done = answer.mutable_map_done();
  done->set_attempt_id(run.task().attempt_id());
  done->set_output_path(MapOutputPath(run.task().attempt_id()));
  for (int r = 0; r < p->context.reduces(); ++r) {
    v1::PartitionInfo* part = done->add_partitions();
    part->set_offset(r * 10);
    part->set_length(10);
    part->set_records(1);
  }
  // As numbers, as workers send them (the reduce below names its own, as
  // older workers did: the master takes both).
  done->mutable_framework_counters()->set_map_input_records(5);
  done->set_run_seconds(run_seconds);
  p->answer.Callback(answer);
}

// Answers a reduce attempt, writing its part file where the master wants it.
inline void AnswerReduce(FakeWorker::Pending* p, const std::string& content) {
  const v1::RunReduce& run = p->command.run_reduce();
  std::filesystem::create_directories(std::filesystem::path(run.temp_path()).parent_path());
  std::ofstream(run.temp_path()) << content;
  v1::Answer answer;
  answer.mutable_reduce_done()->set_attempt_id(run.task().attempt_id());
  (*answer.mutable_reduce_done()->mutable_counters())["ampmr.reduce_output_records"] = 1;
  p->answer.Callback(answer);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "master_test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ampmr::master

#endif  // AMPMR_TESTS_MASTER_FAKE_WORKER_H_
