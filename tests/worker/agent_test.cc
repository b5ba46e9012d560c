// The worker's Agent on a FakeLoop, with a FakeTransport under its session (the
// test plays the master), a FakeTaskRunner and FakeCallHandlers that hold each
// attempt's and call's `done`, so every test decides when they finish.
#include "worker/agent.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/fake_task_runner.h"
#include "tests/worker/test_util.h"

namespace ampmr::worker {
namespace {

namespace fs = std::filesystem;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Records what the session sends, so the test can play the master.
class FakeTransport : public amp::Transport {
 public:
  void Send(v1::Box box) override { sent.push_back(std::move(box)); }
  void Close(const absl::Status& status) override { closes.push_back(status); }

  std::vector<v1::Box> sent;
  std::vector<absl::Status> closes;
};

v1::Box CommandBox(uint64_t ask, v1::Command command) {
  v1::Box box;
  box.set_ask(ask);
  *box.mutable_command() = std::move(command);
  return box;
}

// A map attempt of job j1 whose context is all there (the long form).
v1::Command RunMap(const std::string& attempt_id) {
  v1::Command c;
  c.mutable_run_map()->mutable_task()->set_attempt_id(attempt_id);
  c.mutable_run_map()->mutable_task()->set_job_id("j1");
  c.mutable_run_map()->mutable_task()->set_mapper("builtin:wordcount");
  c.mutable_run_map()->mutable_split()->set_path("/in/f0");
  return c;
}

v1::Command RunReduce(const std::string& attempt_id) {
  v1::Command c;
  c.mutable_run_reduce()->mutable_task()->set_attempt_id(attempt_id);
  c.mutable_run_reduce()->mutable_task()->set_job_id("j1");
  c.mutable_run_reduce()->mutable_task()->set_mapper("builtin:wordcount");
  c.mutable_run_reduce()->set_temp_path("/out/_temporary/part-00000");
  return c;
}

// The context of job `job_id`, as the master sends it once per session.
v1::Command JobContext(const std::string& job_id) {
  v1::Command c;
  c.mutable_job_context()->set_job_id(job_id);
  v1::TaskContext* ctx = c.mutable_job_context()->mutable_context();
  ctx->set_job_id(job_id);
  ctx->set_mapper("exec:./m.sh");
  ctx->set_reducer("builtin:sum");
  ctx->set_combiner("builtin:sum");
  ctx->set_reduces(3);
  (*ctx->mutable_env())["LANG"] = "C";
  ctx->set_timeout_seconds(30);
  ctx->set_key_fields(2);
  ctx->set_field_separator(",");
  ctx->set_partition_fields(1);
  ctx->set_sort_key("-k1,1 -k2,2nr");
  ctx->add_cut_points("g");
  ctx->add_cut_points("p");
  ctx->set_compress_output("gzip");
  return c;
}

// A task command that leaves its job's context out (the short form).
v1::Command ShortRunMap(const std::string& job_id, const std::string& task_id, int partition) {
  v1::Command c;
  v1::TaskContext* ctx = c.mutable_run_map()->mutable_task();
  ctx->set_job_id(job_id);
  ctx->set_task_id(task_id);
  ctx->set_attempt_id(job_id + "-" + task_id + "-a1");
  ctx->set_partition(partition);
  c.mutable_run_map()->mutable_split()->set_path("/in/f0");
  return c;
}

v1::Command Call(const std::string& call_id, const std::string& payload) {
  v1::Command c;
  c.mutable_call()->set_handler("echo");
  c.mutable_call()->set_call_id(call_id);
  c.mutable_call()->set_payload(payload);
  c.mutable_call()->set_timeout_seconds(3);
  return c;
}

// A worker with 3 slots and two handlers, whose session the test holds.
struct AgentHarness {
  AgentHarness() : files(work.path()), agent(&loop, &runner, &calls, &store, &files, Options()) {
    calls.handler_names = {"echo", "graph"};
  }
  static AgentOptions Options() {
    AgentOptions o;
    o.host = "node7";
    o.shuffle_address = "10.0.0.7:9001";
    o.slots = 3;
    o.pid = 4242;
    return o;
  }

  // A new session with the agent attached; what it says is in `transport`.
  void Connect() {
    transport = std::make_shared<FakeTransport>();
    session = std::make_unique<amp::Session>(transport, "master@test");
    welcome.reset();
    agent.Attach(session.get()).AddBoth([this](const absl::StatusOr<std::string>& id) {
      welcome = id;
    });
  }
  // Answers the Hello with a Welcome (from a master that reads framework
  // counters as numbers, unless `framework_counters` is false).
  void Welcome(double heartbeat_seconds = 1, bool framework_counters = true) {
    v1::Box answer;
    answer.set_ask(Sent(v1::Command::kHello).at(0).ask());
    answer.mutable_answer()->mutable_welcome()->set_worker_id("w3");
    answer.mutable_answer()->mutable_welcome()->set_heartbeat_interval_seconds(heartbeat_seconds);
    answer.mutable_answer()->mutable_welcome()->set_framework_counters(framework_counters);
    session->HandleBox(std::move(answer));
  }
  void FromMaster(uint64_t ask, v1::Command command) {
    session->HandleBox(CommandBox(ask, std::move(command)));
  }
  // The session broke: what MasterLink does when the stream ends.
  void Break() {
    absl::Status why = absl::UnavailableError("stream broke");
    session->HandleClosed(why);
    agent.Detach(why);
  }

