// HandlerPool with real child processes: a Python handler built on
// sdk/python/ampmr_handler.py whose behaviour each request picks.
#include "worker/handler_pool.h"

#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::worker {
namespace {

namespace fs = std::filesystem;
using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// Requests: "whoami" -> "PID N" (N counts this process's calls), "echo X",
// "sleep SECS", "hold FILE" (create FILE, then sleep a minute), "crash" (exit
// 3 mid-call), "crash-once FILE" (crash unless
// FILE exists, creating it), "fail CODE", "raise", "garbage" (a bad frame).
constexpr char kHandlerScript[] = R"PY(
import os, sys, time
sys.path.insert(0, os.environ["SDK_DIR"])
import ampmr_handler as h
calls = 0
def handle(payload):
    global calls
    calls += 1
    cmd, _, arg = payload.decode().partition(" ")
    if cmd == "whoami":
        return "%d %d" % (os.getpid(), calls)
    if cmd == "echo":
        return arg
    if cmd == "sleep":
        time.sleep(float(arg))
        return "slept"
    if cmd == "hold":
        open(arg, "w").close()
        time.sleep(60)
        return "held"
    if cmd == "crash":
        os._exit(3)
    if cmd == "crash-once":
        if not os.path.exists(arg):
            open(arg, "w").close()
            os._exit(3)
        return "survived %d" % os.getpid()
    if cmd == "fail":
        raise h.HandlerError(int(arg), "failed as asked")
    if cmd == "raise":
        raise ValueError("bad value")
    if cmd == "garbage":
        os.write(4, b"\xff\xff\xff\xff")
        time.sleep(30)
    return "unknown " + cmd
h.serve(handle)
)PY";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "handler_pool_test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// sdk/python in the source tree (set by tests/worker/CMakeLists.txt).
std::string SdkDir() { return AMPMR_SDK_PYTHON_DIR; }

// A Python handler command, with the script written under `dir`.
std::string PythonHandler(const TempDir& dir, const std::string& prefix = "") {
  std::string script = dir.path() + "/handler.py";
  std::ofstream(script) << kHandlerScript;
  return absl::StrCat(prefix, "SDK_DIR=", SdkDir(), " exec /usr/bin/python3 ", script);
}

// Waits for one call's result.
class Result {
 public:
  HandlerPool::Done Done() {
    return [this](absl::StatusOr<std::string> r) {
      std::lock_guard<std::mutex> lock(mu_);
      ++ends_;
      result_ = std::move(r);
      cv_.notify_all();
    };
  }
  absl::StatusOr<std::string> Get(absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [this] { return result_.has_value(); })) {
      return absl::DeadlineExceededError("test: no result in time");
    }
    return *result_;
  }
  int ends() {
    std::lock_guard<std::mutex> lock(mu_);
    return ends_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<absl::StatusOr<std::string>> result_;
  int ends_ = 0;
};

absl::StatusOr<std::string> CallAndWait(HandlerPool* pool, const std::string& handler,
                                        const std::string& payload,
                                        absl::Duration timeout = absl::InfiniteDuration(),
                                        bool idempotent = false) {
  static std::atomic<int> next{1};
  Result result;
  HandlerCall call;
  call.handler = handler;
  call.payload = payload;
  call.call_id = absl::StrCat("c", next++);
  call.timeout = timeout;
  call.idempotent = idempotent;
  pool->Call(call, result.Done());
  return result.Get();
}

// "PID N" from whoami.
std::pair<int64_t, int64_t> WhoAmI(HandlerPool* pool, const std::string& handler = "py") {
  absl::StatusOr<std::string> r = CallAndWait(pool, handler, "whoami");
  EXPECT_THAT(r, IsOk());
  if (!r.ok()) return {0, 0};
  std::vector<std::string> parts = absl::StrSplit(*r, ' ');
  int64_t pid = 0, n = 0;
  EXPECT_EQ(parts.size(), 2u) << *r;
  if (parts.size() == 2) {
    EXPECT_TRUE(absl::SimpleAtoi(parts[0], &pid));
    EXPECT_TRUE(absl::SimpleAtoi(parts[1], &n));
  }
  return {pid, n};
}

