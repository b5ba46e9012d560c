#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/http_status.h"

namespace ampmr::master {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StatusPageTest, RunningAttemptsStatusesAreListedEscaped) {
  v1::JobStatus job;
  job.set_job_id("j3");
  job.set_state(v1::MAPPING);
  v1::TaskStatus* t = job.add_task_statuses();
  t->set_task_id("m2");
  t->set_worker_id("w1");
  t->set_status("<b>50%</b> & counting");
  std::string page = RenderStatusPage({job}, {});
  EXPECT_THAT(page, HasSubstr("<h2>Task status</h2>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>j3</td><td>m2</td><td>w1</td><td>"
                              "&lt;b&gt;50%&lt;/b&gt; &amp; counting</td></tr>"));
}

TEST(StatusPageTest, NoStatusesNoSection) {
  v1::JobStatus job;
  job.set_job_id("j1");
  EXPECT_THAT(RenderStatusPage({job}, {}), Not(HasSubstr("Task status")));
}

}  // namespace
}  // namespace ampmr::master