  // Answers the master's end of the ask `ask` the agent sent.
  void AnswerAsk(uint64_t ask, absl::StatusOr<v1::Answer> answer) {
    v1::Box box;
    box.set_ask(ask);
    if (answer.ok()) {
      *box.mutable_answer() = std::move(*answer);
    } else {
      *box.mutable_error() = amp::ToErrorProto(answer.status());
    }
    session->HandleBox(std::move(box));
  }

  // The boxes sent carrying a command of `kind`.
  std::vector<v1::Box> Sent(v1::Command::KindCase kind) const {
    std::vector<v1::Box> out;
    for (const v1::Box& b : transport->sent) {
      if (b.has_command() && b.command().kind_case() == kind) out.push_back(b);
    }
    return out;
  }
  // The answer or error sent for the master's ask `ask`, if any.
  std::optional<absl::StatusOr<v1::Answer>> ReplyTo(uint64_t ask) const {
    for (const v1::Box& b : transport->sent) {
      if (b.ask() != ask || b.has_command()) continue;
      if (b.has_error()) return absl::StatusOr<v1::Answer>(amp::FromErrorProto(b.error()));
      return absl::StatusOr<v1::Answer>(b.answer());
    }
    return std::nullopt;
  }

  FakeLoop loop;
  FakeTaskRunner runner;
  FakeCallHandlers calls;
  MapOutputStore store;
  ScratchDir work;
  JobFileStore files;
  Agent agent;
  std::shared_ptr<FakeTransport> transport;
  std::unique_ptr<amp::Session> session;  // after `agent`: destroyed first
  std::optional<absl::StatusOr<std::string>> welcome;
};

TEST(AgentTest, HelloCarriesSlotsHandlersAndTheMapOutputsStillOnDisk) {
  AgentHarness h;
  std::string kept =
      (fs::temp_directory_path() / ("agent_test_" + std::to_string(getpid()))).string();
  std::ofstream(kept) << "x";
  h.store.Add("j1-m0-a1", "j1", kept);
  h.store.Add("j1-m1-a1", "j1", kept + ".gone");
  h.Connect();

  std::vector<v1::Box> hellos = h.Sent(v1::Command::kHello);
  ASSERT_THAT(hellos, SizeIs(1));
  EXPECT_NE(hellos[0].ask(), 0u);
  const v1::Hello& hello = hellos[0].command().hello();
  EXPECT_EQ(hello.slots(), 3);
  EXPECT_THAT(hello.handlers(), ElementsAre("echo", "graph"));
  EXPECT_EQ(hello.host(), "node7");
  EXPECT_EQ(hello.shuffle_address(), "10.0.0.7:9001");
  EXPECT_EQ(hello.pid(), 4242);
  EXPECT_TRUE(hello.job_contexts());  // the master may send task commands short
  ASSERT_THAT(hello.map_outputs(), SizeIs(1));
  EXPECT_EQ(hello.map_outputs(0).attempt_id(), "j1-m0-a1");
  EXPECT_EQ(hello.map_outputs(0).output_path(), kept);
  fs::remove(kept);

  EXPECT_FALSE(h.welcome.has_value());
  h.Welcome();
  ASSERT_TRUE(h.welcome.has_value());
  EXPECT_EQ(**h.welcome, "w3");
}

TEST(AgentTest, HelloAnsweredWithoutAWelcomeClosesTheSession) {
  AgentHarness h;
  h.Connect();
  v1::Box answer;
  answer.set_ask(h.Sent(v1::Command::kHello).at(0).ask());
  answer.mutable_answer()->mutable_empty();
  h.session->HandleBox(std::move(answer));

  ASSERT_TRUE(h.welcome.has_value());
  EXPECT_THAT(*h.welcome, StatusIs(absl::StatusCode::kInternal, HasSubstr("without a Welcome")));
  EXPECT_THAT(h.transport->closes, SizeIs(1));
  EXPECT_THAT(h.Sent(v1::Command::kHeartbeat), IsEmpty());
}

TEST(AgentTest, RunMapReachesTheRunnerAndItsResultTheMaster) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(7, RunMap("j1-m0-a1"));

  ASSERT_THAT(h.runner.attempts, SizeIs(1));
  FakeTaskRunner::Attempt& a = h.runner.attempts[0];
  EXPECT_TRUE(a.is_map());
  EXPECT_EQ(a.map.split().path(), "/in/f0");
  EXPECT_FALSE(h.ReplyTo(7).has_value());  // nothing until the attempt ends

  v1::MapDone done;
  done.set_attempt_id("j1-m0-a1");
  done.set_output_path("/work/j1-m0-a1.out");
  done.add_partitions()->set_length(10);
  a.map_done(done);

