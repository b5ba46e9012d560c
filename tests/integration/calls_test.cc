// Calls end to end: the real ampmr-master and ampmr-worker binaries on
// loopback, Python handlers built on sdk/python/ampmr_handler.py, and
// callers that are `ampmr call` or plain gRPC clients.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ampmr/v1/job.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Requests: "whoami" -> "PID N" (N counts this process's calls), "echo X",
// "hold FILE" (writes its pid to FILE, then sleeps a minute), "hold-once
// FILE" (as hold unless FILE exists; then answers "done PID"), "nap FILE
// SECS" (creates FILE, sleeps SECS, answers "rested"), "crash" (exit 3
// mid-call), "fail CODE".
constexpr char kHandlerScript[] = R"PY(
import os, sys, time
sys.path.insert(0, os.environ["SDK_DIR"])
import ampmr_handler as h
calls = 0
def hold(path):
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(path + ".tmp", path)
    time.sleep(60)
    return "held"
def handle(payload):
    global calls
    calls += 1
    cmd, _, arg = payload.decode().partition(" ")
    if cmd == "whoami":
        return "%d %d" % (os.getpid(), calls)
    if cmd == "echo":
        return arg
    if cmd == "hold":
        return hold(arg)
    if cmd == "nap":
        path, secs = arg.split()
        open(path, "w").close()
        time.sleep(float(secs))
        return "rested"
    if cmd == "hold-once":
        if os.path.exists(arg):
            return "done %d" % os.getpid()
        return hold(arg)
    if cmd == "crash":
        os._exit(3)
    if cmd == "fail":
        raise h.HandlerError(int(arg), "failed as asked")
    return "unknown " + cmd
h.serve(handle)
)PY";

// Live processes whose parent is `pid`, but for a worker's reaper (see
// worker/task/group_reaper.h).
std::vector<pid_t> ChildrenBesidesTheReaper(pid_t pid) {
  std::vector<pid_t> out;
  for (pid_t p : ChildrenOf(pid)) {
    std::string comm;
    std::getline(std::ifstream(absl::StrCat("/proc/", p, "/comm")), comm);
    if (comm != "ampmr-reaper") out.push_back(p);
  }
  return out;
}

int64_t ReadPid(const std::string& path) {
  std::string text;
  std::getline(std::ifstream(path), text);
  int64_t pid = 0;
  return absl::SimpleAtoi(text, &pid) ? pid : 0;
}

// A master and workers whose handlers the test chooses.
class CallCluster {
 public:
  explicit CallCluster(const std::string& dir) : dir_(dir), cluster_(dir, 0) {
    script_ = dir + "/handler.py";
    std::ofstream(script_) << kHandlerScript;
  }
  const std::string& address() const { return cluster_.address(); }

  // The worker flag for the Python handler under `name`.
  std::string PythonHandler(const std::string& name = "py") const {
    // AMPMR_SDK_PYTHON_DIR: sdk/python in the source tree (set by CMake).
    return absl::StrCat(name, "=SDK_DIR=", AMPMR_SDK_PYTHON_DIR, " exec /usr/bin/python3 ",
                        script_);
  }
  // Starts a worker with `args` (handlers, slots ...); returns its index.
  int AddWorker(const std::vector<std::string>& args) {
    int i = static_cast<int>(workers_.size());
    std::vector<std::string> argv = {BinPath("ampmr-worker"), "--master", address(), "--work-dir",
                                     absl::StrCat(dir_, "/w", i)};
    argv.insert(argv.end(), args.begin(), args.end());
    workers_.push_back(Daemon::Start(argv, absl::StrCat(dir_, "/worker", i, ".log")));
    return i;
  }
  Daemon* worker(int i) { return workers_[i].get(); }
  bool WaitForWorkers(int n) { return cluster_.WaitForWorkers(n); }

  // `ampmr call`; `extra` goes before the payload.
  CommandResult Call(const std::string& handler, const std::string& payload,
                     const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {BinPath("ampmr"), "call",      "--master",
                                     address(),        "--handler", handler};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(payload);
    return RunCommand(argv, absl::Seconds(60));
  }
  // "whoami" -> {pid, calls}.
  std::pair<int64_t, int64_t> WhoAmI(const std::string& handler = "py") {
    CommandResult r = Call(handler, "whoami");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> parts = absl::StrSplit(r.out, ' ');
    int64_t pid = 0, n = 0;
    if (parts.size() == 2) {
      absl::SimpleAtoi(parts[0], &pid);
      absl::SimpleAtoi(parts[1], &n);
    }
    EXPECT_NE(pid, 0) << r.out;
    return {pid, n};
  }

