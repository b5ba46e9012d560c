#include "client/job_report.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ampmr::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// 2023-11-14 22:13:20 UTC.
constexpr double kEpoch = 1700000000;
const absl::Time kNow = absl::FromUnixSeconds(1700000000 + 100);

v1::JobStatus FinishedJob() {
  v1::JobStatus s;
  s.set_job_id("j7");
  s.set_state(v1::SUCCEEDED);
  s.mutable_spec()->add_inputs("/data/a.txt");
  s.mutable_spec()->add_inputs("/data/b.txt");
  s.mutable_spec()->set_output("/out");
  s.mutable_spec()->set_mapper("builtin:wordcount");
  s.mutable_spec()->set_reducer("builtin:sum");
  s.mutable_map()->set_total(40);
  s.mutable_map()->set_done(40);
  s.mutable_reduce()->set_total(8);
  s.mutable_reduce()->set_done(8);
  (*s.mutable_counters())["reduce.output_records"] = 1234;
  (*s.mutable_counters())["map.input_records"] = 98765;
  (*s.mutable_counters())["map.bytes"] = 7;
  s.set_submit_time(kEpoch);
  s.set_start_time(kEpoch + 0.5);
  s.set_end_time(kEpoch + 12.3);
  return s;
}

TEST(JobReportTest, HumanDuration) {
  EXPECT_EQ(HumanDuration(absl::Milliseconds(400)), "0.4s");
  EXPECT_EQ(HumanDuration(absl::Seconds(12.34)), "12.3s");
  EXPECT_EQ(HumanDuration(absl::Seconds(59.9)), "59.9s");
  EXPECT_EQ(HumanDuration(absl::Seconds(185)), "3m05s");
  EXPECT_EQ(HumanDuration(absl::Hours(2) + absl::Minutes(3) + absl::Seconds(9)), "2h03m");
  EXPECT_EQ(HumanDuration(absl::Hours(76)), "3d04h");
  EXPECT_EQ(HumanDuration(-absl::Seconds(3)), "0.0s");
}

TEST(JobReportTest, StateNamesAndFinality) {
  EXPECT_EQ(StateName(v1::MAPPING), "MAPPING");
  EXPECT_EQ(StateName(static_cast<v1::JobState>(42)), "STATE_42");
  EXPECT_TRUE(IsFinal(v1::SUCCEEDED));
  EXPECT_TRUE(IsFinal(v1::FAILED));
  EXPECT_TRUE(IsFinal(v1::CANCELLED));
  EXPECT_FALSE(IsFinal(v1::PENDING));
  EXPECT_FALSE(IsFinal(v1::MAPPING));
  EXPECT_FALSE(IsFinal(v1::REDUCING));
}

TEST(JobReportTest, JobElapsed) {
  v1::JobStatus s = FinishedJob();
  EXPECT_NEAR(absl::ToDoubleSeconds(JobElapsed(s, kNow)), 12.3, 1e-6);
  s.set_end_time(0);  // still running: up to now
  EXPECT_EQ(JobElapsed(s, kNow), absl::Seconds(100));
  s.set_submit_time(0);
  EXPECT_EQ(JobElapsed(s, kNow), absl::ZeroDuration());
}

TEST(JobReportTest, SummaryWithSortedAlignedCounters) {
  EXPECT_EQ(FormatJobSummary(FinishedJob(), kNow),
            "job:      j7\n"
            "state:    SUCCEEDED\n"
            "elapsed:  12.3s\n"
            "output:   /out\n"
            "map:      40/40\n"
            "reduce:   8/8\n"
            "counters:\n"
            "  map.bytes              7\n"
            "  map.input_records      98765\n"
            "  reduce.output_records  1234\n");
}

TEST(JobReportTest, SummaryOfMapOnlyJobWithoutCounters) {
  v1::JobStatus s = FinishedJob();
  s.mutable_spec()->set_reducer("none");
  s.clear_counters();
  const std::string summary = FormatJobSummary(s, kNow);
  EXPECT_THAT(summary, Not(HasSubstr("reduce")));
  EXPECT_THAT(summary, Not(HasSubstr("counters")));
  EXPECT_THAT(summary, HasSubstr("map:      40/40\n"));
}

TEST(JobReportTest, StatusOfFailedJob) {
  v1::JobStatus s = FinishedJob();
  s.set_state(v1::FAILED);
  s.set_error("task m3 failed after 4 attempts: exit status 1");
  s.mutable_spec()->set_name("nightly");
  s.mutable_spec()->set_combiner("builtin:sum");
  s.mutable_map()->set_done(37);
  s.mutable_map()->set_running(2);
  const std::string status = FormatJobStatus(s, kNow);
  EXPECT_THAT(status, HasSubstr("job:        j7\n"
                                "name:       nightly\n"
                                "state:      FAILED\n"
                                "error:      task m3 failed after 4 attempts: "
                                "exit status 1\n"
                                "mapper:     builtin:wordcount\n"
                                "reducer:    builtin:sum\n"
                                "combiner:   builtin:sum\n"
                                "inputs:     /data/a.txt /data/b.txt\n"
                                "output:     /out\n"
                                "map:        37/40 done, 2 running\n"
                                "reduce:     8/8 done, 0 running\n"
                                "submitted:  "));
  EXPECT_THAT(status, HasSubstr("elapsed:    12.3s\ncounters:\n"));
}

