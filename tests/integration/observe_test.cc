// What the cluster shows of what it did (README "Seeing what the cluster does"), on real processes:
// a job whose mapper fails its first attempt shows that failure in the JSON
// API, `ampmr status` and /metrics (which promtool accepts); the dashboard
// renders it in a real headless browser; reflection and per-service health
// answer generic gRPC tools; job --env values appear nowhere.
#include <httplib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "sekrit-env-value-4242";

// A master with --http and two workers that ran a job (j1) of three maps
// and one reduce, whose mapper failed its first attempt of m0 (exit status
// 3) and wrote a marker line to stderr in every attempt. The pages need the
// cluster token, unless `open_page` (for a browser, which has no way to send
// it here): then the master runs without one.
struct FailedAttemptJob {
  explicit FailedAttemptJob(bool open_page = false)
      : port(FreePort()),
        cluster(tmp.path(), 2,
                open_page ? std::vector<std::string>{"--http", Http(), "--token-file", ""}
                          : std::vector<std::string>{"--http", Http()}) {
    std::string script = tmp.path() + "/map.sh";
    WriteFile(script,
              "#!/bin/sh\n"
              "echo \"marker-stderr $mapreduce_task_attempt_id\" >&2\n"
              "case \"$mapreduce_task_attempt_id\" in *-m0-a1) echo 'boom on purpose' >&2; "
              "exit 3;; esac\n"
              "cat\n");
    ::chmod(script.c_str(), 0755);
    std::string in = tmp.path() + "/in";
    fs::create_directories(in);
    for (int i = 0; i < 3; ++i)
      WriteFile(absl::StrCat(in, "/f", i), absl::StrCat("line ", i, "\n"));
    EXPECT_TRUE(cluster.WaitForWorkers(2));
    submit = RunCommand(
        {BinPath("ampmr"), "submit", "--master", cluster.address(), "--wait", "--input", in,
         "--output", tmp.path() + "/out", "--mapper", "exec:" + script, "--reducer",
         "builtin:identity", "--name", "obs-test", "--env", absl::StrCat("SECRET_TOKEN=", kSecret)},
        absl::Seconds(90));
    EXPECT_EQ(submit.exit_code, 0) << submit.err;
  }
  std::string Http() const { return absl::StrCat("127.0.0.1:", port); }
  std::string Get(const std::string& path, int want_status = 200) {
    httplib::Client http("127.0.0.1", port);
    http.set_read_timeout(10, 0);
    auto r = http.Get(path.c_str(), {{"Authorization", "Bearer " + TestToken()}});
    EXPECT_TRUE(r) << path;
    if (!r) return "";
    EXPECT_EQ(r->status, want_status) << path << ": " << r->body;
    return r->body;
  }

  ScratchDir tmp;
  int port;
  TestCluster cluster;
  CommandResult submit;
};

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ObserveTest, FailedAttemptShowsInApiStatusAndSummary) {
  FailedAttemptJob job;
  // The end-of-job summary lists the failed attempt.
  EXPECT_THAT(job.submit.out, HasSubstr("failed attempts:  1\n"));
  EXPECT_THAT(job.submit.out, HasSubstr("m0"));
  EXPECT_THAT(job.submit.out, HasSubstr("exited with status 3"));

  std::string tasks = job.Get("/api/v1/jobs/j1/tasks");
  // Failures first: m0 leads, its first attempt failed, its second succeeded.
  EXPECT_EQ(tasks.find("\"task_id\":\"m0\""), tasks.find("\"task_id\":\""));
  EXPECT_THAT(tasks, HasSubstr("\"state\":\"failed\""));
  EXPECT_THAT(tasks, HasSubstr("exited with status 3"));
  EXPECT_THAT(tasks, HasSubstr("\"total\":4"));
  std::string one = job.Get("/api/v1/jobs/j1");
  EXPECT_THAT(one, HasSubstr("\"failed_attempts\":1"));
  EXPECT_THAT(one, HasSubstr("\"name\":\"obs-test\""));
  EXPECT_THAT(job.Get("/api/v1/jobs?limit=1"), HasSubstr("\"total\":1"));
  EXPECT_THAT(job.Get("/api/v1/jobs/j9", 404), HasSubstr("no job j9"));
  EXPECT_THAT(job.Get("/api/v1/jobs?limit=0", 400), HasSubstr("limit=0"));
  EXPECT_THAT(job.Get("/api/v1/workers"), HasSubstr("\"attempts_failed\":1"));
  EXPECT_THAT(job.Get("/jobs/j1"), HasSubstr("/static/app.js"));

  CommandResult status = RunCommand(
      {BinPath("ampmr"), "status", "--master", job.cluster.address(), "j1"}, absl::Seconds(10));
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("failed attempts:  1\n"));

  // --env values are secrets: no page, JSON or metric shows them.
  for (const char* path : {"/", "/jobs/j1", "/api/v1/jobs", "/api/v1/jobs/j1",
                           "/api/v1/jobs/j1/tasks", "/api/v1/jobs/j1/attempts", "/metrics"}) {
    EXPECT_THAT(job.Get(path), Not(HasSubstr(kSecret))) << path;
  }
  EXPECT_THAT(status.out, Not(HasSubstr(kSecret)));
}

