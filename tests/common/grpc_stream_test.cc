// Both ends of a real WorkerSession.Connect stream over 127.0.0.1, each with a
// Session on its own ThreadLoop, as the master and a worker run them.
#include "common/amp/grpc_stream.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/amp/session.h"
#include "common/loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::amp {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::HasSubstr;

// Generous: only reached when something is broken.
constexpr absl::Duration kWait = absl::Seconds(20);

using AnswerResult = absl::StatusOr<v1::Answer>;

// A signal between threads, waited on with a deadline. Counts down from `n`.
class Latch {
 public:
  explicit Latch(int n = 1) : left_(n) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (left_ > 0 && --left_ == 0) cv_.notify_all();
  }
  bool WaitFor(absl::Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return left_ == 0; });
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return left_ == 0;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int left_;
};

// Runs `fn` on `loop` and waits for it. A loop that does not get to it in time
// is a hang: the test cannot go on safely (fn refers to this stack frame).
void RunOn(Loop& loop, std::function<void()> fn) {
  Latch done;
  loop.Post([&] {
    fn();
    done.CountDown();
  });
  if (!done.WaitFor(kWait)) {
    ADD_FAILURE() << "loop did not run a task within " << kWait;
    std::abort();
  }
}

// A numbered command: a Heartbeat whose one status names the number.
v1::Command Heartbeat(int64_t sequence) {
  v1::Command c;
  c.mutable_heartbeat()->add_statuses()->set_attempt_id(absl::StrCat(sequence));
  return c;
}

// The number of a command made by Heartbeat().
int64_t Seq(const v1::Command& c) {
  int64_t n = -1;
  if (c.heartbeat().statuses_size() == 1) {
    EXPECT_TRUE(absl::SimpleAtoi(c.heartbeat().statuses(0).attempt_id(), &n));
  }
  return n;
}

v1::Command RunMap(const std::string& attempt_id) {
  v1::Command c;
  c.mutable_run_map()->mutable_task()->set_attempt_id(attempt_id);
  return c;
}

v1::Answer MapDone(const std::string& attempt_id) {
  v1::Answer a;
  a.mutable_map_done()->set_attempt_id(attempt_id);
  return a;
}

// Heartbeats are sent with no answer wanted; tests may replace this.
void IgnoreHeartbeats(Session& s) {
  s.SetResponder(v1::Command::kHeartbeat, [](const v1::Command&, Session::Reply) {});
}

// Call results, written on a loop thread and read by the test thread.
class Results {
 public:
  explicit Results(int expected) : all_(expected), results_(expected) {}
  // Attaches to `d` (on its loop thread) so its result lands at `i`.
  void Watch(int i, Deferred<v1::Answer> d) {
    d.AddBoth([this, i](const AnswerResult& r) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        results_[i] = r;
      }
      all_.CountDown();
    });
  }
  bool WaitAll() { return all_.WaitFor(kWait); }
  AnswerResult Get(int i) {
    std::lock_guard<std::mutex> lock(mu_);
    return results_[i].value_or(absl::InternalError("no result"));
  }

 private:
  Latch all_;
  std::mutex mu_;
  std::vector<std::optional<AnswerResult>> results_;
};

// Stands in for a reactor under a BoxOutbox: records the writes and the
// finish it is asked for; the test plays gRPC by calling OnWriteDone.
struct FakeReactor {
  std::mutex mu;
  std::vector<v1::Box> writes;  // copies, in order
  std::vector<absl::Status> finishes;
  std::function<void()> during_write = [] {};  // runs inside start_write

  BoxOutbox::Hooks Hooks() {
    return BoxOutbox::Hooks{[this](const v1::Box* box) {
                              {
                                std::lock_guard<std::mutex> lock(mu);
                                writes.push_back(*box);
                              }
                              during_write();
                            },
                            [this](const absl::Status& status) {
                              std::lock_guard<std::mutex> lock(mu);
                              finishes.push_back(status);
                            }};
  }
  size_t write_count() {
    std::lock_guard<std::mutex> lock(mu);
    return writes.size();
  }
  size_t finish_count() {
    std::lock_guard<std::mutex> lock(mu);
    return finishes.size();
  }
};

