// What the coordinator tells about what the cluster did: task and attempt
// records through ListTasks and JobStatus, GetTaskLog routed to the worker
// that ran the attempt, per-handler call figures, cluster metrics. On a
// FakeLoop with fake workers that hold each call's Deferred.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/coordinator.h"
#include "tests/master/fake_worker.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

struct Cluster {
  Cluster() : coordinator(&loop, CoordinatorOptions()) { coordinator.Start(); }
  FakeWorker* AddWorker(const std::vector<std::string>& handlers = {}) {
    workers.push_back(std::make_unique<FakeWorker>());
    v1::Hello hello;
    hello.set_slots(1);
    hello.set_shuffle_address(absl::StrCat("127.0.0.1:", 9000 + workers.size()));
    for (const auto& h : handlers) hello.add_handlers(h);
    ids.push_back(coordinator.AddWorker(hello, workers.back().get()).worker_id());
    return workers.back().get();
  }
  std::string Submit(const std::string& output, int maps, int reduces) {
    v1::JobSpec spec;
    spec.add_inputs("/in");
    spec.set_output(output);
    spec.set_mapper("builtin:wordcount");
    spec.set_reducer("builtin:sum");
    spec.set_reduces(reduces);
    spec.set_max_attempts(4);
    SplitPlan splits;
    for (int i = 0; i < maps; ++i) splits.Add(absl::StrCat("/in/f", i), 0, 100);
    return *coordinator.SubmitJob(spec, splits);
  }
  v1::ListTasksResponse Tasks(const std::string& job) {
    v1::ListTasksRequest request;
    request.set_job_id(job);
    absl::StatusOr<v1::ListTasksResponse> r = coordinator.ListTasks(request);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : v1::ListTasksResponse();
  }

  FakeLoop loop;
  Coordinator coordinator;
  std::vector<std::unique_ptr<FakeWorker>> workers;
  std::vector<std::string> ids;
};

TEST(CoordinatorObserveTest, FailedAttemptShowsInStatusTasksAndMetrics) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 2, 1);
  ASSERT_THAT(w1->Open(), SizeIs(1));
  w1->Open()[0]->answer.Errback(absl::AbortedError("mapper exited with status 3"));

  v1::JobStatus s = *c.coordinator.GetJob(job);
  EXPECT_EQ(s.map().failed_attempts(), 1);
  ASSERT_THAT(s.failed_attempts(), SizeIs(1));
  EXPECT_EQ(s.failed_attempts(0).task_id(), "m0");
  EXPECT_EQ(s.failed_attempts(0).worker_id(), c.ids[0]);
  EXPECT_THAT(s.failed_attempts(0).error(), HasSubstr("mapper exited with status 3"));

  v1::ListTasksResponse tasks = c.Tasks(job);
  EXPECT_EQ(tasks.total(), 3);
  ASSERT_THAT(tasks.tasks(), SizeIs(3));
  EXPECT_EQ(tasks.tasks(0).task_id(), "m0");  // failures first
  EXPECT_EQ(tasks.tasks(0).input(), "/in/f0 bytes 0+100");
  EXPECT_EQ(tasks.tasks(0).attempts(0).state(), v1::ATTEMPT_FAILED);
  // m0 went back to the queue; m1 took the free slot.
  ASSERT_THAT(tasks.tasks(0).attempts(), SizeIs(1));
  EXPECT_EQ(tasks.tasks(0).state(), v1::TASK_PENDING);
  EXPECT_EQ(tasks.tasks(1).task_id(), "m1");
  ASSERT_THAT(tasks.tasks(1).attempts(), SizeIs(1));
  EXPECT_EQ(tasks.tasks(1).attempts(0).state(), v1::ATTEMPT_RUNNING);
  EXPECT_EQ(tasks.tasks(1).attempts(0).end_time(), 0);
  EXPECT_EQ(tasks.tasks(2).task_id(), "r0");
  EXPECT_TRUE(tasks.tasks(2).reduce());
  EXPECT_EQ(tasks.tasks(2).state(), v1::TASK_PENDING);

  EXPECT_EQ(c.coordinator.metrics().map.started, 2);
  EXPECT_EQ(c.coordinator.metrics().map.failed, 1);
  EXPECT_EQ(c.coordinator.ListWorkers()[0].attempts_failed(), 1);

  v1::ListTasksRequest unknown;
  unknown.set_job_id("j99");
  EXPECT_THAT(c.coordinator.ListTasks(unknown), StatusIs(absl::StatusCode::kNotFound));
}

