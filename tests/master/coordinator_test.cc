// Coordinator, JobRun and Scheduler on a FakeLoop with fake workers that hold
// each call's Deferred, so every test decides when and how attempts answer.
#include "master/coordinator.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/task_errors.h"
#include "master/output_committer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/master/fake_worker.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

struct Cluster {
  explicit Cluster(CoordinatorOptions options = {}) : coordinator(&loop, options) {
    coordinator.Start();
  }
  // `job_contexts`: its Hello says it reads Command.job_context (a worker
  // that predates it says nothing).
  FakeWorker* AddWorker(int slots = 1, bool job_contexts = false) {
    workers.push_back(std::make_unique<FakeWorker>());
    v1::Hello hello;
    hello.set_slots(slots);
    hello.set_job_contexts(job_contexts);
    hello.set_shuffle_address(absl::StrCat("127.0.0.1:", 9000 + workers.size()));
    ids.push_back(coordinator.AddWorker(hello, workers.back().get()).worker_id());
    return workers.back().get();
  }
  std::string Submit(const std::string& output, int maps, int reduces, int max_attempts = 4,
                     double timeout = 0) {
    v1::JobSpec spec;
    spec.add_inputs("/in");
    spec.set_output(output);
    spec.set_mapper("builtin:wordcount");
    spec.set_reducer("builtin:sum");
    spec.set_reduces(reduces);
    spec.set_max_attempts(max_attempts);
    spec.set_task_timeout_seconds(timeout);
    SplitPlan splits;
    for (int i = 0; i < maps; ++i) splits.Add(absl::StrCat("/in/f", i), 0, 100);
    absl::StatusOr<std::string> id = coordinator.SubmitJob(spec, splits);
    EXPECT_THAT(id, testing::IsOk());
    return *id;
  }
  v1::JobStatus Status(const std::string& id) { return *coordinator.GetJob(id); }

  FakeLoop loop;
  Coordinator coordinator;
  std::vector<std::unique_ptr<FakeWorker>> workers;
  std::vector<std::string> ids;
};

// For tests that count attempts per slot while the fake workers answer in no
// time (which would be short tasks, pipelined).
CoordinatorOptions OnePerSlot() {
  CoordinatorOptions options;
  options.scheduler.max_pipeline_depth = 1;
  return options;
}

// Reduces only once every map is done (no slow start).
CoordinatorOptions NoSlowStart() {
  CoordinatorOptions options;
  options.reduce_slowstart = 1;
  return options;
}

TEST(CoordinatorTest, RunsMapsThenReducesAndCommits) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c(NoSlowStart());
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(out, 3, 2);

  // One attempt per free slot; the third map waits.
  ASSERT_THAT(w1->Open(), SizeIs(1));
  ASSERT_THAT(w2->Open(), SizeIs(1));
  EXPECT_EQ(c.Status(job).state(), v1::MAPPING);
  AnswerMap(w1->Open()[0]);
  ASSERT_THAT(w1->Open(), SizeIs(1));  // the third map
  AnswerMap(w1->Open()[0]);
  EXPECT_EQ(c.Status(job).map().done(), 2);
  AnswerMap(w2->Open()[0]);

  // Reduce phase: each reduce is told about every map output's partition.
  EXPECT_EQ(c.Status(job).state(), v1::REDUCING);
  std::vector<FakeWorker::Pending*> reduces = {w1->Open()[0], w2->Open()[0]};
  for (auto* p : reduces) {
    ASSERT_TRUE(p->command.has_run_reduce());
    EXPECT_THAT(p->command.run_reduce().inputs(), SizeIs(3));
  }
  EXPECT_FALSE(fs::exists(out + "/part-00000"));
  AnswerReduce(reduces[0], "a\t1\n");
  // Nothing has a final name before the whole job commits: the (empty)
  // output directory stays empty until then.
  EXPECT_TRUE(fs::is_empty(out));
  AnswerReduce(reduces[1], "b\t2\n");

  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::SUCCEEDED);
  EXPECT_TRUE(fs::exists(out + "/_SUCCESS"));
  EXPECT_TRUE(fs::exists(out + "/part-00000"));
  EXPECT_TRUE(fs::exists(out + "/part-00001"));
  EXPECT_FALSE(fs::exists(OutputCommitter(out, job).stage()));
  EXPECT_EQ(s.counters().at("ampmr.map_input_records"), 15);
  EXPECT_EQ(s.counters().at("ampmr.reduce_output_records"), 2);
}

TEST(CoordinatorTest, RetriesFailedAttemptOnAnotherWorker) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 1);
  FakeWorker* w2 = c.AddWorker();
  ASSERT_THAT(w1->Open(), SizeIs(1));
  w1->Open()[0]->answer.Errback(absl::AbortedError("mapper exited with status 1"));
  ASSERT_THAT(w1->Open(), SizeIs(0));
  ASSERT_THAT(w2->Open(), SizeIs(1));
  EXPECT_EQ(w2->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a2");
}

TEST(CoordinatorTest, TaskOutOfAttemptsFailsJobAndCancelsTheRest) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(out, 3, 1, /*max_attempts=*/2);
  w1->Open()[0]->answer.Errback(absl::AbortedError("boom"));
  // m0 avoids w1, where it failed, and waits for w2; m2 takes w1's slot.
  ASSERT_THAT(w1->Open(), SizeIs(1));
  std::string other = w1->Open()[0]->command.run_map().task().attempt_id();
  EXPECT_EQ(other, job + "-m2-a1");
  AnswerMap(w2->Open()[0]);
  ASSERT_THAT(w2->Open(), SizeIs(1));
  EXPECT_EQ(w2->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a2");
  w2->Open()[0]->answer.Errback(absl::AbortedError("boom again"));

  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::FAILED);
  EXPECT_THAT(s.error(), HasSubstr("task m0"));
  EXPECT_THAT(s.error(), HasSubstr("/in/f0"));
  EXPECT_THAT(s.error(), HasSubstr("failed after 2 attempts"));
  EXPECT_THAT(s.error(), HasSubstr("boom again"));
  EXPECT_THAT(w1->CancelledAttempts(), ::testing::ElementsAre(other));
  EXPECT_FALSE(fs::exists(OutputCommitter(out, job).stage()));
  EXPECT_FALSE(fs::exists(out + "/_SUCCESS"));
}

// Answers a map attempt with an output whose partitions have these lengths,
// whatever the job's reduces.
void AnswerMapWithLengths(FakeWorker::Pending* p, const std::vector<int64_t>& lengths) {
  v1::Answer answer;
  v1::MapDone* done = answer.mutable_map_done();
  done->set_attempt_id(p->command.run_map().task().attempt_id());
  done->set_output_path(MapOutputPath(done->attempt_id()));
  for (int64_t length : lengths) done->add_partitions()->set_length(length);
  p->answer.Callback(answer);
}