  std::optional<absl::StatusOr<v1::Answer>> reply = h.ReplyTo(7);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->ok());
  EXPECT_EQ((*reply)->map_done().output_path(), "/work/j1-m0-a1.out");
  EXPECT_THAT((*reply)->map_done().partitions(), SizeIs(1));
}

// Each field of the job's context reaches the runner with the task's own.
TEST(AgentTest, ShortFormTasksRunWithTheirJobsContext) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(0, JobContext("j4"));
  h.FromMaster(7, ShortRunMap("j4", "m5", 5));
  v1::Command reduce;
  v1::TaskContext* own = reduce.mutable_run_reduce()->mutable_task();
  own->set_job_id("j4");
  own->set_task_id("r2");
  own->set_attempt_id("j4-r2-a3");
  own->set_partition(2);
  reduce.mutable_run_reduce()->set_temp_path("/out/_temporary/part-00002");
  h.FromMaster(8, reduce);

  ASSERT_THAT(h.runner.attempts, SizeIs(2));
  v1::TaskContext want = JobContext("j4").job_context().context();
  want.set_task_id("m5");
  want.set_attempt_id("j4-m5-a1");
  want.set_partition(5);
  const v1::RunMap& map = h.runner.attempts[0].map;
  EXPECT_EQ(map.task().SerializeAsString(), want.SerializeAsString()) << map.task().DebugString();
  EXPECT_EQ(map.split().path(), "/in/f0");
  want.set_task_id("r2");
  want.set_attempt_id("j4-r2-a3");
  want.set_partition(2);
  const v1::RunReduce& r = h.runner.attempts[1].reduce;
  EXPECT_EQ(r.task().SerializeAsString(), want.SerializeAsString()) << r.task().DebugString();
  EXPECT_EQ(r.temp_path(), "/out/_temporary/part-00002");
  EXPECT_FALSE(h.ReplyTo(7).has_value());  // running
}

// Never a task with no mapper: one whose job's context never came fails at
// once, and is not retried (FAILED_PRECONDITION).
TEST(AgentTest, AShortFormTaskWithoutItsJobsContextFailsNamingTheJob) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(0, JobContext("j4"));
  h.FromMaster(7, ShortRunMap("j5", "m0", 0));

  EXPECT_THAT(h.runner.attempts, IsEmpty());
  ASSERT_TRUE(h.ReplyTo(7).has_value());
  EXPECT_THAT(*h.ReplyTo(7), StatusIs(absl::StatusCode::kFailedPrecondition,
                                      "attempt=j5-m0-a1: no context for job=j5 on this session: "
                                      "the master sent the task without its job's context"));
}

TEST(AgentTest, ForgetJobAndTheSessionsEndDropTheJobsContext) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(0, JobContext("j4"));
  h.FromMaster(0, JobContext("j6"));
  v1::Command forget;
  forget.mutable_forget_job()->set_job_id("j4");
  h.FromMaster(0, forget);
  h.FromMaster(7, ShortRunMap("j4", "m0", 0));
  h.FromMaster(8, ShortRunMap("j6", "m0", 0));
  ASSERT_TRUE(h.ReplyTo(7).has_value());
  EXPECT_THAT(*h.ReplyTo(7),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no context for job=j4")));
  ASSERT_THAT(h.runner.attempts, SizeIs(1));  // j6's is still here
  EXPECT_EQ(h.runner.attempts[0].map.task().mapper(), "exec:./m.sh");

  h.Break();
  h.Connect();
  h.Welcome();
  h.FromMaster(9, ShortRunMap("j6", "m1", 1));
  ASSERT_TRUE(h.ReplyTo(9).has_value());
  EXPECT_THAT(*h.ReplyTo(9),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no context for job=j6")));
  EXPECT_THAT(h.runner.attempts, SizeIs(1));
}

// An attempt's framework counters go as numbers to a master that reads
// them so, and by name to one that predates them (its Welcome does not say).
TEST(AgentTest, FrameworkCountersGoByNameToAMasterThatDoesNotReadThemAsNumbers) {
  for (bool numbers : {true, false}) {
    AgentHarness h;
    h.Connect();
    h.Welcome(1, numbers);
    h.FromMaster(7, RunMap("j1-m0-a1"));
    h.FromMaster(8, RunReduce("j1-r0-a1"));
    ASSERT_THAT(h.runner.attempts, SizeIs(2));
    v1::MapDone map;
    map.mutable_framework_counters()->set_map_input_records(3);
    (*map.mutable_counters())["app.lines"] = 3;
    h.runner.attempts[0].map_done(map);
    v1::ReduceDone reduce;
    reduce.mutable_framework_counters()->set_shuffled_bytes(0);
    h.runner.attempts[1].reduce_done(reduce);

    std::optional<absl::StatusOr<v1::Answer>> map_reply = h.ReplyTo(7);
    std::optional<absl::StatusOr<v1::Answer>> reduce_reply = h.ReplyTo(8);
    ASSERT_TRUE(map_reply.has_value() && map_reply->ok());
    ASSERT_TRUE(reduce_reply.has_value() && reduce_reply->ok());
    const v1::MapDone& m = (*map_reply)->map_done();
    const v1::ReduceDone& r = (*reduce_reply)->reduce_done();
    if (numbers) {
      EXPECT_EQ(m.framework_counters().map_input_records(), 3);
      EXPECT_THAT(m.counters(), SizeIs(1));
      EXPECT_TRUE(r.framework_counters().has_shuffled_bytes());
      EXPECT_THAT(r.counters(), IsEmpty());
    } else {
      EXPECT_FALSE(m.has_framework_counters());
      EXPECT_EQ(m.counters().at("ampmr.map_input_records"), 3);
      EXPECT_EQ(m.counters().at("app.lines"), 3);
      EXPECT_FALSE(r.has_framework_counters());
      EXPECT_EQ(r.counters().at("ampmr.shuffled_bytes"), 0);
    }
  }
}

TEST(AgentTest, AFailedReduceReachesTheMasterAsItsError) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(9, RunReduce("j1-r0-a2"));
  ASSERT_THAT(h.runner.attempts, SizeIs(1));
  EXPECT_FALSE(h.runner.attempts[0].is_map());
  EXPECT_EQ(h.runner.attempts[0].reduce.temp_path(), "/out/_temporary/part-00000");

  h.runner.attempts[0].Fail(absl::AbortedError("attempt=j1-r0-a2: cannot fetch m3"));
  std::optional<absl::StatusOr<v1::Answer>> reply = h.ReplyTo(9);
  ASSERT_TRUE(reply.has_value());
  EXPECT_THAT(*reply, StatusIs(absl::StatusCode::kAborted, "attempt=j1-r0-a2: cannot fetch m3"));
}

