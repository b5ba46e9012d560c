// CallRouter on a FakeLoop with fake workers that hold each call's Deferred,
// so every test decides when and how calls are answered.
#include "master/call_router.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/coordinator.h"
#include "tests/master/fake_worker.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Answers a call as a worker would: with the payload, reversed.
void AnswerReversed(FakeWorker::Pending* p) {
  std::string s = p->command.call().payload();
  v1::Answer answer;
  answer.mutable_call_done()->set_payload(std::string(s.rbegin(), s.rend()));
  p->answer.Callback(answer);
}

// Where a call's outcome lands; `ends` counts Done calls (must end at 1);
// `ended` what the router reported on the loop (must end with one code).
struct Outcome {
  std::optional<absl::StatusOr<std::string>> result;
  int ends = 0;
  std::vector<absl::StatusCode> ended;
  CallRouter::Done Done() {
    return [this](absl::StatusOr<std::string> r) {
      ++ends;
      result = std::move(r);
    };
  }
  CallRouter::Ended Ended() {
    return [this](absl::StatusCode code) { ended.push_back(code); };
  }
};

struct Router {
  explicit Router(CallRouterOptions options = {}) : router(&loop, &registry, options) {}

  FakeWorker* AddWorker(std::vector<std::string> handlers, int slots = 1) {
    workers.push_back(std::make_unique<FakeWorker>());
    v1::Hello hello;
    hello.set_slots(slots);
    for (const auto& h : handlers) hello.add_handlers(h);
    ids.push_back(registry.Add(hello, workers.back().get(), loop.Now())->id);
    router.AddWorker(ids.back());
    return workers.back().get();
  }
  // As the coordinator does: unregister first, then the link's calls fail.
  void LoseWorker(int index) {
    router.RemoveWorker(ids[index], absl::UnavailableError("no heartbeat"));
    registry.Remove(ids[index]);
    workers[index]->Close(absl::UnavailableError("connection lost"));
  }
  Outcome* Call(const std::string& handler, const std::string& payload, double timeout = 0,
                bool idempotent = false) {
    outcomes.push_back(std::make_unique<Outcome>());
    v1::CallRequest request;
    request.set_handler(handler);
    request.set_payload(payload);
    request.set_timeout_seconds(timeout);
    request.set_idempotent(idempotent);
    router.Call(request, outcomes.back()->Done(), outcomes.back()->Ended());
    return outcomes.back().get();
  }

  // Outcomes outlive the router, whose destructor may still end calls.
  std::vector<std::unique_ptr<Outcome>> outcomes;
  FakeLoop loop;
  std::vector<std::unique_ptr<FakeWorker>> workers;
  std::vector<std::string> ids;
  WorkerRegistry registry;
  CallRouter router;
};

TEST(CallRouterTest, UnknownHandlerIsNotFoundAtOnce) {
  Router r;
  FakeWorker* w = r.AddWorker({"echo"});
  Outcome* o = r.Call("nope", "x");
  ASSERT_EQ(o->ends, 1);
  EXPECT_THAT(*o->result, StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"nope\"")));
  EXPECT_THAT(w->calls, SizeIs(0));
}

TEST(CallRouterTest, NoWorkersAtAllIsNotFound) {
  Router r;
  Outcome* o = r.Call("echo", "x");
  EXPECT_THAT(*o->result, StatusIs(absl::StatusCode::kNotFound));
}