TEST(CoordinatorTest, MapOutputWithTooFewPartitionsIsAFailedAttempt) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  Cluster c;
  FakeWorker* w = c.AddWorker();
  std::string job = c.Submit(out, 1, 2, /*max_attempts=*/2);
  // A worker's answer that leaves out a reduce's partition.
  ASSERT_THAT(w->Open(), SizeIs(1));
  AnswerMapWithLengths(w->Open()[0], {10});
  // Not accepted: the map runs again.
  EXPECT_EQ(c.Status(job).map().done(), 0);
  ASSERT_THAT(w->Open(), SizeIs(1));
  EXPECT_EQ(w->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a2");
  AnswerMapWithLengths(w->Open()[0], {10});

  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::FAILED);
  EXPECT_THAT(s.error(), HasSubstr("worker answered a map output of 1 partitions; the job has 2 "
                                   "reduces"));
  EXPECT_FALSE(fs::exists(out + "/_SUCCESS"));
}

TEST(CoordinatorTest, MapOutputWithANegativeLengthIsAFailedAttempt) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 2, /*max_attempts=*/1);
  ASSERT_THAT(w->Open(), SizeIs(1));
  AnswerMapWithLengths(w->Open()[0], {10, -1});
  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::FAILED);
  EXPECT_THAT(s.error(), HasSubstr("partition 1 has a negative offset or length"));
}

TEST(CoordinatorTest, ReassignsTasksOfLostWorkerWithoutCountingThem) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 1, /*max_attempts=*/1);
  FakeWorker* w2 = c.AddWorker();
  ASSERT_THAT(w1->Open(), SizeIs(1));
  // The session broke: the adapter unregisters the worker, then its calls fail.
  c.coordinator.RemoveWorker(c.ids[0], absl::UnavailableError("stream ended"));
  w1->FailAll(absl::UnavailableError("connection lost"));
  ASSERT_THAT(w2->Open(), SizeIs(1));
  EXPECT_EQ(c.Status(job).state(), v1::MAPPING);  // max_attempts=1, yet not failed
}

TEST(CoordinatorTest, SilentWorkerIsDroppedAfterHeartbeatTimeout) {
  TempDir tmp;
  CoordinatorOptions options;
  options.heartbeat_timeout = absl::Seconds(10);
  Cluster c(options);
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  c.Submit(tmp.path() + "/out", 2, 1);
  for (int i = 0; i < 12; ++i) {
    c.loop.AdvanceTime(absl::Seconds(1));
    c.coordinator.WorkerSeen(c.ids[1]);  // only w2 keeps beating
  }
  EXPECT_TRUE(w1->closed);
  EXPECT_FALSE(w2->closed);
  EXPECT_THAT(c.coordinator.ListWorkers(), SizeIs(1));
  // w1's map went back to the queue and waits for w2's slot.
  AnswerMap(w2->Open()[0]);
  ASSERT_THAT(w2->Open(), SizeIs(1));
  EXPECT_TRUE(w2->Open()[0]->command.has_run_map());
}

TEST(CoordinatorTest, RunningAttemptsStatusesShowUntilTheyEnd) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 1);
  ASSERT_THAT(w1->Open(), SizeIs(1));
  google::protobuf::RepeatedPtrField<v1::AttemptStatus> beat;
  v1::AttemptStatus* said = beat.Add();
  said->set_attempt_id(job + "-m0-a1");
  said->set_status("halfway");
  v1::AttemptStatus* stranger = beat.Add();  // no such attempt: ignored
  stranger->set_attempt_id(job + "-m7-a1");
  stranger->set_status("?");
  c.coordinator.AttemptStatuses(beat);
  v1::JobStatus s = c.Status(job);
  ASSERT_EQ(s.task_statuses_size(), 1);
  EXPECT_EQ(s.task_statuses(0).task_id(), "m0");
  EXPECT_EQ(s.task_statuses(0).attempt_id(), job + "-m0-a1");
  EXPECT_EQ(s.task_statuses(0).worker_id(), c.ids[0]);
  EXPECT_EQ(s.task_statuses(0).status(), "halfway");
  AnswerMap(w1->Open()[0]);
  EXPECT_EQ(c.Status(job).task_statuses_size(), 0);
}

TEST(CoordinatorTest, TaskTimeoutGoesToTheWorkerWhichReportsAStallAsAFailure) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 1, 4, /*timeout=*/5);
  ASSERT_THAT(w1->Open(), SizeIs(1));
  EXPECT_EQ(w1->Open()[0]->command.run_map().task().timeout_seconds(), 5);
  // --task-timeout is about progress, which only the worker sees: an attempt
  // that runs long is not the master's business.
  c.loop.AdvanceTime(absl::Seconds(9));  // past the timeout, within the heartbeat timeout
  EXPECT_THAT(w1->CancelledAttempts(), SizeIs(0));
  ASSERT_THAT(w1->Open(), SizeIs(1));
  // The worker's stall is the task's own failure: retried, and counted.
  amp::Deferred<v1::Answer> first = w1->Open()[0]->answer;  // the retry may move the Pending
  first.Errback(absl::DeadlineExceededError("no progress for --task-timeout 5s"));
  ASSERT_THAT(w1->Open(), SizeIs(1));
  EXPECT_EQ(w1->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a2");
}

TEST(CoordinatorTest, CancelJobStopsAttemptsAndIgnoresLateAnswers) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(out, 2, 1);
  FakeWorker::Pending running = *w1->Open()[0];
  absl::StatusOr<v1::JobStatus> s = c.coordinator.CancelJob(job);
  ASSERT_THAT(s, testing::IsOk());
  EXPECT_EQ(s->state(), v1::CANCELLED);
  EXPECT_THAT(w1->CancelledAttempts(), SizeIs(1));
  // A late answer from the cancelled attempt changes nothing.
  running.answer.Callback(v1::Answer());
  EXPECT_EQ(c.Status(job).state(), v1::CANCELLED);
  EXPECT_EQ(c.Status(job).map().done(), 0);
  EXPECT_THAT(w1->Open(), SizeIs(0));  // the queued map was dropped too
  EXPECT_THAT(c.coordinator.CancelJob("j99"), testing::StatusIs(absl::StatusCode::kNotFound));
}

TEST(CoordinatorTest, WatchersSeePhasesAndTheFinalState) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(out, 1, 1);
  std::vector<v1::JobState> seen;
  bool final = false;
  ASSERT_THAT(c.coordinator.Watch(job,
                                  [&](const v1::JobStatus& s, bool f) {
                                    seen.push_back(s.state());
                                    final = f;
                                  }),
              testing::IsOk());
  AnswerMap(w1->Open()[0]);
  AnswerReduce(w1->Open()[0], "x\t1\n");
  EXPECT_TRUE(final);
  EXPECT_EQ(seen.front(), v1::MAPPING);
  EXPECT_EQ(seen.back(), v1::SUCCEEDED);
  EXPECT_THAT(seen, ::testing::Contains(v1::REDUCING));
}