TEST(ObserveTest, LogsPrintsWhatAttemptsWroteToStderrFetchedFromTheirWorkers) {
  FailedAttemptJob job;
  auto logs = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {BinPath("ampmr"), "logs", "--master", job.cluster.address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, absl::Seconds(20));
  };
  // A successful attempt's marker line, kept by the worker that ran it.
  CommandResult m1 = logs({"j1", "m1"});
  EXPECT_EQ(m1.exit_code, 0) << m1.err;
  EXPECT_THAT(m1.out, HasSubstr("marker-stderr j1-m1-a1\n"));
  // The failed first attempt of m0, by number, with its own last words.
  CommandResult m0 = logs({"j1", "m0", "--attempt", "1"});
  EXPECT_EQ(m0.exit_code, 0) << m0.err;
  EXPECT_THAT(m0.out, HasSubstr("marker-stderr j1-m0-a1\nboom on purpose\n"));
  // No task named: the job's failed attempts (here the one).
  CommandResult failed = logs({"j1"});
  EXPECT_EQ(failed.exit_code, 0) << failed.err;
  EXPECT_THAT(failed.out, HasSubstr("boom on purpose"));
  EXPECT_THAT(failed.out, Not(HasSubstr("j1-m1-a1")));
  // The same through the JSON API.
  EXPECT_THAT(job.Get("/api/v1/jobs/j1/tasks/m2/log"), HasSubstr("marker-stderr j1-m2-a1"));
  // An in-process reducer writes no stderr: said so, non-zero.
  CommandResult r0 = logs({"j1", "r0"});
  EXPECT_NE(r0.exit_code, 0);
  EXPECT_THAT(r0.err, HasSubstr("wrote nothing to stderr"));
}