TEST(AgentTest, CancelReachesTheRunnerOrTheCallHandlers) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(3, RunMap("j1-m0-a1"));
  v1::Command cancel;
  cancel.mutable_cancel()->set_attempt_id("j1-m0-a1");
  h.FromMaster(4, cancel);
  v1::Command cancel_call;
  cancel_call.mutable_cancel()->set_call_id("c17");
  h.FromMaster(0, cancel_call);

  EXPECT_THAT(h.runner.cancelled, ElementsAre("j1-m0-a1"));
  EXPECT_THAT(h.calls.cancelled, ElementsAre("c17"));
  ASSERT_TRUE(h.ReplyTo(4).has_value());
  EXPECT_TRUE(h.ReplyTo(4)->ok());
}

TEST(AgentTest, CallsAreTakenOnTheReadThreadAndAnsweredFromTheHandler) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  v1::Box batch;
  *batch.add_batch() = CommandBox(5, Call("c1", "ping"));
  *batch.add_batch() = CommandBox(6, RunMap("j1-m0-a1"));
  EXPECT_TRUE(h.session->HandleOnReadThread(&batch));

  ASSERT_THAT(h.calls.calls, SizeIs(1));  // without the loop
  EXPECT_EQ(h.calls.calls[0].call.payload, "ping");
  EXPECT_EQ(h.calls.calls[0].call.call_id, "c1");
  EXPECT_EQ(h.calls.calls[0].call.timeout, absl::Seconds(3));
  EXPECT_THAT(h.runner.attempts, IsEmpty());  // left for the loop
  ASSERT_THAT(batch.batch(), SizeIs(1));
  h.session->HandleBox(std::move(batch));
  EXPECT_THAT(h.runner.attempts, SizeIs(1));

  h.calls.calls[0].done(std::string("pong"));
  ASSERT_TRUE(h.ReplyTo(5).has_value());
  EXPECT_EQ((*h.ReplyTo(5))->call_done().payload(), "pong");
}

TEST(AgentTest, ForgetJobDeletesTheJobsMapOutputs) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.store.Add("j1-m0-a1", "j1", "/nonexistent/a");
  h.store.Add("j2-m0-a1", "j2", "/nonexistent/b");
  v1::Command forget;
  forget.mutable_forget_job()->set_job_id("j1");
  h.FromMaster(0, forget);
  EXPECT_FALSE(h.store.Find("j1-m0-a1").has_value());
  EXPECT_TRUE(h.store.Find("j2-m0-a1").has_value());
  EXPECT_THAT(h.runner.forgotten_jobs, ElementsAre("j1"));  // its open input files
  // The job just ended: its attempts' stderr stays for `ampmr logs`...
  EXPECT_THAT(h.runner.forgotten_logs, IsEmpty());
  // ...until the master forgets the job too.
  forget.mutable_forget_job()->set_logs(true);
  h.FromMaster(0, forget);
  EXPECT_THAT(h.runner.forgotten_logs, ElementsAre("j1"));
}