TEST(CoordinatorTest, EmptyInputStillWritesEveryPart) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c;
  FakeWorker* w1 = c.AddWorker(2);
  std::string job = c.Submit(out, 0, 2);
  ASSERT_THAT(w1->Open(), SizeIs(2));
  for (auto* p : w1->Open()) {
    EXPECT_THAT(p->command.run_reduce().inputs(), SizeIs(0));
    AnswerReduce(p, "");
  }
  EXPECT_EQ(c.Status(job).state(), v1::SUCCEEDED);
  EXPECT_TRUE(fs::exists(out + "/part-00001"));
}

// Tasks that run for 10 ms on their workers, answered a 100 ms round trip
// after they were sent: the depth follows the run time the workers report, so
// after the first attempts every worker has the rest queued instead of one
// task per round trip.
TEST(CoordinatorTest, ShortTasksArePipelinedWhenAnswersTakeARoundTrip) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 24, 1);
  ASSERT_THAT(w1->Open(), SizeIs(1));  // nothing measured yet: one per slot
  ASSERT_THAT(w2->Open(), SizeIs(1));
  c.loop.AdvanceTime(absl::Milliseconds(100));
  AnswerMap(w1->Open()[0], /*run_seconds=*/0.01);
  AnswerMap(w2->Open()[0], /*run_seconds=*/0.01);
  EXPECT_EQ(w1->Open().size() + w2->Open().size(), 22u);
  EXPECT_GE(w1->Open().size(), 10u);
  EXPECT_GE(w2->Open().size(), 10u);
  EXPECT_EQ(c.Status(job).state(), v1::MAPPING);
}

TEST(SchedulerTest, PipelinesShortTasksOnly) {
  WorkerRegistry registry;
  Scheduler scheduler(&registry, SchedulerOptions{});
  EXPECT_EQ(scheduler.depth(), 1);  // unknown durations: one per slot
  scheduler.RecordAttemptDuration(absl::Milliseconds(10));
  EXPECT_EQ(scheduler.depth(), SchedulerOptions{}.max_pipeline_depth);  // from the first one
  scheduler.RecordAttemptDuration(absl::Seconds(2));
  EXPECT_EQ(scheduler.depth(), 1);
  for (int i = 0; i < 200; ++i) scheduler.RecordAttemptDuration(absl::Milliseconds(1));
  EXPECT_EQ(scheduler.depth(), SchedulerOptions{}.max_pipeline_depth);
  for (int i = 0; i < 200; ++i) scheduler.RecordAttemptDuration(absl::Seconds(2));
  EXPECT_EQ(scheduler.depth(), 1);
}

}  // namespace
}  // namespace ampmr::master

namespace ampmr::master {
namespace {

// Two maps and two reduces on two one-slot workers; m0's output lives on
// w1, which dies while r0 runs on it and r1 on w2.
struct LostMapOutput {
  TempDir tmp;
  Cluster c{OnePerSlot()};
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job;
  LostMapOutput() {
    std::string out = tmp.path() + "/out";
    fs::create_directories(out);
    job = c.Submit(out, 2, 2, /*max_attempts=*/1);
    AnswerMap(w1->Open()[0]);
    AnswerMap(w2->Open()[0]);
    EXPECT_EQ(c.Status(job).state(), v1::REDUCING);
    EXPECT_THAT(w1->Open(), SizeIs(1));  // r0
    EXPECT_THAT(w2->Open(), SizeIs(1));  // r1, which must fetch from w1 too
    c.coordinator.RemoveWorker(c.ids[0], absl::UnavailableError("gone"));
    w1->FailAll(absl::UnavailableError("connection lost"));
  }
  // Runs what w2 is given next, a map then reduces, to the job's end.
  void RunTheRestOnW2() {
    ASSERT_THAT(w2->Open(), SizeIs(1));
    FakeWorker::Pending* rerun = w2->Open()[0];
    ASSERT_TRUE(rerun->command.has_run_map());
    EXPECT_EQ(rerun->command.run_map().task().task_id(), "m0");
    AnswerMap(rerun);
    while (!w2->Open().empty()) {
      const v1::RunReduce& reduce = w2->Open()[0]->command.run_reduce();
      ASSERT_EQ(reduce.inputs_size(), 2);
      for (const auto& in : reduce.inputs()) EXPECT_EQ(in.worker_id(), c.ids[1]);
      AnswerReduce(w2->Open()[0], absl::StrCat("k", reduce.task().partition(), "\t1\n"));
    }
  }
};

TEST(CoordinatorTest, LostMapOutputIsMadeAgainAndAReduceThatCannotFetchItWaitsForIt) {
  LostMapOutput t;
  // r1 was not cancelled: it finds m0's output gone and says so.
  ASSERT_THAT(t.w2->Open(), SizeIs(1));
  FakeWorker::Pending* r1 = t.w2->Open()[0];
  ASSERT_TRUE(r1->command.has_run_reduce());
  absl::Status lost = absl::AbortedError("fetch map output of task m0: connection refused");
  lost.SetPayload(kLostMapOutputPayload, absl::Cord(t.job + "-m0-a1"));
  amp::Deferred<v1::Answer> r1_answer = r1->answer;
  r1_answer.Errback(lost);
  // m0 runs again on w2 before any reduce may start; then both reduces.
  t.RunTheRestOnW2();
  EXPECT_EQ(t.c.Status(t.job).state(), v1::SUCCEEDED);  // nothing counted against max_attempts=1
}

TEST(CoordinatorTest, ReduceThatFetchedEverythingBeforeTheLossIsNotRunAgain) {
  LostMapOutput t;
  ASSERT_THAT(t.w2->Open(), SizeIs(1));
  AnswerReduce(t.w2->Open()[0], "r1\t1\n");  // r1 had its inputs already
  t.RunTheRestOnW2();                        // m0 again, then only r0
  EXPECT_EQ(t.c.Status(t.job).state(), v1::SUCCEEDED);
  EXPECT_EQ(t.c.Status(t.job).reduce().done(), 2);
}

// Counters count accepted attempts only: a map made again because its
// output was lost counts once, not once per acceptance.
TEST(CoordinatorTest, MapMadeAgainAfterItsWorkerWasLostCountsOnce) {
  LostMapOutput t;
  AnswerReduce(t.w2->Open()[0], "r1\t1\n");
  t.RunTheRestOnW2();
  v1::JobStatus s = t.c.Status(t.job);
  EXPECT_EQ(s.state(), v1::SUCCEEDED);
  EXPECT_EQ(s.map().done(), 2);
  EXPECT_EQ(s.counters().at("ampmr.map_input_records"), 2 * 5);
}

TEST(CoordinatorTest, WorkerLostMidMapLeavesProgressAndCountersExact) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  Cluster c(OnePerSlot());
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(out, 4, 1);
  AnswerMap(w1->Open()[0]);  // m0 on w1
  AnswerMap(w2->Open()[0]);  // m1 on w2
  ASSERT_THAT(w1->Open(), SizeIs(1));
  EXPECT_EQ(c.Status(job).map().done(), 2);
  EXPECT_EQ(c.Status(job).counters().at("ampmr.map_input_records"), 2 * 5);
  c.coordinator.RemoveWorker(c.ids[0], absl::UnavailableError("no heartbeat"));
  w1->Close(absl::UnavailableError("no heartbeat"));
  // m0's output went with w1: it is done no more, and counts no more.
  EXPECT_EQ(c.Status(job).map().done(), 1);
  EXPECT_EQ(c.Status(job).counters().at("ampmr.map_input_records"), 5);
  while (!w2->Open().empty() && w2->Open()[0]->command.has_run_map()) {
    AnswerMap(w2->Open()[0]);
    EXPECT_LE(c.Status(job).map().done(), 4);
  }
  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::REDUCING);
  EXPECT_EQ(s.map().done(), 4);
  EXPECT_EQ(s.counters().at("ampmr.map_input_records"), 4 * 5);
}