v1::Box HeartbeatBox(int64_t sequence) {
  v1::Box box;
  *box.mutable_command() = Heartbeat(sequence);
  return box;
}

// The sequence numbers a stream message carries, carrier or not.
std::vector<int64_t> Sequences(const v1::Box& message) {
  std::vector<int64_t> out;
  if (message.batch_size() == 0) {
    out.push_back(Seq(message.command()));
  } else {
    for (const v1::Box& box : message.batch()) out.push_back(Seq(box.command()));
  }
  return out;
}

TEST(BoxOutboxTest, KeepsOneWriteInFlightAndSendsTheQueueAsOneCarrierInOrder) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  outbox.Send(HeartbeatBox(1));
  outbox.Send(HeartbeatBox(2));
  outbox.Send(HeartbeatBox(3));
  ASSERT_EQ(reactor.write_count(), 1u);
  EXPECT_EQ(reactor.writes[0].batch_size(), 0) << "a lone box goes as itself";
  EXPECT_THAT(Sequences(reactor.writes[0]), ::testing::ElementsAre(1));

  outbox.OnWriteDone(true);
  ASSERT_EQ(reactor.write_count(), 2u);
  EXPECT_EQ(reactor.writes[1].ask(), 0u);
  EXPECT_FALSE(reactor.writes[1].has_command()) << "a carrier has no body";
  EXPECT_THAT(Sequences(reactor.writes[1]), ::testing::ElementsAre(2, 3));

  outbox.OnWriteDone(true);
  EXPECT_EQ(reactor.write_count(), 2u);
  outbox.Send(HeartbeatBox(4));
  EXPECT_EQ(reactor.write_count(), 3u);
  EXPECT_EQ(reactor.finish_count(), 0u);
}

TEST(BoxOutboxTest, WhatIsSentWhileHeldGoesOutAsOneCarrierAtTheRelease) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  outbox.Hold();
  outbox.Send(HeartbeatBox(1));
  outbox.Send(HeartbeatBox(2));
  outbox.Send(HeartbeatBox(3));
  EXPECT_EQ(reactor.write_count(), 0u) << "no write starts while held";
  outbox.Release();
  ASSERT_EQ(reactor.write_count(), 1u);
  EXPECT_THAT(Sequences(reactor.writes[0]), ::testing::ElementsAre(1, 2, 3));

  // A write that ends while held does not start the next one either.
  outbox.Hold();
  outbox.Send(HeartbeatBox(4));
  outbox.OnWriteDone(true);
  outbox.Send(HeartbeatBox(5));
  EXPECT_EQ(reactor.write_count(), 1u);
  outbox.Release();
  ASSERT_EQ(reactor.write_count(), 2u);
  EXPECT_THAT(Sequences(reactor.writes[1]), ::testing::ElementsAre(4, 5));
}

TEST(BoxOutboxTest, CarriersStayBelowTheBatchByteLimit) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  const std::string big(300 * 1024, 'x');
  constexpr int kBoxes = 20;  // ~6 MiB in all
  for (int i = 0; i < kBoxes; ++i) {
    v1::Box box = HeartbeatBox(i);
    box.mutable_command()->mutable_run_map()->mutable_task()->set_attempt_id(big);
    outbox.Send(std::move(box));
  }
  int delivered = 0;
  while (reactor.write_count() > 0 && delivered < kBoxes) {
    const v1::Box& last = reactor.writes.back();
    delivered += last.batch_size() == 0 ? 1 : last.batch_size();
    EXPECT_LE(last.ByteSizeLong(), BoxOutbox::kMaxBatchBytes + big.size() + 1024);
    outbox.OnWriteDone(true);
  }
  EXPECT_EQ(delivered, kBoxes);
  EXPECT_GT(reactor.write_count(), 5u);
}