TEST(AgentTest, GetTaskLogIsAnsweredWithTheAttemptsKeptStderr) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.runner.logs["j1/j1-m0-a1"] = "marker 42\n";
  v1::Command get;
  get.mutable_get_task_log()->set_job_id("j1");
  get.mutable_get_task_log()->set_attempt_id("j1-m0-a1");
  h.FromMaster(9, get);
  std::optional<absl::StatusOr<v1::Answer>> reply = h.ReplyTo(9);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->ok()) << reply->status();
  EXPECT_EQ((*reply)->task_log().text(), "marker 42\n");

  get.mutable_get_task_log()->set_attempt_id("j1-m1-a1");
  h.FromMaster(10, get);
  reply = h.ReplyTo(10);
  ASSERT_TRUE(reply.has_value());
  EXPECT_THAT(*reply, StatusIs(absl::StatusCode::kNotFound, HasSubstr("j1-m1-a1")));
}

TEST(AgentTest, HeartbeatsCarryTheProcessTreesUsage) {
  AgentOptions options = AgentHarness::Options();
  int samples = 0;
  options.usage = [&samples] {
    ++samples;
    UsageSample usage;
    usage.cpu_percent = 37.5;
    usage.rss_bytes = 123456789;
    return usage;
  };
  FakeLoop loop;
  FakeTaskRunner runner;
  FakeCallHandlers calls;
  MapOutputStore store;
  ScratchDir work;
  JobFileStore files(work.path());
  Agent agent(&loop, &runner, &calls, &store, &files, options);
  auto transport = std::make_shared<FakeTransport>();
  amp::Session session(transport, "master@test");
  agent.Attach(&session);
  ASSERT_THAT(transport->sent, SizeIs(1));  // the Hello
  v1::Box welcome;
  welcome.set_ask(transport->sent[0].ask());
  welcome.mutable_answer()->mutable_welcome()->set_worker_id("w1");
  session.HandleBox(std::move(welcome));

  ASSERT_THAT(transport->sent, SizeIs(2));
  const v1::Heartbeat& beat = transport->sent[1].command().heartbeat();
  EXPECT_EQ(beat.cpu_percent(), 37.5);
  EXPECT_EQ(beat.rss_bytes(), 123456789);
  EXPECT_EQ(samples, 1);
  agent.Detach(absl::CancelledError("test over"));
}

TEST(AgentTest, HeartbeatsCarryRunningAttemptsStatusesAtTheWelcomesInterval) {
  AgentHarness h;
  h.Connect();
  EXPECT_THAT(h.Sent(v1::Command::kHeartbeat), IsEmpty());  // not before the Welcome
  h.runner.statuses = {{"j1-m0-a1", "read 40%"}, {"j1-m1-a1", "sorting"}};
  h.Welcome(/*heartbeat_seconds=*/2);

  std::vector<v1::Box> beats = h.Sent(v1::Command::kHeartbeat);
  ASSERT_THAT(beats, SizeIs(1));
  EXPECT_EQ(beats[0].ask(), 0u);
  const v1::Heartbeat& beat = beats[0].command().heartbeat();
  ASSERT_THAT(beat.statuses(), SizeIs(2));
  EXPECT_EQ(beat.statuses(0).attempt_id(), "j1-m0-a1");
  EXPECT_EQ(beat.statuses(0).status(), "read 40%");
  EXPECT_EQ(beat.statuses(1).status(), "sorting");

  h.runner.statuses = {{"j1-m1-a1", "merging"}};
  h.loop.AdvanceTime(absl::Milliseconds(1999));
  EXPECT_THAT(h.Sent(v1::Command::kHeartbeat), SizeIs(1));
  h.loop.AdvanceTime(absl::Milliseconds(1));
  beats = h.Sent(v1::Command::kHeartbeat);
  ASSERT_THAT(beats, SizeIs(2));
  ASSERT_THAT(beats[1].command().heartbeat().statuses(), SizeIs(1));
  EXPECT_EQ(beats[1].command().heartbeat().statuses(0).status(), "merging");
  EXPECT_EQ(h.runner.statuses_calls, 2);  // once per heartbeat: stalls are checked with it
}

// Failed fetches of reduces waiting for map outputs go with the next
// heartbeat, each once.
TEST(AgentTest, HeartbeatsCarryFetchFailuresOfWaitingReducesOnce) {
  AgentHarness h;
  h.Connect();
  v1::FetchFailure failure;
  failure.set_attempt_id("j1-r0-a1");
  failure.set_lost_attempt_id("j1-m3-a1");
  failure.set_error("fetch map output of task m3 from worker=w2 at 10.0.0.2:7071: refused");
  h.runner.fetch_failures = {failure};
  h.Welcome(/*heartbeat_seconds=*/1);
  std::vector<v1::Box> beats = h.Sent(v1::Command::kHeartbeat);
  ASSERT_THAT(beats, SizeIs(1));
  const v1::Heartbeat& beat = beats[0].command().heartbeat();
  ASSERT_THAT(beat.fetch_failures(), SizeIs(1));
  EXPECT_EQ(beat.fetch_failures(0).attempt_id(), "j1-r0-a1");
  EXPECT_EQ(beat.fetch_failures(0).lost_attempt_id(), "j1-m3-a1");
  EXPECT_EQ(beat.fetch_failures(0).error(), failure.error());
  h.loop.AdvanceTime(absl::Seconds(1));
  beats = h.Sent(v1::Command::kHeartbeat);
  ASSERT_THAT(beats, SizeIs(2));
  EXPECT_THAT(beats[1].command().heartbeat().fetch_failures(), IsEmpty());
}