 private:
  std::string dir_;
  std::string script_;
  // Workers die before the master: declared after it.
  TestCluster cluster_;
  std::vector<std::unique_ptr<Daemon>> workers_;
};

TEST(CallsTest, PythonHandlerKeepsItsStateAcrossCalls) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  c.AddWorker({"--slots", "1", "--handler", c.PythonHandler()});
  ASSERT_TRUE(c.WaitForWorkers(1));
  auto [pid, first] = c.WhoAmI();
  for (int i = 1; i <= 5; ++i) {
    auto [again, n] = c.WhoAmI();
    EXPECT_EQ(again, pid);
    EXPECT_EQ(n, first + i);
  }
  // `ampmr call` prints the payload exactly, with no newline added.
  CommandResult echo = c.Call("py", "echo hello world");
  EXPECT_EQ(echo.exit_code, 0) << echo.err;
  EXPECT_EQ(echo.out, "hello world");
  EXPECT_EQ(echo.err, "");
}

TEST(CallsTest, FailuresPrintStatusAndMessageAndExitNonZero) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  c.AddWorker({"--handler", c.PythonHandler(), "--handler", "echo=builtin:echo"});
  ASSERT_TRUE(c.WaitForWorkers(1));
  CommandResult unknown = c.Call("nope", "x");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_EQ(unknown.out, "");
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(unknown.err, HasSubstr("\"nope\""));

  CommandResult failed = c.Call("py", "fail 9");
  EXPECT_NE(failed.exit_code, 0);
  // The handler's own error reads as the handler's, not the master's.
  EXPECT_EQ(failed.err, "ampmr: FAILED_PRECONDITION: handler py: failed as asked\n");

  CommandResult echo = c.Call("echo", "through the built-in");
  EXPECT_EQ(echo.exit_code, 0) << echo.err;
  EXPECT_EQ(echo.out, "through the built-in");
}

TEST(CallsTest, TwoHundredCallsFromEightClientsEachGetTheirOwnAnswer) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  c.AddWorker({"--slots", "2", "--handler", c.PythonHandler()});
  c.AddWorker({"--slots", "2", "--handler", c.PythonHandler()});
  ASSERT_TRUE(c.WaitForWorkers(2));
  std::atomic<int> right{0};
  std::vector<std::string> wrong;
  std::mutex mu;
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      auto stub = v1::JobService::NewStub(
          grpc::CreateChannel(c.address(), grpc::InsecureChannelCredentials()));
      for (int i = 0; i < 25; ++i) {
        std::string want = absl::StrCat("client ", t, " call ", i);
        v1::CallRequest request;
        request.set_handler("py");
        request.set_payload("echo " + want);
        request.set_timeout_seconds(30);
        v1::CallResponse response;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        ctx.AddMetadata("authorization", "Bearer " + TestToken());
        grpc::Status s = stub->Call(&ctx, request, &response);
        if (s.ok() && response.payload() == want) {
          ++right;
        } else {
          std::lock_guard<std::mutex> lock(mu);
          wrong.push_back(absl::StrCat(want, " -> ", s.error_message(), response.payload()));
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(right.load(), 200);
  EXPECT_THAT(wrong, ::testing::IsEmpty());
}

TEST(CallsTest, TimeoutWhileRunningAndWhileQueued) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  c.AddWorker({"--slots", "1", "--handler", c.PythonHandler()});
  ASSERT_TRUE(c.WaitForWorkers(1));
  int64_t before = c.WhoAmI().first;
  std::string held = tmp.path() + "/held";
  CommandResult running;
  std::thread t([&] { running = c.Call("py", "hold " + held, {"--timeout", "3"}); });
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(held); }));
  // The only slot is busy: this one waits in the master's queue and times out there.
  CommandResult queued = c.Call("py", "echo never", {"--timeout", "0.5"});
  EXPECT_NE(queued.exit_code, 0);
  EXPECT_THAT(queued.err, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_THAT(queued.err, HasSubstr("still queued"));
  EXPECT_LT(queued.elapsed, absl::Seconds(2.5));
  t.join();
  EXPECT_NE(running.exit_code, 0);
  EXPECT_THAT(running.err, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_GE(running.elapsed, absl::Seconds(3));
  EXPECT_LT(running.elapsed, absl::Seconds(15));
  // The child that overran was killed; a fresh one answers.
  EXPECT_TRUE(WaitUntil([&] { return !Alive(before); }));
  auto [after, n] = c.WhoAmI();
  EXPECT_NE(after, before);
  EXPECT_EQ(n, 1);
}

TEST(CallsTest, CrashedHandlerFailsItsCallAndIsRestarted) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  c.AddWorker({"--handler", c.PythonHandler()});
  ASSERT_TRUE(c.WaitForWorkers(1));
  int64_t before = c.WhoAmI().first;
  CommandResult crash = c.Call("py", "crash");
  EXPECT_NE(crash.exit_code, 0);
  EXPECT_THAT(crash.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(crash.err, HasSubstr("exited with status 3"));
  auto [after, n] = c.WhoAmI();
  EXPECT_NE(after, before);
  EXPECT_EQ(n, 1);
}

TEST(CallsTest, ChildIsRecycledAfterMaxCalls) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  c.AddWorker({"--handler-max-calls", "3", "--handler", c.PythonHandler()});
  ASSERT_TRUE(c.WaitForWorkers(1));
  std::vector<int64_t> pids;
  std::vector<int64_t> counts;
  for (int i = 0; i < 7; ++i) {
    auto [pid, n] = c.WhoAmI();
    pids.push_back(pid);
    counts.push_back(n);
  }
  EXPECT_THAT(counts, ::testing::ElementsAre(1, 2, 3, 1, 2, 3, 1));
  EXPECT_EQ(pids[0], pids[2]);
  EXPECT_NE(pids[0], pids[3]);
  EXPECT_NE(pids[3], pids[6]);
  EXPECT_TRUE(WaitUntil([&] { return !Alive(pids[0]); }));
}