TEST(BoxOutboxTest, CloseFinishesOnlyAfterTheQueuedBoxesAreWritten) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  outbox.Send(HeartbeatBox(1));
  outbox.Send(HeartbeatBox(2));
  outbox.Close(absl::AbortedError("draining"));
  outbox.Send(HeartbeatBox(3));  // after Close: dropped
  EXPECT_EQ(reactor.finish_count(), 0u) << "Finish while a write is in flight";
  outbox.OnWriteDone(true);
  EXPECT_EQ(reactor.finish_count(), 0u);
  ASSERT_EQ(reactor.write_count(), 2u);
  EXPECT_THAT(Sequences(reactor.writes[1]), ::testing::ElementsAre(2));
  outbox.OnWriteDone(true);
  ASSERT_EQ(reactor.finish_count(), 1u);
  EXPECT_THAT(reactor.finishes[0], StatusIs(absl::StatusCode::kAborted, "draining"));

  outbox.Close(absl::InternalError("again"));
  outbox.EndStream(absl::OkStatus());
  outbox.Send(HeartbeatBox(4));
  EXPECT_EQ(reactor.finish_count(), 1u);
  EXPECT_EQ(reactor.write_count(), 2u);
}

TEST(BoxOutboxTest, CloseWithNothingInFlightFinishesAtOnce) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  outbox.Close(absl::OkStatus());
  EXPECT_EQ(reactor.finish_count(), 1u);
}

TEST(BoxOutboxTest, EndStreamDropsTheQueueButWaitsForTheWriteInFlight) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  outbox.Send(HeartbeatBox(1));
  outbox.Send(HeartbeatBox(2));
  outbox.EndStream(absl::CancelledError("peer went away"));
  EXPECT_EQ(reactor.finish_count(), 0u) << "Finish while a write is in flight";
  outbox.OnWriteDone(false);
  EXPECT_EQ(reactor.write_count(), 1u) << "queued boxes of a dead stream are not written";
  ASSERT_EQ(reactor.finish_count(), 1u);
  EXPECT_THAT(reactor.finishes[0], StatusIs(absl::StatusCode::kCancelled));
}

TEST(BoxOutboxTest, FailedWriteDropsTheQueueAndLaterSends) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  outbox.Send(HeartbeatBox(1));
  outbox.Send(HeartbeatBox(2));
  outbox.OnWriteDone(false);
  outbox.Send(HeartbeatBox(3));
  EXPECT_EQ(reactor.write_count(), 1u);
  EXPECT_EQ(reactor.finish_count(), 0u) << "the reactor's read side ends the stream";
  outbox.EndStream(absl::OkStatus());
  EXPECT_EQ(reactor.finish_count(), 1u);
}

TEST(BoxOutboxTest, NoHookRunsAfterDetach) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  outbox.Send(HeartbeatBox(1));
  outbox.Send(HeartbeatBox(2));
  outbox.Detach();
  outbox.OnWriteDone(true);
  outbox.Send(HeartbeatBox(3));
  outbox.Close(absl::OkStatus());
  outbox.EndStream(absl::OkStatus());
  EXPECT_EQ(reactor.write_count(), 1u);
  EXPECT_EQ(reactor.finish_count(), 0u);
}

TEST(BoxOutboxTest, WriteCompletingInsideStartWriteDoesNotNestWrites) {
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  int depth = 0, max_depth = 0;
  reactor.during_write = [&] {
    ++depth;
    max_depth = std::max(max_depth, depth);
    if (reactor.write_count() == 1) outbox.Send(HeartbeatBox(2));
    if (reactor.write_count() < 3) outbox.OnWriteDone(true);  // as if gRPC ran it inline
    --depth;
  };
  outbox.Send(HeartbeatBox(1));
  EXPECT_EQ(reactor.write_count(), 2u);
  EXPECT_EQ(max_depth, 1) << "start_write was re-entered";
}