TEST(AgentTest, DrainTellsTheMasterRefusesNewAttemptsAndGivesQueuedOnesBack) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(10, RunMap("j1-m0-a1"));
  h.FromMaster(11, RunMap("j1-m1-a1"));
  h.runner.Find("j1-m0-a1")->started = true;
  bool given_back = false;
  h.agent.Drain([&given_back] { given_back = true; });

  std::vector<v1::Box> drains = h.Sent(v1::Command::kDrain);
  ASSERT_THAT(drains, SizeIs(1));
  // Nothing goes back before the master heard, or it would count against the tasks.
  EXPECT_FALSE(given_back);
  EXPECT_THAT(h.runner.given_back, IsEmpty());
  h.FromMaster(12, RunMap("j1-m2-a1"));
  EXPECT_THAT(*h.ReplyTo(12),
              StatusIs(absl::StatusCode::kUnavailable, "attempt=j1-m2-a1: worker draining"));
  EXPECT_EQ(h.runner.Find("j1-m2-a1"), nullptr);

  v1::Box ack;
  ack.set_ask(drains[0].ask());
  ack.mutable_answer()->mutable_empty();
  h.session->HandleBox(std::move(ack));
  EXPECT_TRUE(given_back);
  ASSERT_THAT(h.runner.given_back, SizeIs(1));
  EXPECT_THAT(h.runner.given_back[0], StatusIs(absl::StatusCode::kUnavailable, "worker draining"));
  EXPECT_THAT(*h.ReplyTo(11), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("draining")));
  EXPECT_FALSE(h.ReplyTo(10).has_value());  // the running one goes on
  h.FromMaster(13, RunReduce("j1-r0-a1"));
  EXPECT_THAT(*h.ReplyTo(13), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("draining")));
}

TEST(AgentTest, DrainGivesQueuedAttemptsBackWhenTheMasterDoesNotAnswer) {
  AgentHarness h;
  h.Connect();
  h.Welcome(/*heartbeat_seconds=*/60);
  h.FromMaster(10, RunMap("j1-m0-a1"));
  bool given_back = false;
  h.agent.Drain([&given_back] { given_back = true; });
  h.loop.AdvanceTime(AgentHarness::Options().drain_ack_timeout - absl::Milliseconds(1));
  EXPECT_FALSE(given_back);
  h.loop.AdvanceTime(absl::Milliseconds(1));
  EXPECT_TRUE(given_back);
  EXPECT_THAT(h.runner.given_back, SizeIs(1));
  EXPECT_THAT(*h.ReplyTo(10), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(AgentTest, DrainWithoutASessionGivesBackAtOnce) {
  AgentHarness h;
  bool given_back = false;
  h.agent.Drain([&given_back] { given_back = true; });
  EXPECT_TRUE(given_back);
  EXPECT_THAT(h.runner.given_back, SizeIs(1));
}

TEST(AgentTest, ABrokenSessionCancelsItsAttemptsAndQueuedCallsAndStopsHeartbeats) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(10, RunMap("j1-m0-a1"));
  v1::Box call = CommandBox(11, Call("c1", "x"));
  h.session->HandleOnReadThread(&call);
  size_t beats = h.Sent(v1::Command::kHeartbeat).size();

  h.Break();
  EXPECT_EQ(h.runner.cancel_alls, 1);
  EXPECT_EQ(h.runner.forget_alls, 1);  // a new master may reuse the job ids
  ASSERT_THAT(h.calls.dropped, SizeIs(1));
  EXPECT_THAT(h.calls.dropped[0], StatusIs(absl::StatusCode::kUnavailable));
  h.loop.AdvanceTime(absl::Seconds(10));
  EXPECT_THAT(h.Sent(v1::Command::kHeartbeat), SizeIs(beats));
  // A late result of the old session's attempt goes nowhere.
  h.runner.attempts[0].map_done(v1::MapDone());
  EXPECT_FALSE(h.ReplyTo(10).has_value());
}

TEST(AgentTest, ASessionBrokenBeforeTheWelcomeFailsTheHelloAndTheNextOneSaysHelloAgain) {
  AgentHarness h;
  h.Connect();
  h.Break();
  ASSERT_TRUE(h.welcome.has_value());
  EXPECT_THAT(*h.welcome, StatusIs(absl::StatusCode::kUnavailable));

  h.Connect();  // a new session, as MasterLink makes per connection
  EXPECT_THAT(h.Sent(v1::Command::kHello), SizeIs(1));
  h.Welcome();
  ASSERT_TRUE(h.welcome.has_value());
  EXPECT_EQ(**h.welcome, "w3");
  EXPECT_THAT(h.Sent(v1::Command::kHeartbeat), SizeIs(1));
}

v1::Command RunMapWithFiles(const std::string& attempt_id, const std::string& job_id) {
  v1::Command c = RunMap(attempt_id);
  c.mutable_run_map()->mutable_task()->set_job_id(job_id);
  c.mutable_run_map()->mutable_task()->add_files("m.py");
  return c;
}

v1::Answer JobFilesAnswer() {
  v1::Answer answer;
  v1::ShippedFile* f = answer.mutable_job_files()->add_files();
  f->set_name("m.py");
  f->set_mode(0750);
  f->set_content("print('hi')\n");
  return answer;
}

TEST(AgentTest, AttemptsNamingFilesWaitForOneGetJobFilesPerJob) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(20, RunMapWithFiles("j1-m0-a1", "j1"));
  h.FromMaster(21, RunMapWithFiles("j1-m1-a1", "j1"));
  h.FromMaster(22, RunMap("j1-m2-a1"));  // names no files: runs at once

  std::vector<v1::Box> asks = h.Sent(v1::Command::kGetJobFiles);
  ASSERT_THAT(asks, SizeIs(1));
  EXPECT_EQ(asks[0].command().get_job_files().job_id(), "j1");
  ASSERT_THAT(h.runner.attempts, SizeIs(1));
  EXPECT_EQ(h.runner.attempts[0].attempt_id, "j1-m2-a1");

  h.AnswerAsk(asks[0].ask(), JobFilesAnswer());
  ASSERT_THAT(h.runner.attempts, SizeIs(3));
  EXPECT_EQ(h.runner.attempts[1].attempt_id, "j1-m0-a1");
  EXPECT_EQ(h.runner.attempts[2].attempt_id, "j1-m1-a1");
  EXPECT_TRUE(h.files.Has("j1"));
  const std::string kept = h.work.Join("files/j1/m.py");
  EXPECT_EQ(ReadFile(kept), "print('hi')\n");
  EXPECT_EQ(fs::status(kept).permissions(), static_cast<fs::perms>(0750));

  // Later attempts of the job find the files here.
  h.FromMaster(23, RunMapWithFiles("j1-m3-a1", "j1"));
  EXPECT_THAT(h.Sent(v1::Command::kGetJobFiles), SizeIs(1));
  EXPECT_THAT(h.runner.attempts, SizeIs(4));

  v1::Command forget;
  forget.mutable_forget_job()->set_job_id("j1");
  h.FromMaster(0, forget);
  EXPECT_FALSE(h.files.Has("j1"));
  EXPECT_FALSE(fs::exists(h.work.Join("files/j1")));
}

