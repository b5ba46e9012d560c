// The ampmr binary as users and scripts see it: exit codes, stdout and stderr
// formats, and `run`'s process handling. The master is a fake JobService in
// this process; `run` reaches it through a /bin/sh stand-in ampmr-master that
// prints the fake's address (ampmr is copied next to the stand-ins, since it
// starts the binaries beside its own executable). Tests against the real
// master live in tests/integration.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ampmr/v1/job.grpc.pb.h"
#include "client/local_cluster.h"
#include "common/amp/grpc_status.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/stand_in.h"

namespace ampmr::client {
namespace {

using ::ampmr::testing::EventFifo;
using ::ampmr::testing::ProcessAlive;
using ::ampmr::testing::ReadFile;
using ::ampmr::testing::ScratchDir;
using ::ampmr::testing::WaitForProcessExit;
using ::ampmr::testing::WriteScript;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr double kSubmitTime = 1700000000;

// A JobService whose answers the test scripts. Job "j1" is the only job.
class FakeJobService final : public v1::JobService::Service {
 public:
  // What the test sets up before the call.
  absl::Status submit_error;
  std::vector<v1::JobStatus> watch_events;
  bool hold_watch = false;  // after the events, wait until the client leaves
  v1::JobStatus final_status;
  std::vector<v1::WorkerInfo> workers;

  // What the calls left behind.
  std::vector<v1::JobSpec> submitted() {
    std::lock_guard<std::mutex> lock(mu_);
    return submitted_;
  }
  std::vector<std::string> cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }
  // Waits until a WatchJob call is holding.
  bool WaitForHeldWatch() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return holding_ > 0; });
  }

  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* req,
                         v1::SubmitJobResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    submitted_.push_back(req->spec());
    if (!submit_error.ok()) return amp::ToGrpcStatus(submit_error);
    resp->set_job_id("j1");
    return grpc::Status::OK;
  }
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* req,
                      v1::JobStatus* resp) override {
    if (req->job_id() != "j1") {
      return grpc::Status(grpc::NOT_FOUND, absl::StrCat("job ", req->job_id(), ": not found"));
    }
    *resp = WithSpec(final_status);
    return grpc::Status::OK;
  }
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* req,
                        grpc::ServerWriter<v1::JobEvent>* writer) override {
    for (const v1::JobStatus& status : watch_events) {
      v1::JobEvent event;
      *event.mutable_status() = WithSpec(status);
      writer->Write(event);
    }
    if (hold_watch) {
      std::unique_lock<std::mutex> lock(mu_);
      ++holding_;
      cv_.notify_all();
      // The sync API has no cancellation callback; look every few ms.
      while (!context->IsCancelled()) {
        cv_.wait_for(lock, std::chrono::milliseconds(10));
      }
      --holding_;
    }
    return grpc::Status::OK;
  }
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* req,
                         v1::CancelJobResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.push_back(req->job_id());
    *resp->mutable_status() = final_status;
    resp->mutable_status()->set_state(v1::CANCELLED);
    return grpc::Status::OK;
  }
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                        v1::ListJobsResponse* resp) override {
    *resp->add_jobs() = WithSpec(final_status);
    return grpc::Status::OK;
  }
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse* resp) override {
    for (const v1::WorkerInfo& w : workers) *resp->add_workers() = w;
    return grpc::Status::OK;
  }
  grpc::Status Call(grpc::ServerContext*, const v1::CallRequest* req,
                    v1::CallResponse* resp) override {
    if (req->handler() != "echo") {
      return grpc::Status(grpc::NOT_FOUND, "no worker offers handler " + req->handler());
    }
    resp->set_payload(absl::StrCat("echo:", req->payload()));
    return grpc::Status::OK;
  }

 private:
  // Statuses carry the submitted spec, as a real master's would.
  v1::JobStatus WithSpec(v1::JobStatus status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!submitted_.empty()) *status.mutable_spec() = submitted_.back();
    return status;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::JobSpec> submitted_;
  std::vector<std::string> cancelled_;
  int holding_ = 0;
};