TEST(CoordinatorTest, UnfetchableMapOutputIsMadeAgainInsteadOfFailingTheReduce) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(out, 1, 1, /*max_attempts=*/1);
  AnswerMap(w1->Open()[0]);
  absl::Status lost = absl::AbortedError("fetch map output of task m0: not found");
  lost.SetPayload(kLostMapOutputPayload, absl::Cord(job + "-m0-a1"));
  w1->Open()[0]->answer.Errback(lost);
  ASSERT_THAT(w1->Open(), SizeIs(1));
  EXPECT_EQ(w1->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a2");
  AnswerMap(w1->Open()[0]);
  ASSERT_THAT(w1->Open(), SizeIs(1));
  EXPECT_EQ(w1->Open()[0]->command.run_reduce().inputs(0).attempt_id(), job + "-m0-a2");
  AnswerReduce(w1->Open()[0], "");
  EXPECT_EQ(c.Status(job).state(), v1::SUCCEEDED);
}

// A map output no reducer could fetch is made again on another worker, when
// there is one, though its holder is free: its holder may be unreachable to
// that reducer, long before several reducers say so.
TEST(CoordinatorTest, UnfetchableMapOutputIsMadeAgainOnAnotherWorker) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c(OnePerSlot());
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(out, 1, 1);
  FakeWorker* holder = w1->Open().empty() ? w2 : w1;
  FakeWorker* other = holder == w1 ? w2 : w1;
  AnswerMap(holder->Open()[0]);
  FakeWorker* reducer = holder->Open().empty() ? other : holder;
  ASSERT_THAT(reducer->Open(), SizeIs(1));
  absl::Status lost = absl::AbortedError("fetch map output of task m0: connection refused");
  lost.SetPayload(kLostMapOutputPayload, absl::Cord(job + "-m0-a1"));
  reducer->Open()[0]->answer.Errback(lost);
  ASSERT_THAT(holder->Open(), SizeIs(0));
  ASSERT_THAT(other->Open(), SizeIs(1));
  EXPECT_EQ(other->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a2");
}

absl::Status FetchFailure(const std::string& map_attempt, const std::string& holder,
                          const std::string& address) {
  absl::Status lost = absl::AbortedError(absl::StrCat(
      "fetch map output of task m0 from worker=", holder, " at ", address, ": connection refused"));
  lost.SetPayload(kLostMapOutputPayload, absl::Cord(map_attempt));
  return lost;
}

// Reducers of two tasks cannot fetch from w1: it is shown unreachable and
// gets no more map tasks, though it is the least loaded worker.
TEST(CoordinatorTest, WorkerSeveralReducersCannotReachGetsNoMoreMaps) {
  TempDir tmp;
  Cluster c(OnePerSlot());
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 3);
  AnswerMap(w1->Open()[0]);  // m0's output is on w1
  ASSERT_THAT(w1->Open(), SizeIs(1));  // r0, which reads it in place
  FakeWorker* w2 = c.AddWorker(/*slots=*/2);
  ASSERT_THAT(w2->Open(), SizeIs(2));  // r1 and r2
  w2->Open()[0]->answer.Errback(FetchFailure(job + "-m0-a1", c.ids[0], "127.0.0.1:9001"));
  // m0 is made again on w2; r2's failure names the same output.
  ASSERT_THAT(w2->Open(), SizeIs(2));
  EXPECT_EQ(w2->Open()[1]->command.run_map().task().attempt_id(), job + "-m0-a2");
  EXPECT_FALSE(c.coordinator.ListWorkers()[0].unreachable());
  w2->Open()[0]->answer.Errback(FetchFailure(job + "-m0-a1", c.ids[0], "127.0.0.1:9001"));
  std::vector<v1::WorkerInfo> workers = c.coordinator.ListWorkers();
  EXPECT_TRUE(workers[0].unreachable());
  EXPECT_THAT(workers[0].warning(), HasSubstr("connection refused"));
  EXPECT_FALSE(workers[1].unreachable());

  AnswerReduce(w1->Open()[0], "r0\t1\n");  // w1 is idle now
  std::string other = c.Submit(tmp.path() + "/out2", 1, 1);
  EXPECT_THAT(w1->Open(), SizeIs(0));
  ASSERT_THAT(w2->Open(), SizeIs(2));
  EXPECT_EQ(w2->Open()[1]->command.run_map().task().attempt_id(), other + "-m0-a1");
}

// A map output that reducers can never fetch is made again at most
// max_attempts times; then the job fails with one line naming the worker,
// its address and the error, rather than looping.
TEST(CoordinatorTest, MapOutputNobodyCanFetchFailsTheJobAfterMaxAttempts) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 1, /*max_attempts=*/2);
  for (int made = 1; made <= 3; ++made) {
    ASSERT_THAT(w1->Open(), SizeIs(1));
    ASSERT_EQ(w1->Open()[0]->command.run_map().task().attempt_id(),
              absl::StrCat(job, "-m0-a", made));
    AnswerMap(w1->Open()[0]);
    ASSERT_THAT(w1->Open(), SizeIs(1));
    ASSERT_TRUE(w1->Open()[0]->command.has_run_reduce());
    w1->Open()[0]->answer.Errback(
        FetchFailure(absl::StrCat(job, "-m0-a", made), c.ids[0], "10.1.0.7:4000"));
  }
  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::FAILED);
  EXPECT_THAT(s.error(), HasSubstr("task m0"));
  EXPECT_THAT(s.error(), HasSubstr("could not fetch its output 3 times"));
  EXPECT_THAT(s.error(), HasSubstr("worker=w1 at 127.0.0.1:9001"));
  EXPECT_THAT(s.error(), HasSubstr("connection refused"));
  EXPECT_THAT(w1->Open(), SizeIs(0));
}

