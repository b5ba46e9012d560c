// A master that stops and starts again on the same journal: Coordinator and
// JobRun on a FakeLoop with fake workers and a real journal file. The first
// master's coordinator is simply destroyed (what it had not committed is
// gone, as after SIGKILL); the second recovers from what was committed.
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/coordinator.h"
#include "master/journal.h"
#include "master/output_committer.h"
#include "tests/master/fake_worker.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

namespace fs = std::filesystem;
using ::ampmr::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

CoordinatorOptions Options() {
  CoordinatorOptions options;
  options.heartbeat_timeout = absl::Hours(1);
  options.rejoin_grace = absl::Seconds(10);
  return options;
}

// One master's life on `data_dir`.
struct Master {
  explicit Master(const std::string& data_dir, CoordinatorOptions options = Options()) {
    absl::StatusOr<std::unique_ptr<Journal>> opened = Journal::Open(data_dir + "/journal.db");
    EXPECT_THAT(opened, IsOk());
    journal = std::move(*opened);
    options.journal = journal.get();
    coordinator = std::make_unique<Coordinator>(&loop, options);
    recovered = coordinator->Recover();
    coordinator->Start();
  }
  FakeWorker* AddWorker(const std::string& shuffle_address,
                        const std::vector<v1::HeldMapOutput>& held = {}) {
    workers.push_back(std::make_unique<FakeWorker>());
    v1::Hello hello;
    hello.set_slots(1);
    hello.set_shuffle_address(shuffle_address);
    for (const auto& h : held) *hello.add_map_outputs() = h;
    ids.push_back(coordinator->AddWorker(hello, workers.back().get()).worker_id());
    return workers.back().get();
  }
  std::string Submit(const std::string& output, int maps, int reduces,
                     const std::string& reducer = "builtin:sum") {
    v1::JobSpec spec;
    spec.add_inputs("/in");
    spec.set_output(output);
    spec.set_mapper("builtin:wordcount");
    spec.set_reducer(reducer);
    spec.set_reduces(reduces);
    spec.set_max_attempts(4);
    SplitPlan splits;
    for (int i = 0; i < maps; ++i) splits.Add(absl::StrCat("/in/f", i), 0, 100);
    absl::StatusOr<std::string> id = coordinator->SubmitJob(spec, splits);
    EXPECT_THAT(id, IsOk());
    return id.ok() ? *id : "";
  }
  v1::JobStatus Status(const std::string& id) { return *coordinator->GetJob(id); }
  // Lets the group commit happen.
  void Commit() { loop.AdvanceTime(absl::Milliseconds(50)); }

  FakeLoop loop;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<Coordinator> coordinator;
  absl::Status recovered;
  std::vector<std::unique_ptr<FakeWorker>> workers;
  std::vector<std::string> ids;
};

v1::HeldMapOutput Held(const std::string& job, const std::string& attempt) {
  v1::HeldMapOutput h;
  h.set_job_id(job);
  h.set_attempt_id(attempt);
  h.set_output_path(MapOutputPath(attempt));
  return h;
}

// Answers every open map call of `workers` until none is left; returns the
// attempt ids that ran.
std::vector<std::string> RunAllMaps(const std::vector<FakeWorker*>& workers) {
  std::vector<std::string> ran;
  for (bool any = true; any;) {
    any = false;
    for (FakeWorker* w : workers) {
      for (FakeWorker::Pending* p : w->Open()) {
        if (!p->command.has_run_map()) continue;
        ran.push_back(p->command.run_map().task().attempt_id());
        AnswerMap(p);
        any = true;
      }
    }
  }
  return ran;
}