TEST(CallRouterTest, SendsTheCallAndReturnsTheAnswer) {
  Router r;
  FakeWorker* w = r.AddWorker({"other", "rev"});
  Outcome* o = r.Call("rev", "abc", /*timeout=*/5, /*idempotent=*/true);
  ASSERT_THAT(w->Open(), SizeIs(1));
  const v1::Call& sent = w->Open()[0]->command.call();
  EXPECT_EQ(sent.handler(), "rev");
  EXPECT_EQ(sent.payload(), "abc");
  EXPECT_EQ(sent.call_id(), "c1");
  EXPECT_TRUE(sent.idempotent());
  EXPECT_DOUBLE_EQ(sent.timeout_seconds(), 5);
  EXPECT_EQ(o->ends, 0);
  AnswerReversed(w->Open()[0]);
  ASSERT_EQ(o->ends, 1);
  EXPECT_THAT(*o->result, IsOk());
  EXPECT_EQ(**o->result, "cba");
  EXPECT_EQ(r.router.open_calls(), 0u);
}

// Nothing of a call's path runs on the loop: it is sent from the caller's
// thread and answered on the thread that reads the answer (here the test's,
// firing the fake's Deferred), which also sends the next queued call.
TEST(CallRouterTest, ACallIsSentAndAnsweredWithoutTheLoop) {
  Router r;
  FakeWorker* w = r.AddWorker({"h"});
  r.loop.RunPending();
  Outcome* o = r.Call("h", "abc");
  Outcome* next = r.Call("h", "def");
  ASSERT_THAT(w->OpenPayloads(), ElementsAre("abc"));
  AnswerReversed(w->Open()[0]);
  ASSERT_EQ(o->ends, 1);
  EXPECT_EQ(**o->result, "cba");
  EXPECT_THAT(o->ended, ElementsAre(absl::StatusCode::kOk));
  EXPECT_THAT(w->OpenPayloads(), ElementsAre("def"));
  EXPECT_EQ(next->ends, 0);
  EXPECT_EQ(r.router.open_calls(), 1u);
  EXPECT_EQ(r.loop.RunPending(), 0);
}

TEST(CallRouterTest, ATimeoutAfterTheAnswerChangesNothing) {
  Router r;
  FakeWorker* w = r.AddWorker({"h"});
  Outcome* o = r.Call("h", "abc", /*timeout=*/2);
  AnswerReversed(w->Open()[0]);
  r.loop.AdvanceTime(absl::Seconds(3));
  EXPECT_EQ(o->ends, 1);
  EXPECT_EQ(**o->result, "cba");
  EXPECT_THAT(o->ended, ElementsAre(absl::StatusCode::kOk));
  EXPECT_THAT(w->CancelledCalls(), IsEmpty());
  EXPECT_EQ(r.router.open_calls(), 0u);
}

TEST(CallRouterTest, AnIdempotentCallAnsweredIsNotRetriedWhenItsWorkerGoes) {
  Router r;
  r.AddWorker({"h"});
  r.AddWorker({"h"});
  Outcome* o = r.Call("h", "abc", /*timeout=*/0, /*idempotent=*/true);
  int ran_on = r.workers[0]->Open().empty() ? 1 : 0;
  AnswerReversed(r.workers[ran_on]->Open()[0]);
  r.LoseWorker(ran_on);
  EXPECT_THAT(r.workers[1 - ran_on]->Open(), IsEmpty());
  EXPECT_EQ(o->ends, 1);
  EXPECT_EQ(**o->result, "cba");
  EXPECT_THAT(o->ended, ElementsAre(absl::StatusCode::kOk));
  EXPECT_EQ(r.router.open_calls(), 0u);
}

// A worker whose link closed before the coordinator heard: the call sent to
// it ends at once, and it takes no more.
TEST(CallRouterTest, ALinkFoundClosedEndsTheCallAndTakesNoMore) {
  Router r;
  FakeWorker* a = r.AddWorker({"h"}, /*slots=*/4);
  FakeWorker* b = r.AddWorker({"h"}, /*slots=*/1);
  a->closed = true;
  Outcome* lost = r.Call("h", "1");
  Outcome* sent = r.Call("h", "2");
  EXPECT_THAT(*lost->result,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("worker=w1: connection lost")));
  EXPECT_THAT(lost->ended, ElementsAre(absl::StatusCode::kUnavailable));
  EXPECT_THAT(b->OpenPayloads(), ElementsAre("2"));
  EXPECT_EQ(sent->ends, 0);
  r.LoseWorker(0);
  EXPECT_TRUE(r.router.Offered("h"));
}