// Alive and not a zombie.
bool Alive(int64_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// Polls `done` until it holds, for at most 10 s.
bool WaitFor(const std::function<bool()>& done) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

bool WaitDead(int64_t pid) {
  return WaitFor([pid] { return !Alive(pid); });
}

std::unique_ptr<HandlerPool> StartPool(std::vector<HandlerSpec> handlers, int slots = 1,
                                       int64_t max_calls = 0) {
  HandlerPoolOptions options;
  options.handlers = std::move(handlers);
  options.slots = slots;
  options.max_calls = max_calls;
  absl::StatusOr<std::unique_ptr<HandlerPool>> pool = HandlerPool::Start(options);
  EXPECT_THAT(pool, IsOk());
  return pool.ok() ? std::move(*pool) : nullptr;
}

TEST(HandlerSpecTest, ParsesNameEqualsCommand) {
  absl::StatusOr<HandlerSpec> spec = ParseHandlerSpec("graph=python3 serve.py --x=1");
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->name, "graph");
  EXPECT_EQ(spec->command, "python3 serve.py --x=1");
  EXPECT_THAT(ParseHandlerSpec("echo=builtin:echo"), IsOk());
}

TEST(HandlerSpecTest, RefusesMalformedFlags) {
  for (const char* bad : {"noequals", "=cmd", "name=", "bad name=cmd", "x=builtin:nope"}) {
    EXPECT_THAT(ParseHandlerSpec(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(HandlerPoolTest, RefusesTheSameNameTwice) {
  HandlerPoolOptions options;
  options.handlers = {{"a", "builtin:echo"}, {"a", "cat"}};
  EXPECT_THAT(HandlerPool::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

TEST(HandlerPoolTest, BuiltinEchoAnswersWithTheRequest) {
  auto pool = StartPool({{"echo", "builtin:echo"}});
  EXPECT_EQ(*CallAndWait(pool.get(), "echo", std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(*CallAndWait(pool.get(), "echo", ""), "");
}

TEST(HandlerPoolTest, UnknownHandlerIsNotFound) {
  auto pool = StartPool({{"echo", "builtin:echo"}});
  EXPECT_THAT(CallAndWait(pool.get(), "nope", "x"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST(HandlerPoolTest, OneChildKeepsItsStateAcrossCalls) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}});
  auto [pid, n1] = WhoAmI(pool.get());
  auto [pid2, n2] = WhoAmI(pool.get());
  auto [pid3, n3] = WhoAmI(pool.get());
  EXPECT_EQ(pid, pid2);
  EXPECT_EQ(pid, pid3);
  EXPECT_EQ(n1 + 2, n3);
  EXPECT_THAT(pool->ChildPids("py"), ::testing::ElementsAre(pid));
  EXPECT_EQ(*CallAndWait(pool.get(), "py", std::string("echo ") + std::string(1 << 20, 'x')),
            std::string(1 << 20, 'x'));
}

TEST(HandlerPoolTest, HandlerErrorsKeepTheirStatus) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}});
  EXPECT_THAT(CallAndWait(pool.get(), "py", "fail 5"),
              StatusIs(absl::StatusCode::kNotFound, "failed as asked"));
  EXPECT_THAT(CallAndWait(pool.get(), "py", "raise"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("ValueError: bad value")));
  // The child survives its errors.
  EXPECT_EQ(WhoAmI(pool.get()).second, 3);
}

TEST(HandlerPoolTest, CrashedChildFailsItsCallAndIsRestarted) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}});
  int64_t before = WhoAmI(pool.get()).first;
  EXPECT_THAT(CallAndWait(pool.get(), "py", "crash"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("exited with status 3")));
  auto [after, n] = WhoAmI(pool.get());
  EXPECT_NE(after, before);
  EXPECT_EQ(n, 1);  // a fresh process
}

TEST(HandlerPoolTest, IdempotentCallIsRetriedOnAnotherChild) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}}, /*slots=*/2);
  std::string marker = dir.path() + "/crashed";
  absl::StatusOr<std::string> r = CallAndWait(pool.get(), "py", "crash-once " + marker,
                                              absl::InfiniteDuration(), /*idempotent=*/true);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(*r, HasSubstr("survived"));
  EXPECT_TRUE(fs::exists(marker));
  // Not idempotent: no second try.
  fs::remove(marker);
  EXPECT_THAT(CallAndWait(pool.get(), "py", "crash-once " + marker),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(HandlerPoolTest, TimeoutKillsTheChildAndTheNextCallGetsANewOne) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}});
  int64_t before = WhoAmI(pool.get()).first;
  absl::Time start = absl::Now();
  EXPECT_THAT(CallAndWait(pool.get(), "py", "sleep 30", absl::Milliseconds(300)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("killed")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(WaitDead(before));
  EXPECT_NE(WhoAmI(pool.get()).first, before);
}

TEST(HandlerPoolTest, CancelRunningAndQueuedCalls) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}});
  int64_t before = WhoAmI(pool.get()).first;
  Result running, queued;
  std::string held = dir.path() + "/held";
  pool->Call({"py", "hold " + held, "run1"}, running.Done());
  pool->Call({"py", "echo later", "q1"}, queued.Done());
  ASSERT_TRUE(WaitFor([&] { return fs::exists(held); }));
  pool->Cancel("q1");
  EXPECT_THAT(queued.Get(), StatusIs(absl::StatusCode::kCancelled, HasSubstr("queued")));
  pool->Cancel("run1");
  EXPECT_THAT(running.Get(), StatusIs(absl::StatusCode::kCancelled, HasSubstr("killed")));
  EXPECT_TRUE(WaitDead(before));
  EXPECT_EQ(*CallAndWait(pool.get(), "py", "echo ok"), "ok");
}