std::vector<FakeWorker::Pending*> OpenReduces(const std::vector<FakeWorker*>& workers) {
  std::vector<FakeWorker::Pending*> out;
  for (FakeWorker* w : workers) {
    for (FakeWorker::Pending* p : w->Open()) {
      if (p->command.has_run_reduce()) out.push_back(p);
    }
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(RecoveryTest, MidMapReusesReportedOutputsAndRunsTheRestAgain) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  std::string job;
  {
    Master a(tmp.path());
    FakeWorker* w1 = a.AddWorker("127.0.0.1:9001");
    FakeWorker* w2 = a.AddWorker("127.0.0.1:9002");
    job = a.Submit(out, 4, 2);
    ASSERT_EQ(w1->Open()[0]->command.run_map().task().attempt_id(), job + "-m0-a1");
    AnswerMap(w1->Open()[0]);
    AnswerMap(w2->Open()[0]);  // m1
    a.Commit();
    EXPECT_EQ(a.Status(job).map().done(), 2);
  }  // the master dies with m2 and m3 running

  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  v1::JobStatus s = b.Status(job);
  EXPECT_EQ(s.state(), v1::MAPPING);
  EXPECT_EQ(s.map().done(), 2);
  EXPECT_EQ(s.spec().output(), out);
  // w1 comes back holding m0's output; w2 comes back without m1's.
  FakeWorker* v1 = b.AddWorker("127.0.0.1:9001", {Held(job, job + "-m0-a1")});
  FakeWorker* v2 = b.AddWorker("127.0.0.1:9002");
  std::vector<std::string> ran = RunAllMaps({v1, v2});
  EXPECT_THAT(std::set<std::string>(ran.begin(), ran.end()),
              ::testing::ContainerEq(
                  std::set<std::string>{job + "-b2-m1-a1", job + "-b2-m2-a1", job + "-b2-m3-a1"}));
  ASSERT_EQ(b.Status(job).state(), v1::REDUCING);

  std::vector<FakeWorker::Pending*> reduces = OpenReduces({v1, v2});
  ASSERT_THAT(reduces, SizeIs(2));
  bool saw_m0 = false;
  for (const auto& in : reduces[0]->command.run_reduce().inputs()) {
    if (in.map_task_id() != "m0") continue;
    saw_m0 = true;
    EXPECT_EQ(in.attempt_id(), job + "-m0-a1");
    EXPECT_EQ(in.worker_id(), b.ids[0]);
    EXPECT_EQ(in.shuffle_address(), "127.0.0.1:9001");
  }
  EXPECT_TRUE(saw_m0);
  AnswerReduce(reduces[0], "a\t1\n");
  AnswerReduce(reduces[1], "b\t1\n");
  s = b.Status(job);
  EXPECT_EQ(s.state(), v1::SUCCEEDED);
  EXPECT_TRUE(fs::exists(out + "/_SUCCESS"));
  // Each map counted once: the reused one from the journal, the others now.
  EXPECT_EQ(s.counters().at("ampmr.map_input_records"), 4 * 5);
  EXPECT_EQ(b.Submit(tmp.path() + "/out2", 1, 1), "j2");
}

TEST(RecoveryTest, MidReduceKeepsCommittedReducesAndRunsNoMapAgain) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  fs::create_directories(out);
  std::string job;
  {
    Master a(tmp.path());
    FakeWorker* w1 = a.AddWorker("127.0.0.1:9001");
    FakeWorker* w2 = a.AddWorker("127.0.0.1:9002");
    job = a.Submit(out, 2, 3);
    AnswerMap(w1->Open()[0]);
    AnswerMap(w2->Open()[0]);
    ASSERT_EQ(a.Status(job).state(), v1::REDUCING);
    ASSERT_EQ(w1->Open()[0]->command.run_reduce().task().task_id(), "r0");
    AnswerReduce(w1->Open()[0], "first\t1\n");
    a.Commit();
  }

  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  v1::JobStatus s = b.Status(job);
  EXPECT_EQ(s.state(), v1::REDUCING);
  EXPECT_EQ(s.reduce().done(), 1);
  FakeWorker* v1 = b.AddWorker("127.0.0.1:9001", {Held(job, job + "-m0-a1")});
  EXPECT_THAT(v1->Open(), IsEmpty());  // m1's output is still awaited
  FakeWorker* v2 = b.AddWorker("127.0.0.1:9002", {Held(job, job + "-m1-a1")});
  std::vector<FakeWorker::Pending*> reduces = OpenReduces({v1, v2});
  ASSERT_THAT(reduces, SizeIs(2));
  std::set<std::string> attempts;
  for (auto* p : reduces) {
    attempts.insert(p->command.run_reduce().task().attempt_id());
    EXPECT_THAT(p->command.run_reduce().inputs(), SizeIs(2));
    AnswerReduce(p, "later\t1\n");
  }
  EXPECT_THAT(attempts, ElementsAre(job + "-b2-r1-a1", job + "-b2-r2-a1"));
  EXPECT_EQ(b.Status(job).state(), v1::SUCCEEDED);
  EXPECT_EQ(ReadFile(out + "/part-00000"), "first\t1\n");
  EXPECT_EQ(ReadFile(out + "/part-00002"), "later\t1\n");
  EXPECT_FALSE(fs::exists(OutputCommitter(out, job).stage()));
}