TEST(CallRouterTest, HandlerErrorPassesThrough) {
  Router r;
  FakeWorker* w = r.AddWorker({"h"});
  Outcome* o = r.Call("h", "x");
  w->Open()[0]->answer.Errback(absl::InvalidArgumentError("bad query"));
  EXPECT_THAT(*o->result, StatusIs(absl::StatusCode::kInvalidArgument, "bad query"));
}

TEST(CallRouterTest, AnswerWithoutCallDoneIsInternal) {
  Router r;
  FakeWorker* w = r.AddWorker({"h"});
  Outcome* o = r.Call("h", "x");
  w->Open()[0]->answer.Callback(v1::Answer());
  EXPECT_THAT(*o->result, StatusIs(absl::StatusCode::kInternal, HasSubstr("CallDone")));
}

TEST(CallRouterTest, OneCallPerSlotTheRestWaitInArrivalOrder) {
  Router r;
  FakeWorker* w = r.AddWorker({"h"}, /*slots=*/2);
  for (int i = 0; i < 5; ++i) r.Call("h", absl::StrCat("p", i));
  EXPECT_THAT(w->OpenPayloads(), ElementsAre("p0", "p1"));
  EXPECT_EQ(r.router.queued("h"), 3u);
  AnswerReversed(w->Open()[1]);
  EXPECT_THAT(w->OpenPayloads(), ElementsAre("p0", "p2"));
  AnswerReversed(w->Open()[0]);
  AnswerReversed(w->Open()[0]);
  EXPECT_THAT(w->OpenPayloads(), ElementsAre("p3", "p4"));
  EXPECT_EQ(r.router.queued("h"), 0u);
}

TEST(CallRouterTest, SlotsAreCountedPerHandler) {
  Router r;
  FakeWorker* w = r.AddWorker({"a", "b"}, /*slots=*/1);
  r.Call("a", "1");
  r.Call("b", "2");
  r.Call("a", "3");
  EXPECT_THAT(w->OpenPayloads(), ElementsAre("1", "2"));
  EXPECT_EQ(r.router.queued("a"), 1u);
}

TEST(CallRouterTest, SpreadsCallsOverWorkers) {
  Router r;
  FakeWorker* a = r.AddWorker({"h"}, 2);
  FakeWorker* b = r.AddWorker({"h"}, 2);
  for (int i = 0; i < 4; ++i) r.Call("h", absl::StrCat(i));
  EXPECT_THAT(a->Open(), SizeIs(2));
  EXPECT_THAT(b->Open(), SizeIs(2));
}

TEST(CallRouterTest, FullQueueIsResourceExhaustedAtOnce) {
  CallRouterOptions options;
  options.max_queued = 2;
  Router r(options);
  FakeWorker* w = r.AddWorker({"h"});
  r.Call("h", "running");
  r.Call("h", "q1");
  r.Call("h", "q2");
  Outcome* refused = r.Call("h", "q3");
  ASSERT_EQ(refused->ends, 1);
  EXPECT_THAT(*refused->result, StatusIs(absl::StatusCode::kResourceExhausted));
  // Room again once the queue moves.
  AnswerReversed(w->Open()[0]);
  Outcome* later = r.Call("h", "q4");
  EXPECT_EQ(later->ends, 0);
  EXPECT_EQ(r.router.queued("h"), 2u);
}

