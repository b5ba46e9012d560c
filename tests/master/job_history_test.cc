// What the coordinator keeps of jobs: ListJobs pages, trimmed specs, and
// finished jobs beyond keep_jobs forgotten but still answered for from a
// real journal. Coordinator on a FakeLoop; jobs with no workers are
// cancelled to end them.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/coordinator.h"
#include "master/journal.h"
#include "tests/master/fake_worker.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Master {
  explicit Master(const std::string& dir, int keep_jobs) {
    absl::StatusOr<std::unique_ptr<Journal>> opened = Journal::Open(dir + "/journal.db");
    EXPECT_THAT(opened, IsOk());
    journal = std::move(*opened);
    CoordinatorOptions options;
    options.journal = journal.get();
    options.keep_jobs = keep_jobs;
    coordinator = std::make_unique<Coordinator>(&loop, options);
    EXPECT_THAT(coordinator->Recover(), IsOk());
    coordinator->Start();
  }
  // A job with three inputs and two splits; no worker runs it.
  std::string Submit(const std::string& output) {
    v1::JobSpec spec;
    for (int i = 0; i < 3; ++i) spec.add_inputs(absl::StrCat("/in/", i));
    spec.set_output(output);
    spec.set_mapper("builtin:wordcount");
    spec.set_reducer("builtin:sum");
    spec.set_reduces(1);
    spec.set_max_attempts(1);
    SplitPlan splits;
    splits.Add("", 0, 0);
    splits.Add("", 0, 0);
    absl::StatusOr<std::string> id = coordinator->SubmitJob(spec, splits);
    EXPECT_THAT(id, IsOk());
    return *id;
  }
  std::vector<std::string> Listed(int page_size) {
    std::vector<std::string> ids;
    v1::ListJobsRequest request;
    request.set_page_size(page_size);
    do {
      absl::StatusOr<v1::ListJobsResponse> page = coordinator->ListJobs(request);
      EXPECT_THAT(page, IsOk());
      EXPECT_LE(page->jobs_size(), page_size);
      for (const auto& job : page->jobs()) ids.push_back(job.job_id());
      request.set_page_token(page->next_page_token());
    } while (!request.page_token().empty());
    return ids;
  }

  FakeLoop loop;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<Coordinator> coordinator;
};

TEST(JobHistoryTest, ListJobsPagesOldestFirstWithTrimmedSpecs) {
  TempDir tmp;
  Master m(tmp.path(), 1000);
  for (int i = 0; i < 5; ++i) m.Submit(absl::StrCat(tmp.path(), "/out", i));
  EXPECT_THAT(m.Listed(2), ElementsAre("j1", "j2", "j3", "j4", "j5"));
  EXPECT_THAT(m.Listed(5), ElementsAre("j1", "j2", "j3", "j4", "j5"));
  v1::ListJobsRequest request;
  absl::StatusOr<v1::ListJobsResponse> page = m.coordinator->ListJobs(request);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->jobs_size(), 5);
  EXPECT_TRUE(page->next_page_token().empty());
  EXPECT_EQ(page->jobs(0).spec().inputs_size(), 0);
  EXPECT_EQ(page->jobs(0).input_count(), 3);
  EXPECT_EQ(page->jobs(0).spec().output(), tmp.path() + "/out0");
  // GetJob still has every input.
  EXPECT_EQ(m.coordinator->GetJob("j1")->spec().inputs_size(), 3);
  request.set_page_token("bogus");
  EXPECT_THAT(m.coordinator->ListJobs(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST(JobHistoryTest, FinishedJobsBeyondKeepJobsAreForgottenButStillAnswered) {
  TempDir tmp;
  Master m(tmp.path(), 2);
  FakeWorker worker;  // no slots: it runs nothing, but hears what is forgotten
  v1::Hello hello;
  hello.set_host("node1");
  m.coordinator->AddWorker(hello, &worker);
  for (int i = 0; i < 4; ++i) m.Submit(absl::StrCat(tmp.path(), "/out", i));
  std::string running = m.Submit(tmp.path() + "/out-running");
  for (const std::string id : {"j1", "j2", "j3", "j4"}) {
    ASSERT_THAT(m.coordinator->CancelJob(id), IsOk());
  }
  m.loop.RunPending();
  m.loop.AdvanceTime(absl::Milliseconds(1));
  // The two newest finished jobs stay, and the one still running.
  EXPECT_THAT(m.Listed(100), ElementsAre("j3", "j4", running));
  EXPECT_EQ(m.coordinator->job_count(), 3u);
  // Workers may drop the stderr of the forgotten jobs' attempts, and only theirs.
  std::vector<std::string> logs_forgotten;
  for (const v1::Command& c : worker.sent) {
    if (c.has_forget_job() && c.forget_job().logs())
      logs_forgotten.push_back(c.forget_job().job_id());
  }
  EXPECT_THAT(logs_forgotten, ElementsAre("j1", "j2"));
  // A forgotten job is answered for from the journal, as it ended.
  absl::StatusOr<v1::JobStatus> old = m.coordinator->GetJob("j1");
  ASSERT_THAT(old, IsOk());
  EXPECT_EQ(old->state(), v1::CANCELLED);
  EXPECT_EQ(old->map().total(), 2);
  EXPECT_EQ(old->spec().inputs_size(), 3);
  EXPECT_THAT(m.coordinator->CancelJob("j2"), IsOk());
  bool final = false;
  ASSERT_THAT(m.coordinator->Watch("j2", [&](const v1::JobStatus& s, bool f) { final = f; }),
              IsOk());
  EXPECT_TRUE(final);
  EXPECT_THAT(m.coordinator->GetJob("j99"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(JobHistoryTest, ARestartedMasterKeepsOnlyTheNewestFinishedJobs) {
  TempDir tmp;
  {
    Master m(tmp.path(), 1000);
    for (int i = 0; i < 3; ++i) m.Submit(absl::StrCat(tmp.path(), "/out", i));
    for (const std::string id : {"j1", "j2", "j3"}) {
      ASSERT_THAT(m.coordinator->CancelJob(id), IsOk());
    }
    m.loop.AdvanceTime(absl::Milliseconds(1));
  }
  Master again(tmp.path(), 1);
  EXPECT_THAT(again.Listed(100), ElementsAre("j3"));
  EXPECT_EQ(again.coordinator->GetJob("j1")->state(), v1::CANCELLED);
  EXPECT_EQ(again.Submit(tmp.path() + "/out-next"), "j4");
}

}  // namespace
}  // namespace ampmr::master