// A worker whose shuffle address is loopback but whose session came from
// another host is warned of, in ListWorkers (and the master's log).
TEST(CoordinatorTest, LoopbackShuffleAddressFromAnotherHostIsAWarning) {
  Cluster c;
  FakeWorker remote, local;
  v1::Hello hello;
  hello.set_shuffle_address("127.0.0.1:4567");
  c.coordinator.AddWorker(hello, &remote, "ipv4:10.201.0.2:40000");
  c.coordinator.AddWorker(hello, &local, "ipv4:127.0.0.1:40001");
  std::vector<v1::WorkerInfo> workers = c.coordinator.ListWorkers();
  ASSERT_THAT(workers, SizeIs(2));
  EXPECT_THAT(workers[0].warning(), HasSubstr("loopback shuffle address (127.0.0.1:4567)"));
  EXPECT_THAT(workers[0].warning(), HasSubstr("from 10.201.0.2"));
  EXPECT_EQ(workers[1].warning(), "");
}

TEST(CoordinatorTest, StragglerGetsABackupAndTheFirstToFinishWins) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  CoordinatorOptions options = NoSlowStart();
  options.backup_min_extra = absl::Seconds(3);
  options.heartbeat_timeout = absl::Hours(1);
  Cluster c(options);
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(out, 3, 1);
  c.loop.AdvanceTime(absl::Seconds(1));
  AnswerMap(w2->Open()[0]);  // m1 took 1 s
  c.loop.AdvanceTime(absl::Seconds(1));
  AnswerMap(w2->Open()[0]);  // m2 took 1 s; m0 on w1 is still running
  // Not yet a straggler: 2 s < max(2 x 1 s, 1 s + 3 s).
  c.loop.AdvanceTime(absl::Seconds(1));
  EXPECT_THAT(w2->Open(), SizeIs(0));
  c.loop.AdvanceTime(absl::Seconds(2));
  ASSERT_THAT(w2->Open(), SizeIs(1));
  EXPECT_EQ(w2->Open()[0]->command.run_map().task().task_id(), "m0");
  EXPECT_THAT(w1->Open(), SizeIs(1));  // never a second attempt on the same worker
  std::string slow = w1->Open()[0]->command.run_map().task().attempt_id();
  AnswerMap(w2->Open()[0]);
  EXPECT_THAT(w1->CancelledAttempts(), ::testing::ElementsAre(slow));
  EXPECT_EQ(c.Status(job).state(), v1::REDUCING);
}

// A lone task hung on a worker that still heartbeats: no attempt of the
// phase ever finishes, so there is no median; it gets a backup anyway.
TEST(CoordinatorTest, HungTaskGetsABackupEvenWithNoMedianToCompareWith) {
  TempDir tmp;
  CoordinatorOptions options;
  options.heartbeat_timeout = absl::Hours(1);
  options.backup_without_median = absl::Seconds(60);
  Cluster c(options);
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 1);
  FakeWorker* w2 = c.AddWorker();
  c.loop.AdvanceTime(absl::Seconds(50));
  EXPECT_THAT(w2->Open(), SizeIs(0));
  c.loop.AdvanceTime(absl::Seconds(15));
  ASSERT_THAT(w2->Open(), SizeIs(1));
  EXPECT_EQ(w2->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a2");
  AnswerMap(w2->Open()[0]);
  EXPECT_EQ(c.Status(job).state(), v1::REDUCING);
}

TEST(CoordinatorTest, DrainingWorkerGetsNothingNewAndGivesBackWithoutCounting) {
  TempDir tmp;
  Cluster c;
  FakeWorker* w1 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 1, 1, /*max_attempts=*/1);
  c.coordinator.DrainWorker(c.ids[0]);
  w1->Open()[0]->answer.Errback(absl::UnavailableError("worker draining"));
  EXPECT_THAT(w1->Open(), SizeIs(0));
  EXPECT_EQ(c.Status(job).state(), v1::MAPPING);
  FakeWorker* w2 = c.AddWorker();
  ASSERT_THAT(w2->Open(), SizeIs(1));
}

}  // namespace
}  // namespace ampmr::master

namespace ampmr::master {
namespace {

// The AddMapOutputs the master sent for reduce attempt `attempt`, in order.
std::vector<v1::AddMapOutputs> AddedTo(const FakeWorker* w, const std::string& attempt) {
  std::vector<v1::AddMapOutputs> out;
  for (const v1::Command& c : w->sent) {
    if (c.has_add_map_outputs() && c.add_map_outputs().attempt_id() == attempt) {
      out.push_back(c.add_map_outputs());
    }
  }
  return out;
}

// Slow start: once a map is done and a slot is free with no map queued, a
// reduce starts with the outputs accepted so far, then gets each one as it
// is accepted, the last saying so.
TEST(CoordinatorTest, ReducesStartEarlyAndGetTheRestOfTheirInputsAsMapsAreAccepted) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c(OnePerSlot());
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(out, 3, 2);
  AnswerMap(w1->Open()[0]);  // m0; m2 takes w1, maps first
  ASSERT_THAT(w1->Open(), SizeIs(1));
  ASSERT_TRUE(w1->Open()[0]->command.has_run_map());
  AnswerMap(w2->Open()[0]);  // m1; nothing queued wants w2: r0 starts early
  ASSERT_THAT(w2->Open(), SizeIs(1));
  const v1::RunReduce& r0 = w2->Open()[0]->command.run_reduce();
  EXPECT_EQ(r0.task().task_id(), "r0");
  EXPECT_TRUE(r0.more_inputs());
  ASSERT_EQ(r0.inputs_size(), 2);
  EXPECT_EQ(r0.inputs(0).map_task_id(), "m0");
  EXPECT_EQ(r0.inputs(0).worker_id(), c.ids[0]);
  EXPECT_EQ(r0.inputs(1).map_task_id(), "m1");
  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::MAPPING);
  EXPECT_EQ(s.map().running(), 1);
  EXPECT_EQ(s.reduce().running(), 1);
  EXPECT_THAT(AddedTo(w2, r0.task().attempt_id()), SizeIs(0));

  AnswerMap(w1->Open()[0]);  // m2, the last
  std::vector<v1::AddMapOutputs> added = AddedTo(w2, r0.task().attempt_id());
  ASSERT_THAT(added, SizeIs(1));
  ASSERT_EQ(added[0].inputs_size(), 1);
  EXPECT_EQ(added[0].inputs(0).map_task_id(), "m2");
  EXPECT_EQ(added[0].inputs(0).attempt_id(), job + "-m2-a1");
  EXPECT_EQ(added[0].inputs(0).shuffle_address(), "127.0.0.1:9001");
  EXPECT_TRUE(added[0].last());
  // r1 starts after the maps, with all of them.
  ASSERT_THAT(w1->Open(), SizeIs(1));
  const v1::RunReduce& r1 = w1->Open()[0]->command.run_reduce();
  EXPECT_FALSE(r1.more_inputs());
  EXPECT_EQ(r1.inputs_size(), 3);
  AnswerReduce(w1->Open()[0], "b\t2\n");
  AnswerReduce(w2->Open()[0], "a\t1\n");
  s = c.Status(job);
  EXPECT_EQ(s.state(), v1::SUCCEEDED);
  EXPECT_EQ(s.counters().at("ampmr.map_input_records"), 15);
  EXPECT_EQ(s.counters().at("ampmr.reduce_output_records"), 2);
}