TEST(CallRouterTest, TimeoutWhileQueuedCountsFromArrival) {
  Router r;
  FakeWorker* w = r.AddWorker({"h"});
  Outcome* first = r.Call("h", "slow", 10);
  Outcome* queued = r.Call("h", "waits", 2);
  r.loop.AdvanceTime(absl::Milliseconds(1999));
  EXPECT_EQ(queued->ends, 0);
  r.loop.AdvanceTime(absl::Milliseconds(1));
  ASSERT_EQ(queued->ends, 1);
  EXPECT_THAT(*queued->result,
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("still queued")));
  EXPECT_EQ(r.router.queued("h"), 0u);
  // It never reaches the worker, even once the slot frees.
  AnswerReversed(w->Open()[0]);
  EXPECT_EQ(first->ends, 1);
  EXPECT_THAT(w->calls, SizeIs(1));
}

TEST(CallRouterTest, QueueingTimeIsTakenFromTheTimeoutSentToTheWorker) {
  Router r;
  FakeWorker* w = r.AddWorker({"h"});
  r.Call("h", "first", 10);
  r.Call("h", "second", 5);
  r.loop.AdvanceTime(absl::Seconds(3));
  AnswerReversed(w->Open()[0]);
  ASSERT_THAT(w->Open(), SizeIs(1));
  EXPECT_DOUBLE_EQ(w->Open()[0]->command.call().timeout_seconds(), 2);
}

TEST(CallRouterTest, TimeoutWhileRunningCancelsOnTheWorkerAndHoldsTheSlot) {
  Router r;
  FakeWorker* w = r.AddWorker({"h"});
  Outcome* running = r.Call("h", "stuck", 1);
  Outcome* next = r.Call("h", "next", 60);
  r.loop.AdvanceTime(absl::Seconds(1));
  ASSERT_EQ(running->ends, 1);
  EXPECT_THAT(*running->result,
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("running on worker=w1")));
  EXPECT_THAT(w->CancelledCalls(), ElementsAre("c1"));
  // The child is still busy until the worker confirms the cancel.
  EXPECT_THAT(w->OpenPayloads(), ElementsAre("stuck"));
  w->Open()[0]->answer.Errback(absl::CancelledError("call=c1 cancelled"));
  EXPECT_EQ(running->ends, 1);
  EXPECT_THAT(w->OpenPayloads(), ElementsAre("next"));
  EXPECT_EQ(next->ends, 0);
}

TEST(CallRouterTest, DefaultTimeoutIsThirtySeconds) {
  Router r;
  r.AddWorker({"h"});
  Outcome* o = r.Call("h", "x");
  r.loop.AdvanceTime(absl::Seconds(29));
  EXPECT_EQ(o->ends, 0);
  r.loop.AdvanceTime(absl::Seconds(1));
  EXPECT_THAT(*o->result, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("30s")));
}