TEST(CoordinatorObserveTest, AttemptsOfCancelledJobAreKilledAndLostWorkersAttemptsLost) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 2, 1);
  ASSERT_THAT(w1->Open(), SizeIs(1));
  ASSERT_THAT(w2->Open(), SizeIs(1));
  std::string lost_task = w2->Open()[0]->command.run_map().task().task_id();
  c.coordinator.RemoveWorker(c.ids[1], absl::UnavailableError("gone"));
  w2->Close(absl::UnavailableError("gone"));
  ASSERT_THAT(c.coordinator.CancelJob(job), IsOk());

  int killed = 0, lost = 0;
  v1::ListTasksResponse tasks = c.Tasks(job);
  for (const auto& t : tasks.tasks()) {
    for (const auto& a : t.attempts()) {
      killed += a.state() == v1::ATTEMPT_KILLED;
      lost += a.state() == v1::ATTEMPT_LOST;
      EXPECT_GT(a.end_time(), 0) << a.attempt_id();
      if (a.state() == v1::ATTEMPT_LOST) EXPECT_EQ(a.task_id(), lost_task);
    }
  }
  EXPECT_EQ(lost, 1);
  EXPECT_GE(killed, 1);
  EXPECT_EQ(c.coordinator.GetJob(job)->map().failed_attempts(), 0);  // neither counts
  EXPECT_EQ(c.coordinator.metrics().map.lost, 1);
  EXPECT_EQ(c.coordinator.metrics().map.killed, killed);
}

TEST(CoordinatorObserveTest, GetTaskLogAsksTheWorkerThatRanTheAttempt) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 1);
  ASSERT_THAT(w1->Open(), SizeIs(1));
  std::string attempt_id = w1->Open()[0]->command.run_map().task().attempt_id();
  AnswerMap(w1->Open()[0]);

  v1::GetTaskLogRequest request;
  request.set_job_id(job);
  request.set_task_id("m0");
  absl::StatusOr<v1::TaskLog> got = absl::UnknownError("no answer");
  c.coordinator.GetTaskLog(request, [&](absl::StatusOr<v1::TaskLog> log) { got = log; });
  std::vector<FakeWorker::Pending*> open = w1->Open();
  ASSERT_THAT(open, SizeIs(2));  // the reduce, and the log request
  FakeWorker::Pending* ask = open[0]->command.has_get_task_log() ? open[0] : open[1];
  ASSERT_TRUE(ask->command.has_get_task_log());
  EXPECT_EQ(ask->command.get_task_log().attempt_id(), attempt_id);
  EXPECT_EQ(ask->command.get_task_log().job_id(), job);
  v1::Answer answer;
  answer.mutable_task_log()->set_text("marker line\n");
  answer.mutable_task_log()->set_truncated(true);
  ask->answer.Callback(answer);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->text(), "marker line\n");
  EXPECT_TRUE(got->truncated());
  EXPECT_EQ(got->attempt_id(), attempt_id);
  EXPECT_EQ(got->worker_id(), c.ids[0]);

  request.set_task_id("m5");  // no such task
  c.coordinator.GetTaskLog(request, [&](absl::StatusOr<v1::TaskLog> log) { got = log; });
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kNotFound, HasSubstr("no attempt")));
  request.set_task_id("x1");
  c.coordinator.GetTaskLog(request, [&](absl::StatusOr<v1::TaskLog> log) { got = log; });
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument));

  // Its worker gone, the attempt's log is gone too, and the answer says so.
  request.set_task_id("m0");
  c.coordinator.RemoveWorker(c.ids[0], absl::UnavailableError("gone"));
  c.coordinator.GetTaskLog(request, [&](absl::StatusOr<v1::TaskLog> log) { got = log; });
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kFailedPrecondition,
                            HasSubstr("worker " + c.ids[0] + ", which is gone")));
}

TEST(CoordinatorObserveTest, CallStatsCountOfferedHandlersOnly) {
  Cluster c;
  FakeWorker* w = c.AddWorker({"echo"});
  std::vector<absl::StatusCode> ends;
  auto done = [&](absl::StatusOr<std::string> r) { ends.push_back(r.status().code()); };
  v1::CallRequest call;
  call.set_handler("echo");
  c.coordinator.Call(call, done);
  c.coordinator.Call(call, done);
  EXPECT_EQ(c.coordinator.call_stats().handlers().at("echo").open, 2);
  ASSERT_THAT(w->Open(), SizeIs(1));
  v1::Answer ok;
  ok.mutable_call_done()->set_payload("x");
  w->Open()[0]->answer.Callback(ok);
  ASSERT_THAT(w->Open(), SizeIs(1));
  w->Open()[0]->answer.Errback(absl::InvalidArgumentError("bad input"));
  const CallStats::Handler echo = c.coordinator.call_stats().handlers().at("echo");
  EXPECT_EQ(echo.open, 0);
  EXPECT_EQ(echo.seconds.count(), 2);
  EXPECT_EQ(echo.ends.at(absl::StatusCode::kOk), 1);
  EXPECT_EQ(echo.ends.at(absl::StatusCode::kInvalidArgument), 1);
  // A made-up handler name is refused and leaves no trace.
  call.set_handler("no-such-handler");
  c.coordinator.Call(call, done);
  EXPECT_EQ(ends.back(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.coordinator.call_stats().handlers().count("no-such-handler"), 0u);
}

}  // namespace
}  // namespace ampmr::master