TEST(CoordinatorTest, WithSlowStartAtOneReducesWaitForEveryMap) {
  TempDir tmp;
  CoordinatorOptions options = NoSlowStart();
  options.scheduler.max_pipeline_depth = 1;
  Cluster c(options);
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(tmp.path() + "/out", 3, 2);
  AnswerMap(w1->Open()[0]);
  AnswerMap(w2->Open()[0]);
  EXPECT_THAT(w2->Open(), SizeIs(0));  // idle: the reduces wait
  EXPECT_EQ(c.Status(job).reduce().running(), 0);
}

// A job's own fraction comes before the master's: 1 waits for every map
// under a master that starts reduces early, 0 starts them at once under one
// that waits.
TEST(CoordinatorTest, AJobsOwnSlowstartComesFirst) {
  TempDir tmp;
  for (double master : {0.05, 1.0}) {
    CoordinatorOptions options = OnePerSlot();
    options.reduce_slowstart = master;
    Cluster c(options);
    FakeWorker* w1 = c.AddWorker();
    FakeWorker* w2 = c.AddWorker();
    v1::JobSpec spec;
    spec.add_inputs("/in");
    spec.set_output(tmp.path() + absl::StrCat("/out", master));
    spec.set_mapper("builtin:wordcount");
    spec.set_reducer("builtin:sum");
    spec.set_reduces(2);
    spec.set_reduce_slowstart(master == 1.0 ? 0 : 1);
    SplitPlan splits;
    for (int i = 0; i < 3; ++i) splits.Add(absl::StrCat("/in/f", i), 0, 100);
    absl::StatusOr<std::string> job = c.coordinator.SubmitJob(spec, splits);
    ASSERT_THAT(job, testing::IsOk());
    AnswerMap(w1->Open()[0]);  // m0; m2 takes w1
    AnswerMap(w2->Open()[0]);  // m1; nothing queued wants w2
    EXPECT_EQ(c.Status(*job).reduce().running(), master == 1.0 ? 1 : 0) << "master " << master;
    EXPECT_EQ(c.Status(*job).state(), v1::MAPPING);
  }
}

// A worker lost while its early reduce waits: the reduce runs again
// elsewhere without counting, the map outputs it held are made again, and
// the early reduce holding the only slot left gives way to them.
TEST(CoordinatorTest, WorkerLostWhileEarlyReducesRunLeavesTheJobExact) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c(OnePerSlot());
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(out, 3, 2, /*max_attempts=*/1);
  AnswerMap(w1->Open()[0]);  // m0 on w1; m2 takes w1
  AnswerMap(w2->Open()[0]);  // m1 on w2; r0 starts early on w2
  ASSERT_TRUE(w2->Open()[0]->command.has_run_reduce());
  AnswerMap(w1->Open()[0]);  // m2 on w1: r0 has all; r1 starts on w1
  ASSERT_THAT(w1->Open(), SizeIs(1));
  // w1, holding m0 and m2, is lost before r0 fetched them.
  c.coordinator.RemoveWorker(c.ids[0], absl::UnavailableError("no heartbeat"));
  w1->Close(absl::UnavailableError("no heartbeat"));
  EXPECT_EQ(c.Status(job).map().done(), 1);
  // r0 cannot fetch m0 from w1: it says so, and is queued again, not counted.
  absl::Status lost = absl::AbortedError("fetch map output of task m0: connection refused");
  lost.SetPayload(kLostMapOutputPayload, absl::Cord(job + "-m0-a1"));
  w2->Open()[0]->answer.Errback(lost);
  // m0 and m2 run again on w2 first; r0 and r1 after, each once more.
  std::vector<std::string> ran;
  while (!w2->Open().empty()) {
    FakeWorker::Pending* p = w2->Open()[0];
    if (p->command.has_run_map()) {
      ran.push_back(p->command.run_map().task().task_id());
      AnswerMap(p);
      continue;
    }
    const v1::RunReduce& run = p->command.run_reduce();
    ran.push_back(run.task().task_id());
    for (const auto& in : run.inputs()) EXPECT_EQ(in.worker_id(), c.ids[1]);
    AnswerReduce(p, absl::StrCat("k", run.task().partition(), "\t1\n"));
  }
  ASSERT_THAT(ran, SizeIs(4));
  EXPECT_THAT(std::vector<std::string>(ran.begin(), ran.begin() + 2),
              ::testing::UnorderedElementsAre("m0", "m2"));
  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::SUCCEEDED) << s.error();
  EXPECT_EQ(s.map().done(), 3);
  EXPECT_EQ(s.counters().at("ampmr.map_input_records"), 15);
  EXPECT_EQ(s.counters().at("ampmr.reduce_output_records"), 2);
}

// Every slot held by early reduces when a map must run again: one of them
// is preempted (killed by the master, queued again, not counted) so that the
// map runs.
TEST(CoordinatorTest, EarlyReduceHoldingTheSlotAMapNeedsIsPreempted) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c(OnePerSlot());
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  std::string job = c.Submit(out, 2, 1, /*max_attempts=*/2);
  AnswerMap(w1->Open()[0]);  // m0 on w1; r0 starts early on w1
  ASSERT_THAT(w1->Open(), SizeIs(1));
  const std::string r0 = w1->Open()[0]->command.run_reduce().task().attempt_id();
  // m1 fails on w2 by itself: it goes to w1, where r0 holds the slot.
  w2->Open()[0]->answer.Errback(absl::InternalError("mapper exited 1"));
  EXPECT_THAT(w1->CancelledAttempts(), ::testing::ElementsAre(r0));
  ASSERT_THAT(w1->Open(), SizeIs(1));
  EXPECT_EQ(w1->Open()[0]->command.run_map().task().task_id(), "m1");
  // r0 again, early, on w2, which m1 avoids now.
  ASSERT_THAT(w2->Open(), SizeIs(1));
  const v1::RunReduce& again = w2->Open()[0]->command.run_reduce();
  EXPECT_EQ(again.task().attempt_id(), job + "-r0-a2");
  EXPECT_TRUE(again.more_inputs());
  AnswerMap(w1->Open()[0]);
  std::vector<v1::AddMapOutputs> added = AddedTo(w2, job + "-r0-a2");
  ASSERT_THAT(added, SizeIs(1));
  EXPECT_TRUE(added[0].last());
  EXPECT_THAT(AddedTo(w1, r0), SizeIs(0));
  AnswerReduce(w2->Open()[0], "a\t1\n");
  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::SUCCEEDED) << s.error();
  v1::ListTasksRequest list;
  list.set_job_id(job);
  absl::StatusOr<v1::ListTasksResponse> tasks = c.coordinator.ListTasks(list);
  ASSERT_THAT(tasks, testing::IsOk());
  for (const v1::TaskInfo& t : tasks->tasks()) {
    if (t.task_id() != "r0") continue;
    ASSERT_EQ(t.attempts_size(), 2);
    EXPECT_EQ(t.attempts(0).state(), v1::ATTEMPT_KILLED);
    EXPECT_EQ(t.attempts(1).state(), v1::ATTEMPT_SUCCEEDED);
  }
  EXPECT_EQ(s.counters().at("ampmr.reduce_output_records"), 1);
}

