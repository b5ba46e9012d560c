// The master's status page and metrics, served where --http asks.
#include <httplib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

using ::testing::HasSubstr;

TEST(HttpStatusTest, ServesStatusPageAndMetrics) {
  ScratchDir tmp;
  int port = FreePort();
  TestCluster cluster(tmp.path(), 2, {"--http", absl::StrCat("127.0.0.1:", port)});
  ASSERT_TRUE(cluster.WaitForWorkers(2));
  std::string output = tmp.path() + "/out";
  CommandResult r = RunCommand(
      {BinPath("ampmr"), "submit", "--master", cluster.address(), "--wait", "--input", CorpusDir(),
       "--output", output, "--mapper", "builtin:wordcount", "--reducer", "builtin:sum"},
      absl::Seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  httplib::Client http("127.0.0.1", port);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("ampmr_workers 2\n"));
  EXPECT_THAT(metrics->body, HasSubstr("ampmr_jobs{state=\"SUCCEEDED\"} 1\n"));
  EXPECT_THAT(metrics->body,
              HasSubstr("ampmr_job_counter{job=\"j1\",name=\"ampmr.map_input_bytes\"}"));
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("<td>j1</td><td>SUCCEEDED</td>"));
  EXPECT_THAT(page->body, HasSubstr("Workers (2)"));
}

TEST(HttpStatusTest, NoHttpFlagNoListener) {
  ScratchDir tmp;
  int port = FreePort();
  TestCluster cluster(tmp.path(), 0);
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(1);
  EXPECT_FALSE(http.Get("/metrics"));
}

}  // namespace
}  // namespace ampmr::testing