TEST(CallRouterTest, BadRequestsAreInvalidArgument) {
  Router r;
  r.AddWorker({"h"});
  EXPECT_THAT(*r.Call("", "x")->result, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(*r.Call("h", "x", -1)->result,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timeout")));
}

TEST(CallRouterTest, WorkerLostMidCallNonIdempotentIsUnavailable) {
  Router r;
  r.AddWorker({"h"});
  FakeWorker* b = r.AddWorker({"h"});
  Outcome* o = r.Call("h", "x");
  r.LoseWorker(0);
  ASSERT_EQ(o->ends, 1);
  EXPECT_THAT(*o->result,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("worker=w1 went away mid-call")));
  EXPECT_THAT(b->calls, SizeIs(0));
}

TEST(CallRouterTest, WorkerLostMidCallIdempotentIsRetriedElsewhere) {
  Router r;
  r.AddWorker({"h"});
  FakeWorker* b = r.AddWorker({"h"});
  Outcome* o = r.Call("h", "x", 0, /*idempotent=*/true);
  ASSERT_THAT(r.workers[0]->Open(), SizeIs(1));
  r.LoseWorker(0);
  EXPECT_EQ(o->ends, 0);
  ASSERT_THAT(b->Open(), SizeIs(1));
  EXPECT_EQ(b->Open()[0]->command.call().payload(), "x");
  EXPECT_EQ(b->Open()[0]->command.call().call_id(), "c1");
  AnswerReversed(b->Open()[0]);
  EXPECT_EQ(o->ends, 1);
  EXPECT_EQ(**o->result, "x");
}

TEST(CallRouterTest, IdempotentCallIsRetriedOnlyOnce) {
  Router r;
  r.AddWorker({"h"});
  r.AddWorker({"h"});
  FakeWorker* c = r.AddWorker({"h"});
  Outcome* o = r.Call("h", "x", 0, true);
  r.LoseWorker(0);
  EXPECT_EQ(o->ends, 0);
  r.LoseWorker(1);
  ASSERT_EQ(o->ends, 1);
  EXPECT_THAT(*o->result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(c->calls, SizeIs(0));
}

TEST(CallRouterTest, RetriedCallGoesAheadOfTheQueue) {
  Router r;
  r.AddWorker({"h"});
  FakeWorker* b = r.AddWorker({"h"});
  r.Call("h", "first", 0, true);
  r.Call("h", "second");
  r.Call("h", "third");
  r.LoseWorker(0);
  EXPECT_THAT(b->OpenPayloads(), ElementsAre("second"));
  AnswerReversed(b->Open()[0]);
  EXPECT_THAT(b->OpenPayloads(), ElementsAre("first"));
}

TEST(CallRouterTest, LastWorkerGoneFailsRunningAndQueuedCalls) {
  Router r;
  r.AddWorker({"h"});
  Outcome* running = r.Call("h", "a", 0, true);
  Outcome* queued = r.Call("h", "b");
  r.LoseWorker(0);
  EXPECT_THAT(*running->result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(*queued->result,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("last worker offering it")));
  EXPECT_EQ(r.router.open_calls(), 0u);
  EXPECT_THAT(*r.Call("h", "c")->result, StatusIs(absl::StatusCode::kNotFound));
}

TEST(CallRouterTest, LateAnswerFromALostWorkerIsIgnored) {
  Router r;
  FakeWorker* a = r.AddWorker({"h"});
  FakeWorker* b = r.AddWorker({"h"});
  Outcome* o = r.Call("h", "x", 0, true);
  amp::Deferred<v1::Answer> stale = a->Open()[0]->answer;
  r.router.RemoveWorker("w1", absl::UnavailableError("gone"));
  v1::Answer answer;
  answer.mutable_call_done()->set_payload("stale");
  stale.Callback(answer);
  EXPECT_EQ(o->ends, 0);
  AnswerReversed(b->Open()[0]);
  EXPECT_EQ(**o->result, "x");
}

TEST(CallRouterTest, WorkerJoiningLaterServesTheQueue) {
  Router r;
  FakeWorker* a = r.AddWorker({"h"});
  r.Call("h", "1");
  r.Call("h", "2");
  FakeWorker* b = r.AddWorker({"h"});
  EXPECT_THAT(a->OpenPayloads(), ElementsAre("1"));
  EXPECT_THAT(b->OpenPayloads(), ElementsAre("2"));
}

TEST(CallRouterTest, DrainingWorkerGetsNoNewCalls) {
  Router r;
  FakeWorker* a = r.AddWorker({"h"});
  FakeWorker* b = r.AddWorker({"h"});
  Outcome* running = r.Call("h", "0");
  ASSERT_THAT(a->OpenPayloads(), ElementsAre("0"));
  r.registry.Drain("w1");
  r.router.DrainWorker("w1");
  AnswerReversed(a->Open()[0]);
  EXPECT_EQ(**running->result, "0");
  r.Call("h", "1");
  r.Call("h", "2");
  EXPECT_THAT(a->calls, SizeIs(1));
  EXPECT_THAT(b->OpenPayloads(), ElementsAre("1"));
  // A worker that joins draining gets none either.
  v1::Hello hello;
  hello.add_handlers("h");
  FakeWorker late;
  std::string id = r.registry.Add(hello, &late, r.loop.Now())->id;
  r.registry.Drain(id);
  r.router.AddWorker(id);
  EXPECT_THAT(late.calls, SizeIs(0));
  EXPECT_EQ(r.router.queued("h"), 1u);
  r.router.RemoveWorker(id, absl::UnavailableError("gone"));
}

TEST(CallRouterTest, DestroyingTheRouterEndsOpenCalls) {
  auto r = std::make_unique<Router>();
  r->AddWorker({"h"});
  Outcome running, queued;
  v1::CallRequest request;
  request.set_handler("h");
  r->router.Call(request, running.Done());
  r->router.Call(request, queued.Done());
  // The workers outlive the router here, as sessions may at shutdown.
  std::vector<std::unique_ptr<FakeWorker>> workers = std::move(r->workers);
  r.reset();
  EXPECT_THAT(*running.result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(*queued.result, StatusIs(absl::StatusCode::kUnavailable));
  workers[0]->Close(absl::UnavailableError("late"));
  EXPECT_EQ(running.ends, 1);
}

// Many calls, workers coming and going, answers, errors and timeouts in a
// random order: every call ends exactly once and no slot is ever overbooked.
TEST(CallRouterTest, EveryCallEndsExactlyOnce) {
  std::mt19937 rng(7);
  Router r;
  for (int i = 0; i < 3; ++i) r.AddWorker({"h"}, 2);
  int live_first = 0;
  for (int step = 0; step < 2000; ++step) {
    int what = rng() % 10;
    if (what < 4) {
      r.Call("h", absl::StrCat(step), 1 + rng() % 5, rng() % 2 == 0);
    } else if (what < 8) {
      std::vector<FakeWorker::Pending*> open;
      for (int i = live_first; i < static_cast<int>(r.workers.size()); ++i) {
        std::vector<FakeWorker::Pending*> o = r.workers[i]->Open();
        EXPECT_LE(o.size(), 2u) << "worker " << i << " overbooked";
        open.insert(open.end(), o.begin(), o.end());
      }
      if (!open.empty()) {
        FakeWorker::Pending* p = open[rng() % open.size()];
        if (rng() % 3 == 0) {
          p->answer.Errback(absl::InternalError("boom"));
        } else {
          AnswerReversed(p);
        }
      }
    } else if (what == 8) {
      r.loop.AdvanceTime(absl::Milliseconds(300));
    } else if (static_cast<int>(r.workers.size()) - live_first > 1) {
      r.LoseWorker(live_first++);
      r.AddWorker({"h"}, 2);
    }
  }
  r.loop.AdvanceTime(absl::Seconds(10));
  for (int i = live_first; i < static_cast<int>(r.workers.size()); ++i) {
    for (FakeWorker::Pending* p : r.workers[i]->Open()) AnswerReversed(p);
  }
  for (const auto& o : r.outcomes) ASSERT_EQ(o->ends, 1);
  EXPECT_EQ(r.router.open_calls(), 0u);
}

// A link whose calls wait until another thread answers them, as gRPC's
// read threads do; it counts how many it runs at once.
class ThreadedLink : public WorkerLink {
 public:
  amp::Deferred<v1::Answer> Call(v1::Command) override {
    ADD_FAILURE() << "the router calls from any thread";
    return amp::Deferred<v1::Answer>::Fail(absl::InternalError("unexpected"));
  }
  bool CallFromAnyThread(v1::Command command, amp::Session::ReadThreadAnswer answer) override {
    std::lock_guard<std::mutex> lock(mu_);
    asks_.push_back({std::move(command), std::move(answer)});
    most_at_once_ = std::max(most_at_once_, static_cast<int>(asks_.size()));
    return true;
  }
  void Send(v1::Command) override {}
  void Close(const absl::Status&) override {}

  // Answers the oldest call with its payload reversed; false if none waits.
  bool AnswerOne() {
    std::pair<v1::Command, amp::Session::ReadThreadAnswer> ask;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (asks_.empty()) return false;
      ask = std::move(asks_.front());
      asks_.pop_front();
    }
    const std::string& s = ask.first.call().payload();
    v1::Answer answer;
    answer.mutable_call_done()->set_payload(std::string(s.rbegin(), s.rend()));
    ask.second(&answer);
    return true;
  }
  int most_at_once() {
    std::lock_guard<std::mutex> lock(mu_);
    return most_at_once_;
  }

 private:
  std::mutex mu_;
  std::deque<std::pair<v1::Command, amp::Session::ReadThreadAnswer>> asks_;
  int most_at_once_ = 0;
};

// Callers on several threads, answers read on two others, as in the master:
// every call ends once with its own answer, and no worker ever runs more
// calls than it has slots.
TEST(CallRouterTest, CallsFromManyThreadsEachEndOnceWithTheirOwnAnswer) {
  constexpr int kCallers = 4;
  constexpr int kCallsEach = 300;
  FakeLoop loop;
  WorkerRegistry registry;
  std::vector<std::unique_ptr<ThreadedLink>> links;
  CallRouter router(&loop, &registry, CallRouterOptions());
  for (int i = 0; i < 2; ++i) {
    links.push_back(std::make_unique<ThreadedLink>());
    v1::Hello hello;
    hello.set_slots(1);
    hello.add_handlers("h");
    router.AddWorker(registry.Add(hello, links.back().get(), loop.Now())->id);
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  std::atomic<int> ended{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kCallers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach && absl::Now() < give_up; ++i) {
        std::string payload = absl::StrCat(t, "-", i);
        auto ends = std::make_shared<std::atomic<int>>(0);
        v1::CallRequest request;
        request.set_handler("h");
        request.set_payload(payload);
        router.Call(request, [&, ends, payload](absl::StatusOr<std::string> r) {
          if (!r.ok() || *r != std::string(payload.rbegin(), payload.rend())) ++wrong;
          if (ends->fetch_add(1) == 0) ++ended;
        });
        while (ends->load() == 0 && absl::Now() < give_up) std::this_thread::yield();
        if (ends->load() != 1) ++wrong;
      }
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      while (ended.load() < kCallers * kCallsEach && absl::Now() < give_up) {
        if (!links[t]->AnswerOne()) std::this_thread::yield();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ended.load(), kCallers * kCallsEach);
  EXPECT_EQ(wrong.load(), 0);
  for (auto& link : links) EXPECT_EQ(link->most_at_once(), 1);
  EXPECT_EQ(router.open_calls(), 0u);
  EXPECT_EQ(router.queued("h"), 0u);
}

// The coordinator hands workers and calls to its router.
TEST(CallRouterTest, CoordinatorRoutesCallsToWorkersThatOfferTheHandler) {
  FakeLoop loop;
  Coordinator coordinator(&loop, CoordinatorOptions());
  FakeWorker worker;
  v1::Hello hello;
  hello.set_slots(1);
  hello.add_handlers("rev");
  std::string id = coordinator.AddWorker(hello, &worker).worker_id();
  v1::CallRequest request;
  request.set_handler("rev");
  request.set_payload("ab");
  Outcome answered, lost;
  coordinator.Call(request, answered.Done());
  AnswerReversed(worker.Open()[0]);
  EXPECT_EQ(**answered.result, "ba");
  coordinator.Call(request, lost.Done());
  coordinator.RemoveWorker(id, absl::UnavailableError("gone"));
  worker.Close(absl::UnavailableError("gone"));
  EXPECT_THAT(*lost.result, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("mid-call")));
  coordinator.StopIntake();
  Outcome refused;
  coordinator.Call(request, refused.Done());
  EXPECT_THAT(*refused.result, StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace ampmr::master