TEST(HandlerPoolTest, WaitIdleWaitsForQueuedAndRunningCalls) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}});
  EXPECT_TRUE(pool->WaitIdle(absl::ZeroDuration()));
  Result held, queued;
  std::string file = dir.path() + "/held";
  pool->Call({"py", "hold " + file, "h1"}, held.Done());
  pool->Call({"py", "echo after", "q1"}, queued.Done());
  ASSERT_TRUE(WaitFor([&] { return fs::exists(file); }));
  EXPECT_FALSE(pool->WaitIdle(absl::Milliseconds(50)));
  pool->Cancel("h1");
  EXPECT_TRUE(pool->WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(queued.ends(), 1);
  EXPECT_EQ(*queued.Get(), "after");
}

TEST(HandlerPoolTest, RecyclesAChildAfterMaxCalls) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}}, 1, /*max_calls=*/3);
  std::vector<int64_t> pids;
  for (int i = 0; i < 7; ++i) pids.push_back(WhoAmI(pool.get()).first);
  EXPECT_EQ(pids[0], pids[2]);
  EXPECT_NE(pids[2], pids[3]);
  EXPECT_EQ(pids[3], pids[5]);
  EXPECT_NE(pids[5], pids[6]);
  EXPECT_TRUE(WaitDead(pids[0]));
}

TEST(HandlerPoolTest, BadFrameIsInternalAndTheChildIsReplaced) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}});
  int64_t before = WhoAmI(pool.get()).first;
  EXPECT_THAT(CallAndWait(pool.get(), "py", "garbage"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("frame")));
  EXPECT_NE(WhoAmI(pool.get()).first, before);
}

TEST(HandlerPoolTest, HandlerThatCannotStartFailsCallsInsteadOfHanging) {
  auto pool = StartPool({{"broken", "exit 3"}});
  EXPECT_THAT(CallAndWait(pool.get(), "broken", "x", absl::Seconds(20)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("exited with status 3")));
}

TEST(HandlerPoolTest, ConcurrentCallersEachGetTheirOwnAnswer) {
  TempDir dir;
  auto pool = StartPool({{"py", PythonHandler(dir)}}, /*slots=*/4);
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::string> wrong;
  std::set<int64_t> pids;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string want = absl::StrCat("t", t, "-", i);
        absl::StatusOr<std::string> got = CallAndWait(pool.get(), "py", "echo " + want);
        std::lock_guard<std::mutex> lock(mu);
        if (!got.ok() || *got != want) wrong.push_back(want);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(wrong, ::testing::IsEmpty());
}

TEST(HandlerPoolTest, StopKillsTheChildrensProcessGroupsAndFailsWhatRuns) {
  TempDir dir;
  std::string bg = dir.path() + "/bg.pid";
  // The handler leaves a background process in its group.
  auto pool = StartPool({{"py", PythonHandler(dir, "sleep 600 & echo $! > " + bg + "; ")}});
  int64_t pid = WhoAmI(pool.get()).first;
  std::string bg_text;
  std::getline(std::ifstream(bg), bg_text);
  int64_t bg_pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(bg_text, &bg_pid)) << bg_text;
  ASSERT_TRUE(Alive(bg_pid));
  Result running;
  std::string held = dir.path() + "/held";
  pool->Call({"py", "hold " + held, "long"}, running.Done());
  ASSERT_TRUE(WaitFor([&] { return fs::exists(held); }));
  pool->Stop();
  EXPECT_THAT(running.Get(absl::Seconds(1)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(running.ends(), 1);
  EXPECT_TRUE(WaitDead(pid));
  EXPECT_TRUE(WaitDead(bg_pid));
  EXPECT_THAT(CallAndWait(pool.get(), "py", "echo x"), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace ampmr::worker