TEST(BoxOutboxTest, EndStreamWhileAWriteIsBeingStartedWaitsForIt) {
  // The loop thread is inside start_write (it has not reached gRPC yet) when
  // the reactor learns the stream is over: the reactor must not be finished,
  // and so possibly deleted, under that write.
  FakeReactor reactor;
  BoxOutbox outbox(reactor.Hooks());
  Latch entered, release;
  reactor.during_write = [&] {
    entered.CountDown();
    release.WaitFor(kWait);
  };
  std::thread sender([&] { outbox.Send(HeartbeatBox(1)); });
  ASSERT_TRUE(entered.WaitFor(kWait));
  outbox.EndStream(absl::OkStatus());  // must not block on the sender
  EXPECT_EQ(reactor.finish_count(), 0u);
  release.CountDown();
  sender.join();
  EXPECT_EQ(reactor.finish_count(), 0u) << "the write has not completed yet";
  outbox.OnWriteDone(false);
  EXPECT_EQ(reactor.finish_count(), 1u);
}

// The master's side of the stream: the service returns a ServerBoxReactor whose
// callbacks feed a Session living on the master's loop.
class MasterEnd : public v1::WorkerSession::CallbackService {
 public:
  // Runs on the master loop when the Session is made, to register responders.
  std::function<void(Session&)> on_session = [](Session&) {};
  std::atomic<int> stream_messages{0};  // inbound messages, carriers count once
  std::atomic<bool> connect_called{false};
  Latch connected;
  Latch got_messages{50};    // the first 50 inbound stream messages arrived
  Latch done;                // the reactor's OnDone reached the loop
  absl::Status done_status;  // read after `done`

  ThreadLoop loop;
  std::unique_ptr<Session> session;  // loop thread only

  grpc::ServerBidiReactor<v1::Box, v1::Box>* Connect(grpc::CallbackServerContext*) override {
    connect_called = true;
    return new ServerBoxReactor([this](std::shared_ptr<BoxOutbox> outbox) {
      loop.Post([this, outbox] {
        session = std::make_unique<Session>(outbox, "worker=w1");
        IgnoreHeartbeats(*session);
        on_session(*session);
        connected.CountDown();
      });
      StreamCallbacks callbacks;
      callbacks.on_box = [this](v1::Box box) {
        ++stream_messages;
        got_messages.CountDown();
        loop.Post([this, box = std::move(box)]() mutable { session->HandleBox(std::move(box)); });
      };
      callbacks.on_done = [this](const absl::Status& status) {
        loop.Post([this, status] {
          session->HandleClosed(status);
          done_status = status;
          done.CountDown();
        });
      };
      return callbacks;
    });
  }
};

// The worker's side: a ClientBoxReactor dialing the master, a Session on its loop.
struct WorkerEnd {
  ThreadLoop loop;
  std::unique_ptr<v1::WorkerSession::Stub> stub;
  ClientBoxReactor* reactor = nullptr;  // deleted after `done`
  std::unique_ptr<Session> session;     // loop thread only
  Latch done;
  absl::Status done_status;  // read after `done`
};