TEST(CallsTest, WorkerKilledMidCall) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  for (int i = 0; i < 3; ++i) c.AddWorker({"--slots", "1", "--handler", c.PythonHandler()});
  ASSERT_TRUE(c.WaitForWorkers(3));
  // Kills the worker whose child is holding `file`; returns the child's pid.
  auto kill_holder = [&](const std::string& file) -> int64_t {
    EXPECT_TRUE(WaitUntil([&] { return fs::exists(file); }));
    int64_t child = ReadPid(file);
    int64_t worker = ParentOf(child);
    EXPECT_NE(worker, 0);
    for (int i = 0; i < 3; ++i) {
      if (c.worker(i)->pid() == worker) c.worker(i)->Signal(SIGKILL);
    }
    return child;
  };

  // Idempotent: retried on another worker, whose child finds the file.
  std::string first = tmp.path() + "/first";
  CommandResult retried;
  std::thread t1([&] { retried = c.Call("py", "hold-once " + first, {"--idempotent"}); });
  int64_t child1 = kill_holder(first);
  t1.join();
  EXPECT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_THAT(retried.out, HasSubstr("done "));
  EXPECT_NE(retried.out, absl::StrCat("done ", child1));
  // The dead worker's handler child went with it.
  EXPECT_TRUE(WaitUntil([&] { return !Alive(child1); }));

  // Not idempotent: UNAVAILABLE, not run twice.
  std::string second = tmp.path() + "/second";
  CommandResult lost;
  std::thread t2([&] { lost = c.Call("py", "hold-once " + second); });
  int64_t child2 = kill_holder(second);
  t2.join();
  EXPECT_NE(lost.exit_code, 0);
  EXPECT_THAT(lost.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(lost.err, HasSubstr("went away mid-call"));
  EXPECT_TRUE(WaitUntil([&] { return !Alive(child2); }));
  // The last worker still answers.
  EXPECT_EQ(c.Call("py", "echo still here").out, "still here");
}

TEST(CallsTest, StoppedWorkerTakesItsHandlersWithIt) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  c.AddWorker({"--slots", "2", "--handler", c.PythonHandler()});
  ASSERT_TRUE(c.WaitForWorkers(1));
  // Both children start with the worker, before any call.
  std::vector<pid_t> pids;
  ASSERT_TRUE(WaitUntil([&] {
    pids = ChildrenBesidesTheReaper(c.worker(0)->pid());
    return pids.size() == 2;
  }));
  c.worker(0)->Signal(SIGTERM);
  EXPECT_EQ(c.worker(0)->Wait(absl::Seconds(30)), 0);
  for (pid_t pid : pids) EXPECT_TRUE(WaitUntil([&] { return !Alive(pid); })) << pid;
}

TEST(CallsTest, DrainingWorkerFinishesItsRunningCall) {
  ScratchDir tmp;
  CallCluster c(tmp.path());
  c.AddWorker({"--handler", c.PythonHandler()});
  ASSERT_TRUE(c.WaitForWorkers(1));
  std::string started = tmp.path() + "/started";
  CommandResult r;
  std::thread t([&] { r = c.Call("py", "nap " + started + " 1.5"); });
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(started); }));
  c.worker(0)->Signal(SIGTERM);
  t.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "rested");
  EXPECT_EQ(c.worker(0)->Wait(absl::Seconds(30)), 0);
}

}  // namespace
}  // namespace ampmr::testing