v1::JobStatus Status(v1::JobState state, int map_done, int reduce_done) {
  v1::JobStatus s;
  s.set_job_id("j1");
  s.set_state(state);
  s.mutable_map()->set_total(2);
  s.mutable_map()->set_done(map_done);
  s.mutable_reduce()->set_total(1);
  s.mutable_reduce()->set_done(reduce_done);
  s.set_submit_time(kSubmitTime);
  if (state == v1::SUCCEEDED || state == v1::FAILED) {
    s.set_end_time(kSubmitTime + 12.3);
  }
  return s;
}

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class AmpmrCliTest : public ::testing::Test {
 protected:
  AmpmrCliTest() : events_(bin_ / "events") {
    // Orphans (if ever) come back to us and cannot escape the checks.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const char* env_dir = getenv("AMPMR_BIN_DIR");
    std::string built = env_dir != nullptr ? env_dir : OwnExecutableDir().value_or(".");
    std::filesystem::copy_file(built + "/ampmr", bin_ / "ampmr");
    std::filesystem::create_directory(work_ / "tmp");

    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", port_);
    // By default the stand-ins play a healthy cluster around the fake.
    WriteMaster(absl::StrCat("echo \"master $$ $*\" > ", events_.path(),
                             "\necho 'ampmr-master listening on ", address_,
                             "'\nexec sleep 600\n"));
    WriteWorker(WorkerScript("exec sleep 600\n"));
  }
  ~AmpmrCliTest() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  void WriteMaster(const std::string& body) { WriteScript(bin_ / "ampmr-master", body); }
  void WriteWorker(const std::string& body) { WriteScript(bin_ / "ampmr-worker", body); }
  std::string WorkerScript(const std::string& then) {
    return absl::StrCat("echo \"worker $$ $*\" > ", events_.path(), "\n", then);
  }

  // Starts ampmr with `args` in work_/ with TMPDIR=work_/tmp.
  // `env` is one more NAME=VALUE for ampmr's environment.
  std::unique_ptr<Subprocess> Start(const std::vector<std::string>& args,
                                    const std::string& env = "AMPMR_MASTER=") {
    SubprocessOptions options = CapturingOptions();
    options.argv = {"/usr/bin/env",  "-C", work_.path(),  absl::StrCat("TMPDIR=", work_ / "tmp"),
                    "AMPMR_MASTER=", env,  bin_ / "ampmr"};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Start(options);
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  }

  // stdout on a pipe, stderr to work_/stderr (emptied), stdin /dev/null.
  SubprocessOptions CapturingOptions() {
    SubprocessOptions options;
    std::filesystem::remove(work_ / "stderr");
    options.fds.emplace(0, ChildFd::Null());
    options.fds.emplace(1, ChildFd::PipeFromChild());
    options.fds.emplace(2, ChildFd::AppendTo(work_ / "stderr"));
    options.die_with_parent = true;
    return options;
  }

  Result Finish(Subprocess* child) {
    Result result;
    char buf[4096];
    ssize_t n;
    while ((n = read(child->fd(1), buf, sizeof(buf))) > 0) {
      result.out.append(buf, static_cast<size_t>(n));
    }
    EXPECT_TRUE(child->WaitUntil(absl::Now() + absl::Seconds(30)));
    const int status = child->reaped() ? child->wait_status() : -1;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.err = ReadFile(work_ / "stderr");
    return result;
  }

  Result Ampmr(const std::vector<std::string>& args, const std::string& env = "AMPMR_MASTER=") {
    std::unique_ptr<Subprocess> child = Start(args, env);
    if (child == nullptr) return {};
    return Finish(child.get());
  }

  std::vector<std::string> RunArgs() {
    return {"run",      "--input",           "in.txt",    "--output",    "out",
            "--mapper", "builtin:wordcount", "--reducer", "builtin:sum", "--workers",
            "2"};
  }

  // After `run`: the master and the workers that reported are gone, and so
  // is the temporary directory.
  void ExpectClusterGone(const std::vector<pid_t>& pids) {
    for (pid_t pid : pids) EXPECT_TRUE(WaitForProcessExit(pid)) << pid;
    EXPECT_THAT(work_.List("tmp"), IsEmpty());
  }
  // Reads the start events of the master and `workers` workers.
  std::vector<pid_t> ClusterPids(int workers) {
    std::vector<pid_t> pids;
    for (int i = 0; i <= workers; ++i) {
      std::vector<std::string> fields = events_.NextFields();
      EXPECT_GE(fields.size(), 2u);
      if (fields.size() >= 2) pids.push_back(std::stoi(fields[1]));
    }
    return pids;
  }

  ScratchDir bin_;   // ampmr and the stand-ins
  ScratchDir work_;  // cwd of ampmr; tmp/ is its TMPDIR
  EventFifo events_;
  FakeJobService fake_;
  int port_ = 0;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(AmpmrCliTest, UsageAndHelp) {
  Result none = Ampmr({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, StartsWith("usage: ampmr COMMAND [flags] [args]\n"));

  Result help = Ampmr({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, StartsWith("usage: ampmr COMMAND"));
  EXPECT_THAT(help.out, HasSubstr("  workers  list the workers"));

  Result run_help = Ampmr({"run", "--help"});
  EXPECT_EQ(run_help.exit_code, 0);
  EXPECT_THAT(run_help.out, HasSubstr("  --workers N "));
  EXPECT_THAT(run_help.out, HasSubstr("(default: builtin:identity)"));
  EXPECT_EQ(Ampmr({"help", "run"}).out, run_help.out);

  Result status_help = Ampmr({"status", "-h"});
  EXPECT_EQ(status_help.exit_code, 0);
  EXPECT_THAT(status_help.out, HasSubstr("--master ADDR"));
  EXPECT_THAT(status_help.out, HasSubstr("$AMPMR_MASTER, else 127.0.0.1:7070"));

  Result unknown = Ampmr({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, StartsWith("ampmr: unknown command \"frobnicate\"\n\nusage:"));

  Result bad_flag = Ampmr({"jobs", "--jason"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_EQ(bad_flag.err, "ampmr: unknown flag --jason (see --help)\n");

  Result no_job = Ampmr({"status"});
  EXPECT_EQ(no_job.exit_code, 2);
  EXPECT_EQ(no_job.err, "ampmr: missing JOB_ID (see --help)\n");
}

TEST_F(AmpmrCliTest, LocalRefusalsComeBeforeStartingOrContactingAnything) {
  Result reduces = Ampmr(
      {"run", "--reduces", "0", "--input", "a", "--output", "o", "--mapper", "builtin:wordcount"});
  EXPECT_EQ(reduces.exit_code, 2);
  EXPECT_EQ(reduces.err, "ampmr: --reduces: must be >= 1, got 0\n");
  EXPECT_EQ(reduces.out, "");

  // --input takes several paths; a stray argument after another flag is refused.
  Result stray =
      Ampmr({"run", "--input", "a", "b", "--output", "o", "c", "--mapper", "builtin:noop"});
  EXPECT_EQ(stray.exit_code, 2);
  EXPECT_EQ(stray.err, "ampmr: unexpected argument \"c\"\n");

  Result sort_key = Ampmr({"run", "--input", "a", "--output", "o", "--mapper", "builtin:noop",
                           "--sort-key", "-k0"});
  EXPECT_EQ(sort_key.exit_code, 2);
  EXPECT_EQ(sort_key.err, "ampmr: --sort-key: \"-k0\": field numbers start at 1\n");

  Result workers =
      Ampmr({"run", "--workers", "0", "--input", "a", "--output", "o", "--mapper", "builtin:noop"});
  EXPECT_EQ(workers.exit_code, 2);
  EXPECT_EQ(workers.err, "ampmr: --workers: must be >= 1, got 0\n");

  // An unreachable master does not matter: nothing is contacted.
  Result size = Ampmr({"submit", "--master", "127.0.0.1:1", "--split-size", "12Q", "--input", "a",
                       "--output", "o", "--mapper", "builtin:noop"});
  EXPECT_EQ(size.exit_code, 2);
  EXPECT_THAT(size.err, StartsWith("ampmr: --split-size: bad size \"12Q\""));

  EXPECT_EQ(events_.Next(absl::ZeroDuration()), std::nullopt);  // no master
  EXPECT_THAT(fake_.submitted(), IsEmpty());
}

TEST_F(AmpmrCliTest, ReconnectTimeoutIsDocumentedAndChecked) {
  for (const char* command : {"wait", "submit"}) {
    Result help = Ampmr({command, "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_THAT(help.out, HasSubstr("  --reconnect-timeout SECS "));
    EXPECT_THAT(help.out, HasSubstr("(default: 60)"));
  }
  Result negative = Ampmr({"wait", "--master", "127.0.0.1:1", "--reconnect-timeout", "-1", "j1"});
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_EQ(negative.err, "ampmr: --reconnect-timeout: must be >= 0 seconds, got -1\n");
}

TEST_F(AmpmrCliTest, UnreachableMasterFailsWithinSeconds) {
  const absl::Time start = absl::Now();
  Result r = Ampmr({"jobs"}, "AMPMR_MASTER=127.0.0.1:1");
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("ampmr: cannot reach master at 127.0.0.1:1: "));
  EXPECT_THAT(r.err, EndsWith("\n"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(AmpmrCliTest, RunSubmitsFollowsReportsAndCleansUp) {
  fake_.watch_events = {Status(v1::MAPPING, 0, 0), Status(v1::REDUCING, 2, 0),
                        Status(v1::SUCCEEDED, 2, 1)};
  fake_.final_status = Status(v1::SUCCEEDED, 2, 1);
  (*fake_.final_status.mutable_counters())["map.input_records"] = 3;
  (*fake_.final_status.mutable_counters())["reduce.output_records"] = 12;

  Result r = Ampmr(RunArgs());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat("job:      j1\n"
                                "state:    SUCCEEDED\n"
                                "elapsed:  12.3s\n"
                                "output:   ",
                                work_.path(),
                                "/out\n"
                                "map:      2/2\n"
                                "reduce:   1/1\n"
                                "counters:\n"
                                "  map.input_records      3\n"
                                "  reduce.output_records  12\n"));
  EXPECT_EQ(r.err, "");  // stderr is no terminal: no progress line

  ASSERT_EQ(fake_.submitted().size(), 1u);
  const v1::JobSpec spec = fake_.submitted()[0];
  EXPECT_THAT(spec.inputs(), ElementsAre(work_ / "in.txt"));
  EXPECT_EQ(spec.output(), work_ / "out");
  EXPECT_EQ(spec.mapper(), "builtin:wordcount");
  EXPECT_EQ(spec.reducer(), "builtin:sum");

  std::vector<std::string> master = events_.NextFields();
  ASSERT_EQ(master.size(), 8u);
  EXPECT_EQ(master[2], "--listen");
  EXPECT_EQ(master[3], "127.0.0.1:0");
  EXPECT_THAT(master[5], StartsWith(work_ / "tmp/ampmr-run-"));
  std::vector<pid_t> pids = {std::stoi(master[1])};
  for (int i = 0; i < 2; ++i) {
    std::vector<std::string> worker = events_.NextFields();
    ASSERT_EQ(worker.size(), 10u);
    EXPECT_EQ(worker[3], address_);
    EXPECT_EQ(worker[9], master[7]);  // the run's own token file
    pids.push_back(std::stoi(worker[1]));
  }
  ExpectClusterGone(pids);
}

TEST_F(AmpmrCliTest, RunReportsAFailedJob) {
  fake_.final_status = Status(v1::FAILED, 1, 0);
  fake_.final_status.set_error("task m1 input=/w/in.txt failed after 4 attempts: exit status 2");
  fake_.watch_events = {fake_.final_status};
  Result r = Ampmr(RunArgs());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "ampmr: job j1 failed: task m1 input=/w/in.txt failed after 4 "
            "attempts: exit status 2\n");
  EXPECT_THAT(r.out, HasSubstr("state:    FAILED\n"));
  ExpectClusterGone(ClusterPids(2));
}

TEST_F(AmpmrCliTest, RunPrintsTheMastersValidationError) {
  fake_.submit_error = absl::FailedPreconditionError("output /w/out exists and is not empty");
  Result r = Ampmr(RunArgs());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ampmr: output /w/out exists and is not empty\n");
  EXPECT_EQ(r.out, "");
  ExpectClusterGone(ClusterPids(2));
}

TEST_F(AmpmrCliTest, RunExplainsAMasterThatDoesNotStart) {
  WriteMaster(
      "echo 'listen 127.0.0.1:0: address family not supported' >&2\n"
      "exit 1\n");
  Result r = Ampmr(RunArgs());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "ampmr: cannot start the local cluster: ampmr-master exited with "
            "status 1 before it was listening; its log ends with:\n"
            "  listen 127.0.0.1:0: address family not supported\n");
  EXPECT_THAT(work_.List("tmp"), IsEmpty());
  EXPECT_EQ(events_.Next(absl::ZeroDuration()), std::nullopt);  // no workers
}

TEST_F(AmpmrCliTest, InterruptCancelsTheJobAndCleansUp) {
  for (int signo : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(signo);
    fake_.watch_events = {Status(v1::MAPPING, 0, 0)};
    fake_.hold_watch = true;
    fake_.final_status = Status(v1::MAPPING, 0, 0);
    std::unique_ptr<Subprocess> run = Start(RunArgs());
    ASSERT_NE(run, nullptr);
    std::vector<pid_t> pids = ClusterPids(2);
    ASSERT_TRUE(fake_.WaitForHeldWatch());
    kill(run->pid(), signo);
    Result r = Finish(run.get());
    EXPECT_EQ(r.exit_code, 128 + signo);
    EXPECT_EQ(r.err, "ampmr: interrupted; cancelled job j1\n");
    EXPECT_THAT(fake_.cancelled(), ::testing::Contains("j1"));
    ExpectClusterGone(pids);
  }
}

TEST_F(AmpmrCliTest, SecondInterruptKillsWithoutWaiting) {
  // A master that reports SIGTERM and keeps running.
  WriteMaster(absl::StrCat("trap 'echo \"term $$\" > ", events_.path(), "' TERM\n",
                           "echo \"master $$ $*\" > ", events_.path(), "\n",
                           "echo 'ampmr-master listening on ", address_, "'\n",
                           "while :; do sleep 600 & wait $!; done\n"));
  fake_.watch_events = {Status(v1::MAPPING, 0, 0)};
  fake_.hold_watch = true;
  std::unique_ptr<Subprocess> run = Start(RunArgs());
  ASSERT_NE(run, nullptr);
  std::vector<pid_t> pids = ClusterPids(2);
  ASSERT_TRUE(fake_.WaitForHeldWatch());
  const absl::Time start = absl::Now();
  kill(run->pid(), SIGINT);
  std::vector<std::string> term = events_.NextFields();  // the orderly stop began
  ASSERT_THAT(term, ElementsAre("term", std::to_string(pids[0])));
  kill(run->pid(), SIGINT);
  Result r = Finish(run.get());
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));  // no stop_grace wait
  EXPECT_EQ(r.exit_code, 130);
  EXPECT_EQ(r.err, "\nampmr: interrupted again; killed the local cluster\n");
  for (pid_t pid : pids) EXPECT_TRUE(WaitForProcessExit(pid)) << pid;
}

TEST_F(AmpmrCliTest, RunNoticesTheMasterDying) {
  fake_.watch_events = {Status(v1::MAPPING, 0, 0)};
  fake_.hold_watch = true;
  std::unique_ptr<Subprocess> run = Start(RunArgs());
  ASSERT_NE(run, nullptr);
  std::vector<pid_t> pids = ClusterPids(2);
  ASSERT_TRUE(fake_.WaitForHeldWatch());
  kill(pids[0], SIGKILL);
  Result r = Finish(run.get());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "ampmr: the local cluster failed: ampmr-master killed by signal 9 (SIGKILL) "
            "while the job was running\n");
  ExpectClusterGone(pids);
}

TEST_F(AmpmrCliTest, RunNoticesEveryWorkerExiting) {
  WriteWorker(WorkerScript("echo 'cannot reach master' >&2\nexit 5\n"));
  fake_.watch_events = {Status(v1::MAPPING, 0, 0)};
  fake_.hold_watch = true;
  Result r = Ampmr(RunArgs());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("ampmr: the local cluster failed: every "
                                "ampmr-worker exited (the last, worker-"));
  EXPECT_THAT(r.err, EndsWith(", exited with status 5); its log ends with:\n"
                              "  cannot reach master\n"));
  ExpectClusterGone(ClusterPids(2));
}

TEST_F(AmpmrCliTest, SubmitPrintsTheJobIdAlone) {
  Result r = Ampmr({"submit", "--master", address_, "--input", "/abs/in", "--input", "rel/*.txt",
                    "--output", "out", "--mapper", "exec:tr a-z A-Z", "--reducer", "none", "--env",
                    "A=b", "--name", "upper"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "j1\n");
  ASSERT_EQ(fake_.submitted().size(), 1u);
  const v1::JobSpec spec = fake_.submitted()[0];
  EXPECT_THAT(spec.inputs(), ElementsAre("/abs/in", work_ / "rel/*.txt"));
  EXPECT_EQ(spec.output(), work_ / "out");
  EXPECT_EQ(spec.reducer(), "none");
  EXPECT_EQ(spec.env().at("A"), "b");
  EXPECT_EQ(spec.name(), "upper");
}

TEST_F(AmpmrCliTest, SubmitWaitFollowsLikeRun) {
  fake_.final_status = Status(v1::SUCCEEDED, 2, 1);
  fake_.watch_events = {Status(v1::MAPPING, 1, 0), fake_.final_status};
  Result r =
      Ampmr({"submit", "--wait", "--input", "/in", "--output", "/out", "--mapper", "builtin:noop"},
            "AMPMR_MASTER=" + address_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("j1\njob:      j1\nstate:    SUCCEEDED\n"));
}

TEST_F(AmpmrCliTest, ProgressLineOnATerminal) {
  if (access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "no script(1)";
  fake_.final_status = Status(v1::SUCCEEDED, 2, 1);
  fake_.watch_events = {Status(v1::MAPPING, 1, 0), fake_.final_status};
  SubprocessOptions options = CapturingOptions();
  // script(1) gives ampmr a terminal; its output is what the terminal shows.
  options.argv = {"/usr/bin/script", "-qec",
                  absl::StrCat(bin_ / "ampmr", " submit --wait --master ", address_,
                               " --input /in --output /out --mapper "
                               "builtin:noop"),
                  "/dev/null"};
  auto child = Subprocess::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  Result r = Finish(child->get());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\rMAPPING  map 1/2  reduce 0/1  0."));
  EXPECT_THAT(r.out, HasSubstr("\rSUCCEEDED  map 2/2  reduce 1/1  0."));
  // The line is erased before the summary is printed.
  EXPECT_THAT(r.out, HasSubstr("\r\x1b[Kjob:      j1\r\n"));
}

TEST_F(AmpmrCliTest, StatusWaitCancelJobsWorkers) {
  fake_.final_status = Status(v1::FAILED, 1, 0);
  fake_.final_status.set_error("task m0 failed: boom");
  fake_.final_status.mutable_spec()->set_mapper("builtin:wordcount");
  const std::string env = "AMPMR_MASTER=" + address_;

  Result status = Ampmr({"status", "j1"}, env);
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.out, StartsWith("job:        j1\nstate:      FAILED\n"
                                     "error:      task m0 failed: boom\n"));

  Result json = Ampmr({"status", "--json", "j1"}, env);
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_THAT(json.out, StartsWith("{"));
  EXPECT_THAT(json.out, HasSubstr("\"job_id\":\"j1\""));
  EXPECT_THAT(json.out, HasSubstr("\"state\":\"FAILED\""));
  EXPECT_EQ(std::count(json.out.begin(), json.out.end(), '\n'), 1);

  Result missing = Ampmr({"status", "j9"}, env);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "ampmr: job j9: not found\n");

  Result wait = Ampmr({"wait", "j1"}, env);
  EXPECT_EQ(wait.exit_code, 1);
  EXPECT_EQ(wait.out, "j1 FAILED\n");
  EXPECT_EQ(wait.err, "ampmr: job j1 failed: task m0 failed: boom\n");

  Result cancel = Ampmr({"cancel", "--master", address_, "j1"});
  EXPECT_EQ(cancel.exit_code, 0);
  EXPECT_EQ(cancel.out, "j1 CANCELLED\n");
  EXPECT_THAT(fake_.cancelled(), ElementsAre("j1"));

  Result jobs = Ampmr({"jobs"}, env);
  EXPECT_EQ(jobs.exit_code, 0);
  EXPECT_THAT(jobs.out, StartsWith("ID  STATE   MAP  REDUCE  NAME  "));
  EXPECT_THAT(jobs.out, HasSubstr("\nj1  FAILED  1/2  0/1     builtin:wordcount  "));

  v1::WorkerInfo worker;
  worker.set_worker_id("w1");
  worker.set_host("node-a");
  fake_.workers = {worker, worker};
  fake_.workers[1].set_worker_id("w2");
  Result workers = Ampmr({"workers", "--json"}, env);
  EXPECT_EQ(workers.exit_code, 0);
  EXPECT_EQ(std::count(workers.out.begin(), workers.out.end(), '\n'), 2);
  EXPECT_THAT(workers.out, HasSubstr("\"worker_id\":\"w2\""));

  Result call = Ampmr({"call", "--handler", "echo", "hi"}, env);
  EXPECT_EQ(call.exit_code, 0);
  EXPECT_EQ(call.out, "echo:hi");
  Result no_handler = Ampmr({"call", "--handler", "nope"}, env);
  EXPECT_EQ(no_handler.exit_code, 2);
  EXPECT_EQ(no_handler.err, "ampmr: NOT_FOUND: no worker offers handler nope\n");
}

}  // namespace
}  // namespace ampmr::client