// A master server on 127.0.0.1:0 and one worker connected to it. The
// destructor ends everything in order: the stream, the server, the loops.
class Harness {
 public:
  // `on_master_session` / `on_worker_session` register responders.
  explicit Harness(
      std::function<void(Session&)> on_master_session = [](Session&) {},
      std::function<void(Session&)> on_worker_session = [](Session&) {}) {
    master_.on_session = std::move(on_master_session);
    master_.loop.Start("master");
    worker_.loop.Start("worker");

    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&master_);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) {
      ADD_FAILURE() << "server did not start";
      std::abort();
    }

    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    worker_.stub = v1::WorkerSession::NewStub(channel);
    StreamCallbacks callbacks;
    WorkerEnd* w = &worker_;
    callbacks.on_box = [w](v1::Box box) {
      w->loop.Post([w, box = std::move(box)]() mutable { w->session->HandleBox(std::move(box)); });
    };
    callbacks.on_done = [w](const absl::Status& status) {
      w->loop.Post([w, status] {
        w->session->HandleClosed(status);
        w->done_status = status;
        w->done.CountDown();
      });
    };
    worker_.reactor = new ClientBoxReactor(worker_.stub.get(), std::move(callbacks));
    RunOn(worker_.loop, [&] {
      worker_.session = std::make_unique<Session>(worker_.reactor->outbox(), "master");
      IgnoreHeartbeats(*worker_.session);
      on_worker_session(*worker_.session);
    });
    worker_.reactor->Start();
  }

  ~Harness() {
    // 1. End the stream (a half-close from the worker, as a worker leaving does),
    //    unless a test already ended it, and wait for both ends to see it.
    RunOn(worker_.loop, [&] { worker_.session->Close(absl::OkStatus()); });
    if (!worker_.done.WaitFor(kWait)) {
      ADD_FAILURE() << "worker stream did not end on Close; cancelling it";
      worker_.reactor->context()->TryCancel();
      if (!worker_.done.WaitFor(kWait)) {
        ADD_FAILURE() << "worker stream never ended";
        std::abort();  // deleting a live reactor would crash less clearly
      }
    }
    // A worker stream that ended was seen by the server, which then ends too.
    if (master_.connect_called) {
      EXPECT_TRUE(master_.done.WaitFor(kWait)) << "master stream never ended";
    }
    // 2. The client reactor is finished: delete it.
    delete worker_.reactor;
    // 3. Stop the server; nothing is left open, so this returns at once.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    // 4. Drop the sessions on their own threads, then end the loops.
    RunOn(master_.loop, [&] { master_.session.reset(); });
    RunOn(worker_.loop, [&] { worker_.session.reset(); });
    master_.loop.Stop();
    worker_.loop.Stop();
  }

  // Waits until the master has its Session for the worker.
  void WaitConnected() {
    // The master sees the stream when the worker's first message arrives.
    if (!master_.connected.done()) {
      RunOn(worker_.loop, [&] { worker_.session->SendNoAnswer(Heartbeat(-1)); });
    }
    ASSERT_TRUE(master_.connected.WaitFor(kWait));
  }

  MasterEnd& master() { return master_; }
  WorkerEnd& worker() { return worker_; }
  grpc::Server& server() { return *server_; }

 private:
  MasterEnd master_;
  WorkerEnd worker_;
  std::unique_ptr<grpc::Server> server_;
};

void ReplyWithAttempt(Session& s) {
  s.SetResponder(v1::Command::kRunMap, [](const v1::Command& c, Session::Reply reply) {
    reply(MapDone("done " + c.run_map().task().attempt_id()));
  });
}

TEST(GrpcStreamTest, CallsGoBothWaysAndAreAnswered) {
  Latch heartbeat_seen;
  Results from_worker(1), from_master(2);  // outlive the harness and its calls
  Harness h(
      [&](Session& master) {
        ReplyWithAttempt(master);
        master.SetResponder(v1::Command::kHeartbeat,
                            [&](const v1::Command& c, Session::Reply reply) {
                              if (Seq(c) == 7) heartbeat_seen.CountDown();
                              reply(MapDone("unwanted"));  // ask 0: must not be sent
                            });
      },
      [](Session& worker) {
        worker.SetResponder(v1::Command::kRunMap, [](const v1::Command& c, Session::Reply reply) {
          if (c.run_map().task().attempt_id() == "bad") {
            reply(absl::AbortedError("attempt=bad failed"));
          } else {
            reply(MapDone("worker ran " + c.run_map().task().attempt_id()));
          }
        });
      });

  RunOn(h.worker().loop, [&] {
    from_worker.Watch(0, h.worker().session->CallRemote(RunMap("a1")));
    h.worker().session->SendNoAnswer(Heartbeat(7));
  });
  ASSERT_TRUE(from_worker.WaitAll());
  ASSERT_THAT(from_worker.Get(0), IsOk());
  EXPECT_EQ(from_worker.Get(0)->map_done().attempt_id(), "done a1");
  ASSERT_TRUE(heartbeat_seen.WaitFor(kWait));

  h.WaitConnected();
  RunOn(h.master().loop, [&] {
    from_master.Watch(0, h.master().session->CallRemote(RunMap("m1")));
    from_master.Watch(1, h.master().session->CallRemote(RunMap("bad")));
  });
  ASSERT_TRUE(from_master.WaitAll());
  ASSERT_THAT(from_master.Get(0), IsOk());
  EXPECT_EQ(from_master.Get(0)->map_done().attempt_id(), "worker ran m1");
  EXPECT_THAT(from_master.Get(1), StatusIs(absl::StatusCode::kAborted, "attempt=bad failed"));

  RunOn(h.worker().loop, [&] { EXPECT_EQ(h.worker().session->outstanding(), 0u); });
}