TEST(JobReportTest, SummaryAndStatusListFailedAttempts) {
  v1::JobStatus s = FinishedJob();
  EXPECT_THAT(FormatJobSummary(s, kNow), Not(HasSubstr("failed")));
  s.mutable_map()->set_failed_attempts(12);
  v1::AttemptInfo* a = s.add_failed_attempts();
  a->set_task_id("m3");
  a->set_attempt(1);
  a->set_worker_id("w2");
  a->set_error("mapper exec:./m.py: exited with status 1");
  const std::string summary = FormatJobSummary(s, kNow);
  EXPECT_THAT(summary, HasSubstr("failed attempts:  12\n"));
  EXPECT_THAT(summary, HasSubstr("failed:\n  m3 attempt 1 on w2: mapper exec:./m.py: exited with "
                                 "status 1\n  ... and 11 more (ampmr logs j7 TASK, or the "
                                 "dashboard)\n"));
  const std::string status = FormatJobStatus(s, kNow);
  EXPECT_THAT(status, HasSubstr("40/40 done, 0 running, 12 failed attempts\n"));
  EXPECT_THAT(status, HasSubstr("failed:\n  m3 attempt 1 on w2: "));
}

TEST(JobReportTest, StatusShowsDefaultReducer) {
  v1::JobStatus s = FinishedJob();
  s.mutable_spec()->clear_reducer();
  EXPECT_THAT(FormatJobStatus(s, kNow), HasSubstr("reducer:    builtin:identity\n"));
}

TEST(JobReportTest, StatusListsWhatRunningAttemptsLastSaid) {
  v1::JobStatus s = FinishedJob();
  s.set_state(v1::MAPPING);
  v1::TaskStatus* t = s.add_task_statuses();
  t->set_task_id("m3");
  t->set_attempt_id("j7-m3-a2");
  t->set_worker_id("w4");
  t->set_status("40% of the split");
  EXPECT_THAT(FormatJobStatus(s, kNow),
              HasSubstr("status:\n  m3 on w4 (j7-m3-a2): 40% of the split\ncounters:\n"));
  EXPECT_THAT(FormatJobStatus(FinishedJob(), kNow), Not(HasSubstr("status:\n")));
}

TEST(JobReportTest, JobsTable) {
  google::protobuf::RepeatedPtrField<v1::JobStatus> jobs;
  *jobs.Add() = FinishedJob();
  v1::JobStatus* running = jobs.Add();
  running->set_job_id("j12");
  running->set_state(v1::MAPPING);
  running->mutable_spec()->set_name("nightly");
  running->mutable_spec()->set_mapper("exec:./m.py");
  running->mutable_spec()->set_reducer("none");
  running->mutable_map()->set_total(3);
  running->mutable_map()->set_done(1);
  running->set_submit_time(kEpoch + 100 - 7200);
  EXPECT_EQ(FormatJobsTable(jobs, kNow),
            "ID   STATE      MAP    REDUCE  NAME               AGE\n"
            "j7   SUCCEEDED  40/40  8/8     builtin:wordcount  1m\n"
            "j12  MAPPING    1/3    -       nightly            2h\n");
}

TEST(JobReportTest, EmptyTablesHaveHeaders) {
  EXPECT_EQ(FormatJobsTable({}, kNow), "ID  STATE  MAP  REDUCE  NAME  AGE\n");
  EXPECT_EQ(FormatWorkersTable({}, kNow),
            "ID  HOST  PID  SLOTS  RUNNING  DONE  HEARTBEAT  HANDLERS\n");
}

TEST(JobReportTest, WorkersTable) {
  google::protobuf::RepeatedPtrField<v1::WorkerInfo> workers;
  v1::WorkerInfo* w = workers.Add();
  w->set_worker_id("w1");
  w->set_host("node-a");
  w->set_pid(4242);
  w->set_slots(4);
  w->set_running(3);
  w->set_tasks_done(120);
  w->set_last_heartbeat_time(kEpoch + 98);
  w->add_handlers("graph");
  w->add_handlers("model");
  v1::WorkerInfo* idle = workers.Add();
  idle->set_worker_id("w2");
  idle->set_host("node-b");
  idle->set_pid(7);
  idle->set_slots(1);
  EXPECT_EQ(FormatWorkersTable(workers, kNow),
            "ID  HOST    PID   SLOTS  RUNNING  DONE  HEARTBEAT  HANDLERS\n"
            "w1  node-a  4242  4      3        120   2s         graph,model\n"
            "w2  node-b  7     1      0        0     -          -\n");
}

TEST(JobReportTest, WorkersTableSaysWhatLooksWrongUnderIt) {
  google::protobuf::RepeatedPtrField<v1::WorkerInfo> workers;
  v1::WorkerInfo* w = workers.Add();
  w->set_worker_id("w1");
  w->set_warning("advertises a loopback shuffle address");
  v1::WorkerInfo* cut = workers.Add();
  cut->set_worker_id("w2");
  cut->set_unreachable(true);
  cut->set_warning("reducers cannot fetch its map outputs (connection refused)");
  workers.Add()->set_worker_id("w3");
  const std::string table = FormatWorkersTable(workers, kNow);
  EXPECT_THAT(table, HasSubstr("\nw1: warning: advertises a loopback shuffle address\n"));
  EXPECT_THAT(table, HasSubstr("\nw2: unreachable: reducers cannot fetch its map outputs "
                               "(connection refused)\n"));
  EXPECT_THAT(table, Not(HasSubstr("w3:")));
}

TEST(JobReportTest, JsonLineUsesProtoNamesAndDefaults) {
  v1::JobStatus s;
  s.set_job_id("j1");
  s.set_state(v1::PENDING);
  const std::string json = ToJsonLine(s);
  EXPECT_THAT(json, HasSubstr("\"job_id\":\"j1\""));
  EXPECT_THAT(json, HasSubstr("\"state\":\"PENDING\""));
  EXPECT_THAT(json, HasSubstr("\"error\":\"\""));
  EXPECT_THAT(json, Not(HasSubstr("\n")));
}

}  // namespace
}  // namespace ampmr::client