TEST(RecoveryTest, MapOutputsNobodyReportsRunAgainAfterTheGrace) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  std::string job;
  {
    Master a(tmp.path());
    FakeWorker* w1 = a.AddWorker("127.0.0.1:9001");
    job = a.Submit(out, 1, 1);
    AnswerMap(w1->Open()[0]);
    a.Commit();
  }
  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  FakeWorker* other = b.AddWorker("127.0.0.1:9009");
  EXPECT_THAT(other->Open(), IsEmpty());  // the reduce waits for m0's holder
  b.loop.AdvanceTime(absl::Seconds(9));
  EXPECT_THAT(other->Open(), IsEmpty());
  b.loop.AdvanceTime(absl::Seconds(2));
  ASSERT_THAT(other->Open(), SizeIs(1));
  EXPECT_EQ(other->Open()[0]->command.run_map().task().attempt_id(), job + "-b2-m0-a1");
  AnswerMap(other->Open()[0]);
  ASSERT_THAT(other->Open(), SizeIs(1));
  const v1::RunReduce& reduce = other->Open()[0]->command.run_reduce();
  ASSERT_THAT(reduce.inputs(), SizeIs(1));
  EXPECT_EQ(reduce.inputs(0).shuffle_address(), "127.0.0.1:9009");
  AnswerReduce(other->Open()[0], "x\t1\n");
  EXPECT_EQ(b.Status(job).state(), v1::SUCCEEDED);
  EXPECT_EQ(b.Status(job).counters().at("ampmr.map_input_records"), 5);
}

TEST(RecoveryTest, FinishedJobsKeepTheirHistoryAndTheirOutputsAreForgotten) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  v1::JobStatus before;
  {
    Master a(tmp.path());
    FakeWorker* w1 = a.AddWorker("127.0.0.1:9001");
    std::string job = a.Submit(out, 2, 1);
    RunAllMaps({w1});
    AnswerReduce(w1->Open()[0], "x\t1\n");
    before = a.Status(job);
    ASSERT_EQ(before.state(), v1::SUCCEEDED);
  }
  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  ASSERT_THAT(b.coordinator->ListJobs({})->jobs(), SizeIs(1));
  v1::JobStatus after = b.Status("j1");
  EXPECT_EQ(after.state(), v1::SUCCEEDED);
  EXPECT_EQ(after.map().total(), 2);
  EXPECT_EQ(after.reduce().done(), 1);
  EXPECT_EQ(after.end_time(), before.end_time());
  EXPECT_EQ(after.counters().at("ampmr.map_input_records"), 10);
  EXPECT_EQ(after.spec().output(), out);
  FakeWorker* w = b.AddWorker("127.0.0.1:9001", {Held("j1", "j1-m0-a1")});
  EXPECT_THAT(w->ForgottenJobs(), ElementsAre("j1"));
  EXPECT_EQ(b.Submit(tmp.path() + "/out2", 1, 1), "j2");
}

// A master killed mid-commit, its parts and _SUCCESS assembled but not yet
// renamed into place: the next one finishes the commit.
TEST(RecoveryTest, InterruptedJobCommitIsRedone) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  {
    absl::StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(tmp.path() + "/journal.db");
    ASSERT_THAT(journal, IsOk());
    v1::JobSpec spec;
    spec.add_inputs("/in");
    spec.set_output(out);
    spec.set_mapper("builtin:wordcount");
    spec.set_reducer("builtin:sum");
    spec.set_reduces(2);
    SplitPlan splits;
    splits.Add("/in/f0", 0, 100);
    (*journal)->JobSubmitted("j1", spec, splits, 1000);
    for (int r = 0; r < 2; ++r) {
      v1::Answer answer;
      answer.mutable_reduce_done()->set_attempt_id(absl::StrCat("j1-r", r, "-a1"));
      (*journal)->TaskAccepted("j1", /*is_map=*/false, r, "127.0.0.1:9001", answer);
    }
    ASSERT_THAT((*journal)->Flush(), IsOk());
  }
  const std::string stage = OutputCommitter(out, "j1").stage();
  fs::create_directories(stage + "/output");
  std::ofstream(stage + "/output/part-00000") << "staged\t1\n";
  std::ofstream(stage + "/output/part-00001") << "staged too\t1\n";
  std::ofstream(stage + "/output/_SUCCESS");
  EXPECT_FALSE(fs::exists(out));

  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  EXPECT_EQ(b.Status("j1").state(), v1::SUCCEEDED);
  EXPECT_EQ(ReadFile(out + "/part-00000"), "staged\t1\n");
  EXPECT_EQ(ReadFile(out + "/part-00001"), "staged too\t1\n");
  EXPECT_TRUE(fs::exists(out + "/_SUCCESS"));
  EXPECT_FALSE(fs::exists(stage));
}