TEST(GrpcStreamTest, TenThousandConcurrentAsksAreAllAnsweredInBatches) {
  constexpr int kAsks = 10000;
  // The master holds every reply until all asks are in, then answers in
  // reverse order, so answers also come back out of order.
  std::vector<std::pair<int64_t, Session::Reply>> held;  // master loop only
  Results results(kAsks);
  Harness h([&](Session& master) {
    master.SetResponder(v1::Command::kHeartbeat, [&](const v1::Command& c, Session::Reply reply) {
      held.emplace_back(Seq(c), std::move(reply));
      if (held.size() < kAsks) return;
      for (auto it = held.rbegin(); it != held.rend(); ++it) {
        it->second(MapDone(absl::StrCat("seq ", it->first)));
      }
      held.clear();
    });
  });

  RunOn(h.worker().loop, [&] {
    for (int i = 0; i < kAsks; ++i) results.Watch(i, h.worker().session->CallRemote(Heartbeat(i)));
  });
  ASSERT_TRUE(results.WaitAll());
  for (int i = 0; i < kAsks; ++i) {
    ASSERT_THAT(results.Get(i), IsOk()) << i;
    ASSERT_EQ(results.Get(i)->map_done().attempt_id(), absl::StrCat("seq ", i));
  }
  // Asks queued behind a write in flight travel together in carrier boxes.
  EXPECT_LT(h.master().stream_messages.load(), kAsks);
  RunOn(h.worker().loop, [&] { EXPECT_EQ(h.worker().session->outstanding(), 0u); });
}

TEST(GrpcStreamTest, BurstOfLargeBoxesIsSplitBelowTheMessageSizeLimit) {
  // 24 MiB queued at once: one carrier would exceed gRPC's 4 MiB limit.
  constexpr int kAsks = 96;
  const std::string payload(256 * 1024, 'x');
  Results results(kAsks);
  Harness h([](Session& master) {
    master.SetResponder(v1::Command::kRunMap, [](const v1::Command& c, Session::Reply reply) {
      reply(MapDone(absl::StrCat(c.run_map().task().attempt_id().size())));
    });
  });
  RunOn(h.worker().loop, [&] {
    for (int i = 0; i < kAsks; ++i)
      results.Watch(i, h.worker().session->CallRemote(RunMap(payload)));
  });
  ASSERT_TRUE(results.WaitAll());
  for (int i = 0; i < kAsks; ++i) {
    ASSERT_THAT(results.Get(i), IsOk()) << i;
    EXPECT_EQ(results.Get(i)->map_done().attempt_id(), absl::StrCat(payload.size()));
  }
}

// Asks the other side never answers, to see them fail when the stream ends.
void HoldEveryRunMap(Session& s, std::vector<Session::Reply>* held, Latch* all_in) {
  s.SetResponder(v1::Command::kRunMap, [held, all_in](const v1::Command&, Session::Reply reply) {
    held->push_back(std::move(reply));
    all_in->CountDown();
  });
}