TEST(ObserveTest, MetricsPassPromtool) {
  FailedAttemptJob job;
  std::string metrics = job.Get("/metrics");
  EXPECT_THAT(metrics, HasSubstr("ampmr_workers 2\n"));
  EXPECT_THAT(metrics, HasSubstr("ampmr_jobs{state=\"succeeded\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("ampmr_attempts_failed_total{kind=\"map\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("ampmr_attempts_started_total{kind=\"map\"} 4\n"));
  EXPECT_THAT(metrics, HasSubstr("ampmr_task_duration_seconds_count{kind=\"reduce\"} 1\n"));
  std::string file = job.tmp.path() + "/metrics.txt";
  WriteFile(file, metrics);
  ASSERT_TRUE(fs::exists("/usr/bin/promtool")) << "promtool missing: run deploy/setup.sh";
  CommandResult check =
      RunCommand({"/bin/sh", "-c", "promtool check metrics < " + file}, absl::Seconds(30));
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// Reflection is served on a trusted network only (a master without a token):
// gRPC's reflection service cannot check one. Health answers either way,
// without the token.
TEST(ObserveTest, ReflectionListsServicesAndHealthAnswersPerService) {
  ScratchDir tmp;
  fs::create_directories(tmp.path() + "/open");
  TestCluster open(tmp.path() + "/open", 0, {"--token-file", ""});
  TestCluster cluster(tmp.path(), 0);
  std::string script = tmp.path() + "/reflect.py";
  // Raw bytes on the wire, so no generated stubs are needed.
  WriteFile(script, R"PY(
import sys, grpc
def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]; i += 1; v |= (b & 0x7f) << shift; shift += 7
        if b < 0x80: return v, i
def fields(buf):
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        if key & 7 == 0:
            v, i = varint(buf, i)
        else:
            n, i = varint(buf, i); v = buf[i:i + n]; i += n
        yield key >> 3, v
ch = grpc.insecure_channel(sys.argv[1])
info = ch.stream_stream('/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo')
try:
    for resp in info(iter([b'\x3a\x00']), timeout=10):  # list_services: ""
        for num, v in fields(resp):
            if num == 6:
                for _, svc in fields(v):
                    print('service', dict(fields(svc))[1].decode())
except grpc.RpcError as e:
    print('reflection', e.code().name)
check = ch.unary_unary('/grpc.health.v1.Health/Check')
for name in ['', 'ampmr.v1.JobService', 'ampmr.v1.WorkerSession', 'no.such.Service']:
    req = b'\x0a' + bytes([len(name)]) + name.encode() if name else b''
    try:
        print('health', name or '-', dict(fields(check(req, timeout=10))).get(1, 0))
    except grpc.RpcError as e:
        print('health', name or '-', e.code().name)
)PY");
  CommandResult listed =
      RunCommand({"/usr/bin/python3", script, open.address()}, absl::Seconds(60));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("service ampmr.v1.JobService\n"));
  EXPECT_THAT(listed.out, HasSubstr("service ampmr.v1.WorkerSession\n"));
  EXPECT_THAT(listed.out, HasSubstr("service grpc.health.v1.Health\n"));

  CommandResult r = RunCommand({"/usr/bin/python3", script, cluster.address()}, absl::Seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("reflection UNIMPLEMENTED\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("service ")));
  EXPECT_THAT(r.out, HasSubstr("health - 1\n"));  // 1: SERVING
  EXPECT_THAT(r.out, HasSubstr("health ampmr.v1.JobService 1\n"));
  EXPECT_THAT(r.out, HasSubstr("health ampmr.v1.WorkerSession 1\n"));
  EXPECT_THAT(r.out, HasSubstr("health no.such.Service NOT_FOUND\n"));
}

// Runs Debian's chromium headless on `url` with a fresh profile (removed
// after): the DOM after the page's script ran, or the screenshot.
CommandResult Chromium(const std::string& scratch, const std::vector<std::string>& what,
                       const std::string& url) {
  std::string profile = scratch + "/chromium-profile";
  fs::remove_all(profile);
  fs::create_directories(profile);
  std::vector<std::string> argv = {"/usr/bin/chromium",
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--user-data-dir=" + profile,
                                   "--window-size=1400,1200",
                                   "--virtual-time-budget=5000"};
  argv.insert(argv.end(), what.begin(), what.end());
  argv.push_back(url);
  CommandResult r = RunCommand(argv, absl::Seconds(90));
  fs::remove_all(profile);
  return r;
}

TEST(ObserveTest, BrowserRendersOneTimelineBarPerAttemptWithTheFailedOneMarked) {
  ASSERT_TRUE(fs::exists("/usr/bin/chromium")) << "chromium missing: run deploy/setup.sh";
  FailedAttemptJob job(/*open_page=*/true);
  std::string url = absl::StrCat("http://", job.Http(), "/jobs/j1");
  CommandResult dom = Chromium(job.tmp.path(), {"--dump-dom"}, url);
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  // Four attempts (m0 twice, m1, m2) and one reduce: five bars.
  EXPECT_EQ(Count(dom.out, "<rect class=\"bar "), 5) << dom.out;
  EXPECT_EQ(Count(dom.out, "<rect class=\"bar map failed"), 1) << dom.out;
  EXPECT_EQ(Count(dom.out, "<rect class=\"bar reduce succeeded"), 1) << dom.out;
  EXPECT_THAT(dom.out, HasSubstr("data-attempt=\"j1-m0-a1\" data-state=\"failed\""));
  EXPECT_THAT(dom.out, HasSubstr("boom on purpose"));  // in the task table's error
  EXPECT_THAT(dom.out, Not(HasSubstr(kSecret)));

  // A screenshot for people, kept with the build's test artifacts.
  std::string artifacts = fs::path(BinPath("ampmr")).parent_path().parent_path() / "test-artifacts";
  fs::create_directories(artifacts);
  std::string png = artifacts + "/job-page.png";
  fs::remove(png);
  CommandResult shot = Chromium(job.tmp.path(), {"--screenshot=" + png}, url);
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  EXPECT_GT(fs::file_size(png), 10000u);
}

TEST(ObserveTest, NoHttpFlagNoListener) {
  ScratchDir tmp;
  int port = FreePort();
  TestCluster cluster(tmp.path(), 0);
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(1);
  EXPECT_FALSE(http.Get("/metrics"));
}

}  // namespace
}  // namespace ampmr::testing