// An early reduce that cannot fetch a map output says so on its heartbeat
// while maps still run: the output is made again at once (not once every
// map is done), and the reduce, which goes on waiting, gets its new
// location. A report from another worker, or of an attempt that is not
// running, changes nothing.
TEST(CoordinatorTest, EarlyReducesFetchFailureMakesTheOutputAgainWhileMapsRun) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  Cluster c(OnePerSlot());
  FakeWorker* w1 = c.AddWorker();
  FakeWorker* w2 = c.AddWorker();
  FakeWorker* w3 = c.AddWorker();
  std::string job = c.Submit(out, 4, 1);
  AnswerMap(w1->Open()[0]);  // m0 on w1; m3 takes w1
  ASSERT_TRUE(w1->Open()[0]->command.has_run_map());
  AnswerMap(w2->Open()[0]);  // m1 on w2; r0 starts early on w2
  ASSERT_THAT(w2->Open(), SizeIs(1));
  const std::string r0 = w2->Open()[0]->command.run_reduce().task().attempt_id();
  AnswerMap(w3->Open()[0]);  // m2 on w3, which is left idle
  ASSERT_THAT(w3->Open(), SizeIs(0));

  v1::FetchFailure failure;
  failure.set_attempt_id(r0);
  failure.set_lost_attempt_id(job + "-m0-a1");
  failure.set_error("fetch map output of task m0 from worker=w1 at 127.0.0.1:9001: refused");
  google::protobuf::RepeatedPtrField<v1::FetchFailure> failures;
  *failures.Add() = failure;
  c.coordinator.FetchFailures(c.ids[0], failures);  // not r0's worker
  google::protobuf::RepeatedPtrField<v1::FetchFailure> unknown;
  *unknown.Add() = failure;
  unknown[0].set_attempt_id(job + "-r0-a7");
  c.coordinator.FetchFailures(c.ids[1], unknown);
  EXPECT_EQ(c.Status(job).map().done(), 3);
  ASSERT_THAT(w3->Open(), SizeIs(0));

  c.coordinator.FetchFailures(c.ids[1], failures);
  v1::JobStatus s = c.Status(job);
  EXPECT_EQ(s.state(), v1::MAPPING);
  EXPECT_EQ(s.map().done(), 2);
  ASSERT_THAT(w3->Open(), SizeIs(1));
  EXPECT_EQ(w3->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a2");
  ASSERT_THAT(w2->Open(), SizeIs(1));  // r0 goes on waiting
  EXPECT_EQ(w2->Open()[0]->command.run_reduce().task().attempt_id(), r0);
  EXPECT_THAT(w2->CancelledAttempts(), SizeIs(0));

  AnswerMap(w3->Open()[0]);
  std::vector<v1::AddMapOutputs> added = AddedTo(w2, r0);
  ASSERT_FALSE(added.empty());
  const v1::AddMapOutputs& again = added.back();
  ASSERT_EQ(again.inputs_size(), 1);
  EXPECT_EQ(again.inputs(0).map_task_id(), "m0");
  EXPECT_EQ(again.inputs(0).attempt_id(), job + "-m0-a2");
  EXPECT_EQ(again.inputs(0).worker_id(), c.ids[2]);
  EXPECT_FALSE(again.last());  // m3 still runs
  AnswerMap(w1->Open()[0]);    // m3, the last
  EXPECT_TRUE(AddedTo(w2, r0).back().last());
  AnswerReduce(w2->Open()[0], "a\t1\n");
  s = c.Status(job);
  EXPECT_EQ(s.state(), v1::SUCCEEDED) << s.error();
  EXPECT_EQ(s.counters().at("ampmr.map_input_records"), 20);  // m0 counted once
}


// Whether `ctx` names only the task: its job's fields were left out.
bool IsShortForm(const v1::TaskContext& ctx) {
  v1::TaskContext own;
  own.set_job_id(ctx.job_id());
  own.set_task_id(ctx.task_id());
  own.set_attempt_id(ctx.attempt_id());
  own.set_partition(ctx.partition());
  return ctx.SerializeAsString() == own.SerializeAsString();
}

// One attempt per slot, and reduces only once every map is done.
CoordinatorOptions OnePerSlotNoSlowStart() {
  CoordinatorOptions options = OnePerSlot();
  options.reduce_slowstart = 1;
  return options;
}

// Answers every open map of `w` until it has none.
void AnswerMaps(FakeWorker* w) {
  while (!w->Open().empty() && w->Open()[0]->command.has_run_map()) AnswerMap(w->Open()[0]);
}