TEST(AgentTest, AttemptsFailNamingTheJobWhenItsFilesCannotBeHad) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(30, RunMapWithFiles("j4-m0-a1", "j4"));
  std::vector<v1::Box> asks = h.Sent(v1::Command::kGetJobFiles);
  ASSERT_THAT(asks, SizeIs(1));
  h.AnswerAsk(asks[0].ask(), absl::NotFoundError("no running job j4"));
  EXPECT_THAT(h.runner.attempts, IsEmpty());
  EXPECT_THAT(*h.ReplyTo(30),
              StatusIs(absl::StatusCode::kAborted,
                       "attempt=j4-m0-a1: shipped files of job=j4: no running job j4"));
  // The next attempt asks again.
  h.FromMaster(31, RunMapWithFiles("j4-m0-a2", "j4"));
  EXPECT_THAT(h.Sent(v1::Command::kGetJobFiles), SizeIs(2));
}

TEST(AgentTest, FilesOfAJobForgottenWhileAskedForAreNotKept) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(40, RunMapWithFiles("j5-m0-a1", "j5"));
  std::vector<v1::Box> asks = h.Sent(v1::Command::kGetJobFiles);
  ASSERT_THAT(asks, SizeIs(1));
  v1::Command forget;
  forget.mutable_forget_job()->set_job_id("j5");
  h.FromMaster(0, forget);
  h.AnswerAsk(asks[0].ask(), JobFilesAnswer());
  EXPECT_FALSE(h.files.Has("j5"));
  EXPECT_FALSE(fs::exists(h.work.Join("files/j5")));
  EXPECT_THAT(h.runner.attempts, IsEmpty());
  EXPECT_THAT(*h.ReplyTo(40), StatusIs(absl::StatusCode::kAborted, HasSubstr("forgotten")));
}

TEST(AgentTest, AnAttemptCancelledWhileWaitingForItsFilesNeverRuns) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(50, RunMapWithFiles("j6-m0-a1", "j6"));
  h.FromMaster(51, RunMapWithFiles("j6-m1-a1", "j6"));
  std::vector<v1::Box> asks = h.Sent(v1::Command::kGetJobFiles);
  ASSERT_THAT(asks, SizeIs(1));
  v1::Command cancel;
  cancel.mutable_cancel()->set_attempt_id("j6-m0-a1");
  h.FromMaster(0, cancel);
  h.AnswerAsk(asks[0].ask(), JobFilesAnswer());
  // Only the attempt still wanted starts; the other is answered as cancelled.
  ASSERT_THAT(h.runner.attempts, SizeIs(1));
  EXPECT_EQ(h.runner.attempts[0].attempt_id, "j6-m1-a1");
  EXPECT_THAT(*h.ReplyTo(50),
              StatusIs(absl::StatusCode::kCancelled,
                       "attempt=j6-m0-a1: cancelled while waiting for its job's shipped files"));
}

