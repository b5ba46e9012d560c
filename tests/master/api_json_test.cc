// The /api/v1 JSON and /metrics text rendered from fake state.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/api_json.h"
#include "master/metrics_text.h"

namespace ampmr::master {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::JobStatus RunningJob() {
  v1::JobStatus job;
  job.set_job_id("j3");
  job.set_state(v1::MAPPING);
  job.mutable_spec()->set_name("nightly");
  job.mutable_spec()->set_mapper("exec:./map.py");
  (*job.mutable_spec()->mutable_env())["API_KEY"] = "s3cret-value";
  job.mutable_map()->set_total(10);
  job.mutable_map()->set_done(4);
  job.mutable_map()->set_running(2);
  job.mutable_map()->set_failed_attempts(3);
  (*job.mutable_counters())["ampmr.map_input_records"] = 42;
  (*job.mutable_counters())["user.records"] = 7;
  v1::AttemptInfo* failed = job.add_failed_attempts();
  failed->set_task_id("m2");
  failed->set_attempt(1);
  failed->set_worker_id("w1");
  failed->set_state(v1::ATTEMPT_FAILED);
  failed->set_error("exit status 1: \xff bad byte");
  v1::TaskStatus* status = job.add_task_statuses();
  status->set_task_id("m5");
  status->set_status("<b>half</b>");
  return job;
}

TEST(ApiJsonTest, JobHasPhasesCountersFailuresAndNoEnv) {
  nlohmann::json j = JobJson(RunningJob());
  EXPECT_EQ(j["id"], "j3");
  EXPECT_EQ(j["name"], "nightly");
  EXPECT_EQ(j["state"], "mapping");
  EXPECT_EQ(j["map"]["done"], 4);
  EXPECT_EQ(j["map"]["failed_attempts"], 3);
  EXPECT_EQ(j["counters"]["ampmr.map_input_records"], 42);
  ASSERT_EQ(j["failed_attempts"].size(), 1u);
  EXPECT_EQ(j["failed_attempts"][0]["state"], "failed");
  // Invalid UTF-8 from a task becomes U+FFFD rather than breaking the JSON.
  EXPECT_EQ(j["failed_attempts"][0]["error"], "exit status 1: \xEF\xBF\xBD bad byte");
  EXPECT_EQ(j["task_statuses"][0]["status"], "<b>half</b>");  // the page sets it as text
  std::string text = j.dump();
  EXPECT_THAT(text, Not(HasSubstr("s3cret-value")));
  EXPECT_THAT(text, Not(HasSubstr("API_KEY")));
  EXPECT_THAT(JobsJson({RunningJob()}, 1, 0).dump(), Not(HasSubstr("s3cret-value")));
}

TEST(ApiJsonTest, TasksKeepTheirOrderAndAttempts) {
  v1::ListTasksResponse tasks;
  tasks.set_total(7);
  v1::TaskInfo* t = tasks.add_tasks();
  t->set_task_id("r1");
  t->set_reduce(true);
  t->set_state(v1::TASK_DONE);
  v1::AttemptInfo* a = t->add_attempts();
  a->set_attempt(2);
  a->set_state(v1::ATTEMPT_SUCCEEDED);
  a->set_backup(true);
  nlohmann::json j = TasksJson(tasks, 5);
  EXPECT_EQ(j["total"], 7);
  EXPECT_EQ(j["offset"], 5);
  EXPECT_EQ(j["tasks"][0]["kind"], "reduce");
  EXPECT_EQ(j["tasks"][0]["state"], "done");
  EXPECT_EQ(j["tasks"][0]["attempts"][0]["state"], "succeeded");
  EXPECT_EQ(j["tasks"][0]["attempts"][0]["backup"], true);
}

TEST(ApiJsonTest, HandlersShowPercentilesAndErrorsByCode) {
  HandlerFigures h;
  h.name = "graph";
  h.workers = 2;
  h.queued = 3;
  for (int i = 0; i < 99; ++i) h.seconds.Observe(0.010);
  h.seconds.Observe(5);
  h.ends[absl::StatusCode::kOk] = 98;
  h.ends[absl::StatusCode::kNotFound] = 2;
  nlohmann::json j = HandlersJson({h})["handlers"][0];
  EXPECT_EQ(j["calls"], 100);
  EXPECT_EQ(j["queued"], 3);
  EXPECT_EQ(j["errors"]["NOT_FOUND"], 2);
  EXPECT_FALSE(j["errors"].contains("OK"));
  EXPECT_LT(j["p50_seconds"].get<double>(), 0.02);
  EXPECT_GT(j["p99_seconds"].get<double>(), 0.005);
}

TEST(MetricsTextTest, PerJobSeriesOnlyForRunningJobsAndBuiltInCounters) {
  MetricsSnapshot s;
  s.jobs.push_back(RunningJob());
  v1::JobStatus done = RunningJob();
  done.set_job_id("j1");
  done.set_state(v1::SUCCEEDED);
  s.jobs.push_back(done);
  s.cluster.map.started = 12;
  s.cluster.map.failed = 3;
  s.cluster.map.seconds.Observe(1.5);
  HandlerFigures h;
  h.name = "echo";
  h.ends[absl::StatusCode::kOk] = 5;
  s.handlers.push_back(h);
  std::string text = RenderMetrics(s);
  EXPECT_THAT(text, HasSubstr("ampmr_jobs{state=\"mapping\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ampmr_jobs{state=\"succeeded\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ampmr_running_job_tasks{job=\"j3\",phase=\"map\",state=\"done\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("ampmr_running_job_failed_attempts{job=\"j3\",phase=\"map\"} 3\n"));
  EXPECT_THAT(text, HasSubstr(
                        "ampmr_running_job_value{job=\"j3\",name=\"ampmr.map_input_records\"} 42\n"));
  EXPECT_THAT(text, Not(HasSubstr("job=\"j1\"")));      // finished: no per-job series
  EXPECT_THAT(text, Not(HasSubstr("user.records")));    // user counters: unbounded names
  EXPECT_THAT(text, HasSubstr("ampmr_attempts_started_total{kind=\"map\"} 12\n"));
  EXPECT_THAT(text, HasSubstr("ampmr_attempts_failed_total{kind=\"map\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ampmr_task_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("ampmr_task_duration_seconds_count{kind=\"map\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ampmr_calls_total{handler=\"echo\",code=\"OK\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("ampmr_call_duration_seconds_bucket{handler=\"echo\",le=\"+Inf\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("s3cret-value")));
}

}  // namespace
}  // namespace ampmr::master