TEST(CoordinatorTest, AJobsContextGoesOncePerSessionBeforeItsFirstTask) {
  TempDir tmp;
  Cluster c(OnePerSlotNoSlowStart());
  FakeWorker* w1 = c.AddWorker(1, /*job_contexts=*/true);
  std::string job = c.Submit(tmp.path() + "/out", 3, 2);

  ASSERT_THAT(w1->Open(), SizeIs(1));
  ASSERT_THAT(w1->kinds, ElementsAre(v1::Command::kJobContext, v1::Command::kRunMap));
  ASSERT_THAT(w1->JobContexts(), SizeIs(1));
  const v1::JobContext sent = w1->JobContexts()[0];
  EXPECT_EQ(sent.job_id(), job);
  EXPECT_EQ(sent.context().mapper(), "builtin:wordcount");
  EXPECT_EQ(sent.context().reducer(), "builtin:sum");
  EXPECT_EQ(sent.context().reduces(), 2);
  EXPECT_EQ(sent.context().task_id(), "");
  EXPECT_EQ(sent.context().attempt_id(), "");
  const v1::TaskContext& m0 = w1->Open()[0]->command.run_map().task();
  EXPECT_TRUE(IsShortForm(m0)) << m0.DebugString();
  EXPECT_EQ(m0.job_id(), job);
  EXPECT_EQ(m0.task_id(), "m0");
  EXPECT_EQ(m0.attempt_id(), job + "-m0-a1");

  // A later task of the job on this session: short, and no context again.
  AnswerMap(w1->Open()[0]);
  ASSERT_THAT(w1->Open(), SizeIs(1));
  EXPECT_TRUE(IsShortForm(w1->Open()[0]->command.run_map().task()));
  EXPECT_THAT(w1->JobContexts(), SizeIs(1));

  // The worker reconnects: its new session has no context until sent one.
  c.coordinator.RemoveWorker(c.ids[0], absl::UnavailableError("stream ended"));
  w1->FailAll(absl::UnavailableError("connection lost"));
  FakeWorker* w2 = c.AddWorker(1, /*job_contexts=*/true);
  ASSERT_THAT(w2->Open(), SizeIs(1));
  ASSERT_THAT(w2->kinds, ElementsAre(v1::Command::kJobContext, v1::Command::kRunMap));
  EXPECT_EQ(w2->JobContexts()[0].job_id(), job);
  AnswerMaps(w2);
  ASSERT_THAT(w2->Open(), SizeIs(1));
  const v1::TaskContext& r0 = w2->Open()[0]->command.run_reduce().task();
  EXPECT_TRUE(IsShortForm(r0)) << r0.DebugString();
  EXPECT_EQ(r0.task_id(), "r0");
  AnswerReduce(w2->Open()[0], "a\t1\n");
  AnswerReduce(w2->Open()[0], "b\t1\n");
  EXPECT_EQ(c.Status(job).state(), v1::SUCCEEDED);
  EXPECT_THAT(w2->JobContexts(), SizeIs(1));

  // Told to forget the job, the worker has no context; the next job's goes
  // before that job's first task.
  EXPECT_THAT(w2->ForgottenJobs(), ElementsAre(job));
  std::string next = c.Submit(tmp.path() + "/out2", 1, 1);
  ASSERT_THAT(w2->JobContexts(), SizeIs(2));
  EXPECT_EQ(w2->JobContexts()[1].job_id(), next);
  ASSERT_THAT(w2->kinds, SizeIs(Ge(2)));
  EXPECT_EQ(w2->kinds[w2->kinds.size() - 2], v1::Command::kJobContext);
  EXPECT_EQ(w2->kinds.back(), v1::Command::kRunMap);
  EXPECT_TRUE(IsShortForm(w2->Open()[0]->command.run_map().task()));
}

TEST(WorkerRegistryTest, ForgetJobTellsEveryWorkerAndForgetsItsContextWasSent) {
  WorkerRegistry registry;
  FakeWorker a, b;
  v1::Hello hello;
  hello.set_job_contexts(true);
  WorkerState* wa = registry.Add(hello, &a, absl::UnixEpoch());
  WorkerState* wb = registry.Add(hello, &b, absl::UnixEpoch());
  wa->job_contexts = {"j1", "j2"};
  wb->job_contexts = {"j1"};
  registry.ForgetJob("j1", /*logs=*/false);
  EXPECT_THAT(a.ForgottenJobs(), ElementsAre("j1"));
  EXPECT_THAT(b.ForgottenJobs(), ElementsAre("j1"));
  EXPECT_THAT(wa->job_contexts, ElementsAre("j2"));
  EXPECT_THAT(wb->job_contexts, IsEmpty());
}

TEST(CoordinatorTest, AWorkerThatDoesNotReadJobContextsGetsTheWholeContextInEveryTask) {
  TempDir tmp;
  Cluster c(OnePerSlotNoSlowStart());
  FakeWorker* old = c.AddWorker();
  FakeWorker* now = c.AddWorker(1, /*job_contexts=*/true);
  std::string job = c.Submit(tmp.path() + "/out", 4, 2);
  AnswerMaps(old);
  AnswerMaps(now);
  EXPECT_EQ(c.Status(job).state(), v1::REDUCING);
  ASSERT_THAT(old->Open(), SizeIs(1));
  const v1::TaskContext& reduce = old->Open()[0]->command.run_reduce().task();
  EXPECT_EQ(reduce.mapper(), "builtin:wordcount");
  EXPECT_EQ(reduce.reducer(), "builtin:sum");
  EXPECT_EQ(reduce.reduces(), 2);
  EXPECT_THAT(old->JobContexts(), IsEmpty());
  int maps = 0;
  for (const auto& p : old->calls) {
    if (!p.command.has_run_map()) continue;
    ++maps;
    EXPECT_EQ(p.command.run_map().task().mapper(), "builtin:wordcount");
    EXPECT_EQ(p.command.run_map().task().reduces(), 2);
  }
  EXPECT_GT(maps, 0);
  EXPECT_THAT(now->JobContexts(), SizeIs(1));
}

// --total-order: the sampling tasks carry the whole context (the cut points
// are not known yet); the job's context, cut points and all, goes once they are.
TEST(CoordinatorTest, ATotalOrderJobsContextGoesWithItsCutPointsAfterSampling) {
  TempDir tmp;
  Cluster c(OnePerSlotNoSlowStart());
  FakeWorker* w1 = c.AddWorker(1, /*job_contexts=*/true);
  v1::JobSpec spec;
  spec.add_inputs("/in");
  spec.set_output(tmp.path() + "/out");
  spec.set_mapper("builtin:identity");
  spec.set_reducer("builtin:identity");
  spec.set_reduces(2);
  spec.set_max_attempts(1);
  spec.set_total_order(true);
  SplitPlan splits;
  for (int i = 0; i < 2; ++i) splits.Add(absl::StrCat("/in/f", i), 0, 100);
  absl::StatusOr<std::string> job = c.coordinator.SubmitJob(spec, splits);
  ASSERT_THAT(job, testing::IsOk());

  for (const char* key : {"a", "m"}) {
    ASSERT_THAT(w1->Open(), SizeIs(1));
    const v1::RunMap& sample = w1->Open()[0]->command.run_map();
    ASSERT_GT(sample.sample_bytes(), 0);
    EXPECT_EQ(sample.task().mapper(), "builtin:identity");
    EXPECT_THAT(w1->JobContexts(), IsEmpty());
    v1::Answer answer;
    answer.mutable_map_done()->set_attempt_id(sample.task().attempt_id());
    answer.mutable_map_done()->add_sample_keys(key);
    answer.mutable_map_done()->add_sample_keys("z");
    w1->Open()[0]->answer.Callback(answer);
  }
  ASSERT_THAT(w1->Open(), SizeIs(1));
  EXPECT_EQ(w1->Open()[0]->command.run_map().sample_bytes(), 0);
  EXPECT_TRUE(IsShortForm(w1->Open()[0]->command.run_map().task()));
  ASSERT_THAT(w1->JobContexts(), SizeIs(1));
  EXPECT_THAT(w1->JobContexts()[0].context().cut_points(), SizeIs(1));
  EXPECT_EQ(w1->kinds[w1->kinds.size() - 2], v1::Command::kJobContext);
}

}  // namespace
}  // namespace ampmr::master