TEST(AgentTest, ANewSessionFetchesFilesAgain) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(50, RunMapWithFiles("j1-m0-a1", "j1"));
  h.AnswerAsk(h.Sent(v1::Command::kGetJobFiles).at(0).ask(), JobFilesAnswer());
  ASSERT_TRUE(h.files.Has("j1"));
  h.Break();
  // Another master may call another job "j1".
  EXPECT_FALSE(h.files.Has("j1"));
  h.Connect();
  h.Welcome();
  h.FromMaster(51, RunMapWithFiles("j1-m0-a1", "j1"));
  EXPECT_THAT(h.Sent(v1::Command::kGetJobFiles), SizeIs(1));  // on the new session
}

v1::Command AddMapOutputs(const std::string& attempt_id, const std::string& map_task, bool last) {
  v1::Command c;
  v1::AddMapOutputs* add = c.mutable_add_map_outputs();
  add->set_attempt_id(attempt_id);
  add->add_inputs()->set_map_task_id(map_task);
  add->set_last(last);
  return c;
}

TEST(AgentTest, MoreInputsOfAReduceReachTheRunner) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  v1::Command run = RunReduce("j1-r0-a1");
  run.mutable_run_reduce()->set_more_inputs(true);
  h.FromMaster(5, run);
  h.FromMaster(0, AddMapOutputs("j1-r0-a1", "m4", /*last=*/false));
  h.FromMaster(0, AddMapOutputs("j1-r0-a1", "m7", /*last=*/true));
  ASSERT_THAT(h.runner.attempts, SizeIs(1));
  ASSERT_THAT(h.runner.added, SizeIs(2));
  EXPECT_EQ(h.runner.added[0].inputs(0).map_task_id(), "m4");
  EXPECT_FALSE(h.runner.added[0].last());
  EXPECT_EQ(h.runner.added[1].inputs(0).map_task_id(), "m7");
  EXPECT_TRUE(h.runner.added[1].last());
  EXPECT_FALSE(h.ReplyTo(5).has_value());  // answered when the attempt ends
}

// A reduce of job j1 started early (more inputs to come) that names m.py.
v1::Command EarlyReduceWithFiles(const std::string& attempt_id) {
  v1::Command c = RunReduce(attempt_id);
  c.mutable_run_reduce()->mutable_task()->set_job_id("j1");
  c.mutable_run_reduce()->mutable_task()->add_files("m.py");
  c.mutable_run_reduce()->set_more_inputs(true);
  return c;
}

// Inputs that arrive while the reduce waits for its job's files are in what
// the runner gets once they are here.
TEST(AgentTest, MoreInputsOfAReduceWaitingForItsFilesAreKeptForIt) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  v1::Command run = EarlyReduceWithFiles("j1-r0-a1");
  run.mutable_run_reduce()->add_inputs()->set_map_task_id("m0");
  h.FromMaster(5, run);
  h.FromMaster(0, AddMapOutputs("j1-r0-a1", "m1", /*last=*/false));
  h.FromMaster(0, AddMapOutputs("j1-r0-a1", "m2", /*last=*/true));
  EXPECT_THAT(h.runner.attempts, IsEmpty());
  std::vector<v1::Box> asks = h.Sent(v1::Command::kGetJobFiles);
  ASSERT_THAT(asks, SizeIs(1));
  h.AnswerAsk(asks[0].ask(), JobFilesAnswer());
  ASSERT_THAT(h.runner.attempts, SizeIs(1));
  const v1::RunReduce& got = h.runner.attempts[0].reduce;
  ASSERT_EQ(got.inputs_size(), 3);
  EXPECT_EQ(got.inputs(1).map_task_id(), "m1");
  EXPECT_EQ(got.inputs(2).map_task_id(), "m2");
  EXPECT_FALSE(got.more_inputs());
  EXPECT_THAT(h.runner.added, IsEmpty());
}

// A reduce whose files cannot be had is answered and forgotten: later inputs
// named for it are not kept for a start that will never come.
TEST(AgentTest, AReduceThatCouldNotStartKeepsNoInputs) {
  AgentHarness h;
  h.Connect();
  h.Welcome();
  h.FromMaster(5, EarlyReduceWithFiles("j1-r0-a1"));
  std::vector<v1::Box> asks = h.Sent(v1::Command::kGetJobFiles);
  ASSERT_THAT(asks, SizeIs(1));
  h.AnswerAsk(asks[0].ask(), absl::NotFoundError("no running job j1"));
  EXPECT_THAT(*h.ReplyTo(5), StatusIs(absl::StatusCode::kAborted, HasSubstr("no running job")));
  h.FromMaster(0, AddMapOutputs("j1-r0-a1", "m1", /*last=*/true));
  // Passed on to the runner (which knows no such attempt), not held.
  EXPECT_THAT(h.runner.added, SizeIs(1));
  EXPECT_THAT(h.runner.attempts, IsEmpty());
}

}  // namespace
}  // namespace ampmr::worker