TEST(GrpcStreamTest, MasterClosingTheStreamFailsBothSidesOutstandingAsksWithUnavailable) {
  constexpr int kAsks = 5;
  std::vector<Session::Reply> held_by_master, held_by_worker;
  Latch master_has_all(kAsks), worker_has_all(kAsks);
  Results worker_calls(kAsks), master_calls(kAsks);
  Harness h([&](Session& m) { HoldEveryRunMap(m, &held_by_master, &master_has_all); },
            [&](Session& w) { HoldEveryRunMap(w, &held_by_worker, &worker_has_all); });

  RunOn(h.worker().loop, [&] {
    for (int i = 0; i < kAsks; ++i)
      worker_calls.Watch(i, h.worker().session->CallRemote(RunMap("w")));
  });
  ASSERT_TRUE(master_has_all.WaitFor(kWait));
  RunOn(h.master().loop, [&] {
    for (int i = 0; i < kAsks; ++i)
      master_calls.Watch(i, h.master().session->CallRemote(RunMap("m")));
  });
  ASSERT_TRUE(worker_has_all.WaitFor(kWait));

  RunOn(h.master().loop, [&] { h.master().session->Close(absl::AbortedError("master draining")); });

  ASSERT_TRUE(worker_calls.WaitAll());
  ASSERT_TRUE(master_calls.WaitAll());
  for (int i = 0; i < kAsks; ++i) {
    EXPECT_THAT(worker_calls.Get(i),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("master draining")));
    EXPECT_THAT(master_calls.Get(i), StatusIs(absl::StatusCode::kUnavailable));
  }
  ASSERT_TRUE(h.worker().done.WaitFor(kWait));
  EXPECT_THAT(h.worker().done_status, StatusIs(absl::StatusCode::kAborted, "master draining"));
  ASSERT_TRUE(h.master().done.WaitFor(kWait));

  // Late replies to a closed stream go nowhere and break nothing.
  RunOn(h.master().loop, [&] {
    for (auto& reply : held_by_master) reply(MapDone("late"));
  });
  RunOn(h.worker().loop, [&] {
    for (auto& reply : held_by_worker) reply(MapDone("late"));
    EXPECT_TRUE(h.worker().session->closed());
  });
}

TEST(GrpcStreamTest, WorkerCancellingFailsBothSidesOutstandingAsksWithUnavailable) {
  constexpr int kAsks = 5;
  std::vector<Session::Reply> held_by_master, held_by_worker;
  Latch master_has_all(kAsks), worker_has_all(kAsks);
  Results worker_calls(kAsks), master_calls(kAsks);
  Harness h([&](Session& m) { HoldEveryRunMap(m, &held_by_master, &master_has_all); },
            [&](Session& w) { HoldEveryRunMap(w, &held_by_worker, &worker_has_all); });

  RunOn(h.worker().loop, [&] {
    for (int i = 0; i < kAsks; ++i)
      worker_calls.Watch(i, h.worker().session->CallRemote(RunMap("w")));
  });
  ASSERT_TRUE(master_has_all.WaitFor(kWait));
  RunOn(h.master().loop, [&] {
    for (int i = 0; i < kAsks; ++i)
      master_calls.Watch(i, h.master().session->CallRemote(RunMap("m")));
  });
  ASSERT_TRUE(worker_has_all.WaitFor(kWait));

  h.worker().reactor->context()->TryCancel();

  ASSERT_TRUE(master_calls.WaitAll());
  ASSERT_TRUE(worker_calls.WaitAll());
  for (int i = 0; i < kAsks; ++i) {
    EXPECT_THAT(master_calls.Get(i),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connection lost")));
    EXPECT_THAT(worker_calls.Get(i),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("CANCELLED")));
  }
  ASSERT_TRUE(h.worker().done.WaitFor(kWait));
  EXPECT_THAT(h.worker().done_status, StatusIs(absl::StatusCode::kCancelled));
  ASSERT_TRUE(h.master().done.WaitFor(kWait));
}