TEST(RecoveryTest, ReduceWhosePartFileIsGoneRunsAgain) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  std::string job;
  {
    Master a(tmp.path());
    FakeWorker* w1 = a.AddWorker("127.0.0.1:9001");
    job = a.Submit(out, 1, 2);
    RunAllMaps({w1});
    AnswerReduce(w1->Open()[0], "r0\t1\n");
    a.Commit();
  }
  fs::remove_all(OutputCommitter(out, job).stage());  // someone cleaned up
  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  EXPECT_EQ(b.Status(job).reduce().done(), 0);
  FakeWorker* v1 = b.AddWorker("127.0.0.1:9001", {Held(job, job + "-m0-a1")});
  std::vector<FakeWorker::Pending*> reduces = OpenReduces({v1});
  ASSERT_THAT(reduces, SizeIs(1));
  EXPECT_EQ(reduces[0]->command.run_reduce().task().task_id(), "r0");
}

// A map-only job's maps commit part files like reduces: the committed ones
// are kept, with no worker needed to report anything.
TEST(RecoveryTest, MapOnlyJobKeepsCommittedMapParts) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  std::string job;
  auto answer_map_only = [](FakeWorker::Pending* p, const std::string& content) {
    const v1::RunMap& run = p->command.run_map();
    fs::create_directories(run.output_dir());
    char name[32];
    snprintf(name, sizeof(name), "/part-%05d", run.task().partition());
    std::ofstream(run.output_dir() + name) << content;
    v1::Answer answer;
    answer.mutable_map_done()->set_attempt_id(run.task().attempt_id());
    p->answer.Callback(answer);
  };
  {
    Master a(tmp.path());
    FakeWorker* w1 = a.AddWorker("127.0.0.1:9001");
    job = a.Submit(out, 2, 0, "none");
    answer_map_only(w1->Open()[0], "m0\t1\n");
    a.Commit();
    ASSERT_THAT(w1->Open(), SizeIs(1));  // m1 runs when the master dies
  }
  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  EXPECT_EQ(b.Status(job).map().done(), 1);
  FakeWorker* v1 = b.AddWorker("127.0.0.1:9005");
  ASSERT_THAT(v1->Open(), SizeIs(1));
  EXPECT_EQ(v1->Open()[0]->command.run_map().task().attempt_id(), job + "-b2-m1-a1");
  answer_map_only(v1->Open()[0], "m1\t1\n");
  EXPECT_EQ(b.Status(job).state(), v1::SUCCEEDED);
  EXPECT_EQ(ReadFile(out + "/part-00000"), "m0\t1\n");
  EXPECT_EQ(ReadFile(out + "/part-00001"), "m1\t1\n");
}

// A journaled job keeps its shipped files across a restart: workers that
// join the new master fetch them from it.
TEST(RecoveryTest, ShippedFilesSurviveARestart) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  std::string job;
  {
    Master a(tmp.path());
    v1::JobSpec spec;
    spec.add_inputs("/in");
    spec.set_output(out);
    spec.set_mapper("exec:python3 m.py");
    spec.set_reduces(1);
    spec.set_max_attempts(4);
    v1::ShippedFile* file = spec.add_files();
    file->set_name("m.py");
    file->set_mode(0755);
    file->set_content("print(1)\n");
    SplitPlan splits;
    splits.Add("/in/f0", 0, 100);
    absl::StatusOr<std::string> id = a.coordinator->SubmitJob(spec, splits);
    ASSERT_THAT(id, IsOk());
    job = *id;
  }
  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  absl::StatusOr<v1::JobFiles> files = b.coordinator->JobFiles(job);
  ASSERT_THAT(files, IsOk());
  ASSERT_EQ(files->files_size(), 1);
  EXPECT_EQ(files->files(0).name(), "m.py");
  EXPECT_EQ(files->files(0).mode(), 0755u);
  EXPECT_EQ(files->files(0).content(), "print(1)\n");
  // Listed with the job, without the content.
  ASSERT_EQ(b.Status(job).spec().files_size(), 1);
  EXPECT_EQ(b.Status(job).spec().files(0).size(), 9);
  EXPECT_EQ(b.Status(job).spec().files(0).content(), "");
  FakeWorker* w = b.AddWorker("127.0.0.1:9001");
  ASSERT_THAT(w->Open(), SizeIs(1));
  EXPECT_THAT(w->Open()[0]->command.run_map().task().files(), ElementsAre("m.py"));
}

// Worker ids are never handed out twice, even by a restarted master: a log
// line or an attempt naming "w2" means one process.
TEST(RecoveryTest, WorkerIdsKeepGrowingAcrossARestart) {
  TempDir tmp;
  {
    Master a(tmp.path());
    a.AddWorker("127.0.0.1:9001");
    a.AddWorker("127.0.0.1:9002");
    EXPECT_EQ(a.ids.back(), "w2");
  }
  Master b(tmp.path());
  ASSERT_THAT(b.recovered, IsOk());
  b.AddWorker("127.0.0.1:9001");
  EXPECT_EQ(b.ids.back(), "w3");
}

}  // namespace
}  // namespace ampmr::master