TEST(GrpcStreamTest, WorkerClosingEndsTheStreamAndFailsTheMastersAsks) {
  std::vector<Session::Reply> held_by_worker;
  Latch worker_has_it(1);
  Results master_calls(1);
  Harness h([](Session&) {},
            [&](Session& w) { HoldEveryRunMap(w, &held_by_worker, &worker_has_it); });
  h.WaitConnected();
  RunOn(h.master().loop,
        [&] { master_calls.Watch(0, h.master().session->CallRemote(RunMap("m"))); });
  ASSERT_TRUE(worker_has_it.WaitFor(kWait));

  RunOn(h.worker().loop, [&] { h.worker().session->Close(absl::OkStatus()); });

  ASSERT_TRUE(master_calls.WaitAll());
  EXPECT_THAT(master_calls.Get(0), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(h.master().done.WaitFor(kWait));
  ASSERT_TRUE(h.worker().done.WaitFor(kWait));
  // The master finished with OK after the half-close; the session reports it
  // as the connection being gone.
  EXPECT_THAT(h.worker().done_status, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(GrpcStreamTest, ServerShutdownEndsAnOpenStream) {
  std::vector<Session::Reply> held_by_master;
  Latch master_has_it(1);
  Results worker_calls(1);
  Harness h([&](Session& m) { HoldEveryRunMap(m, &held_by_master, &master_has_it); });
  RunOn(h.worker().loop,
        [&] { worker_calls.Watch(0, h.worker().session->CallRemote(RunMap("w"))); });
  ASSERT_TRUE(master_has_it.WaitFor(kWait));

  // An expired deadline: the server cancels what is still open.
  h.server().Shutdown(std::chrono::system_clock::now());

  ASSERT_TRUE(worker_calls.WaitAll());
  EXPECT_THAT(worker_calls.Get(0), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(h.master().done.WaitFor(kWait));
  ASSERT_TRUE(h.worker().done.WaitFor(kWait));
}

TEST(GrpcStreamTest, SendsQueuedBeforeCloseAreDeliveredFirst) {
  constexpr int kBoxes = 1000;
  std::atomic<int> seen{0};
  Latch all_seen;
  Harness h([&](Session& m) {
    m.SetResponder(v1::Command::kHeartbeat, [&](const v1::Command&, Session::Reply) {
      if (++seen == kBoxes) all_seen.CountDown();
    });
  });
  RunOn(h.worker().loop, [&] {
    for (int i = 0; i < kBoxes; ++i) h.worker().session->SendNoAnswer(Heartbeat(i));
    h.worker().session->Close(absl::OkStatus());
  });
  ASSERT_TRUE(all_seen.WaitFor(kWait));
  ASSERT_TRUE(h.master().done.WaitFor(kWait));
  EXPECT_EQ(seen.load(), kBoxes);
}

// Keeps one call at a time going from `session` until the stream ends.
void KeepCalling(std::unique_ptr<Session>* session) {
  if (*session == nullptr || (*session)->closed()) return;
  (*session)->CallRemote(Heartbeat(1)).AddBoth([session](const AnswerResult& r) {
    if (r.ok()) KeepCalling(session);
  });
}

void AnswerHeartbeats(Session& s) {
  s.SetResponder(v1::Command::kHeartbeat, [](const v1::Command&, Session::Reply reply) {
    v1::Answer empty;
    empty.mutable_empty();
    reply(empty);
  });
}

// Both loops keep writing (asks and answers, 32 calls in flight each way)
// while the stream ends in each of the three ways, and the worker's reactor is
// deleted as soon as it is done: no write may reach a finished stream or a
// deleted reactor (run under ASan to see the difference), nothing may hang.
TEST(GrpcStreamTest, WritesRacingTheEndOfTheStreamAreHarmless) {
  constexpr int kChains = 32;
  for (int round = 0; round < 15; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    Harness h(AnswerHeartbeats, AnswerHeartbeats);
    h.WaitConnected();
    h.master().loop.Post([&] {
      for (int i = 0; i < kChains; ++i) KeepCalling(&h.master().session);
    });
    h.worker().loop.Post([&] {
      for (int i = 0; i < kChains; ++i) KeepCalling(&h.worker().session);
    });
    ASSERT_TRUE(h.master().got_messages.WaitFor(kWait));
    switch (round % 3) {
      case 0:
        h.worker().reactor->context()->TryCancel();
        break;
      case 1:
        h.master().loop.Post([&] { h.master().session->Close(absl::AbortedError("bye")); });
        break;
      case 2:
        h.worker().loop.Post([&] { h.worker().session->Close(absl::OkStatus()); });
        break;
    }
    ASSERT_TRUE(h.worker().done.WaitFor(kWait));
    ASSERT_TRUE(h.master().done.WaitFor(kWait));
  }
}

}  // namespace
}  // namespace ampmr::amp
