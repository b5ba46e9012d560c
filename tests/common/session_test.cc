#include "common/amp/session.h"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::amp {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using AnswerResult = absl::StatusOr<v1::Answer>;

// Records what the Session sends and closes, so tests can play the peer.
class FakeTransport : public Transport {
 public:
  void Send(v1::Box box) override { sent.push_back(std::move(box)); }
  void Close(const absl::Status& status) override { closes.push_back(status); }

  std::vector<v1::Box> sent;
  std::vector<absl::Status> closes;
};

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

v1::Command Hello(const std::string& host) {
  v1::Command c;
  c.mutable_hello()->set_host(host);
  return c;
}

v1::Answer Welcome(const std::string& worker_id) {
  v1::Answer a;
  a.mutable_welcome()->set_worker_id(worker_id);
  return a;
}

v1::Box CommandBox(uint64_t ask, v1::Command command) {
  v1::Box box;
  box.set_ask(ask);
  *box.mutable_command() = std::move(command);
  return box;
}

v1::Box AnswerBox(uint64_t ask, v1::Answer answer) {
  v1::Box box;
  box.set_ask(ask);
  *box.mutable_answer() = std::move(answer);
  return box;
}

v1::Box ErrorBox(uint64_t ask, int code, const std::string& description) {
  v1::Box box;
  box.set_ask(ask);
  box.mutable_error()->set_code(code);
  box.mutable_error()->set_description(description);
  return box;
}

// The result of a call, captured when it fires. Must outlive the call.
struct Outcome {
  explicit Outcome(Deferred<v1::Answer> d) {
    d.AddBoth([this](const AnswerResult& r) { result = r; });
  }
  std::optional<AnswerResult> result;
};

struct Fixture {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  Session session{transport, "worker=w1"};
};

TEST(SessionTest, CallRemoteSendsTaggedAsksWithDistinctNonZeroTags) {
  Fixture f;
  std::vector<Deferred<v1::Answer>> calls;
  for (int i = 0; i < 100; ++i) calls.push_back(f.session.CallRemote(Heartbeat(i)));

  ASSERT_THAT(f.transport->sent, SizeIs(100));
  std::set<uint64_t> tags;
  for (int i = 0; i < 100; ++i) {
    const v1::Box& box = f.transport->sent[i];
    EXPECT_NE(box.ask(), 0u);
    ASSERT_TRUE(box.has_command());
    EXPECT_EQ(Seq(box.command()), i);
    tags.insert(box.ask());
  }
  EXPECT_EQ(tags.size(), 100u);
  EXPECT_EQ(f.session.outstanding(), 100u);
  for (auto& d : calls) d.AddErrback([](const absl::Status&) {});  // they fail at teardown
}

TEST(SessionTest, AnswersOutOfOrderFireTheMatchingCalls) {
  Fixture f;
  Outcome first(f.session.CallRemote(Hello("a")));
  Outcome second(f.session.CallRemote(Hello("b")));
  uint64_t ask_a = f.transport->sent[0].ask();
  uint64_t ask_b = f.transport->sent[1].ask();

  f.session.HandleBox(AnswerBox(ask_b, Welcome("for-b")));
  EXPECT_FALSE(first.result.has_value());
  ASSERT_TRUE(second.result.has_value());
  EXPECT_EQ((*second.result)->welcome().worker_id(), "for-b");

  f.session.HandleBox(AnswerBox(ask_a, Welcome("for-a")));
  ASSERT_TRUE(first.result.has_value());
  EXPECT_EQ((*first.result)->welcome().worker_id(), "for-a");
  EXPECT_EQ(f.session.outstanding(), 0u);
}

TEST(SessionTest, TypedErrorsComeBackAsTheMatchingStatusCode) {
  Fixture f;
  Outcome not_found(f.session.CallRemote(Hello("a")));
  Outcome aborted(f.session.CallRemote(Hello("b")));
  Outcome bogus(f.session.CallRemote(Hello("c")));
  f.session.HandleBox(ErrorBox(f.transport->sent[0].ask(),
                               static_cast<int>(absl::StatusCode::kNotFound), "job=j9 not found"));
  f.session.HandleBox(ErrorBox(f.transport->sent[1].ask(),
                               static_cast<int>(absl::StatusCode::kAborted), "attempt=a2 lost"));
  f.session.HandleBox(ErrorBox(f.transport->sent[2].ask(), 999, "strange"));

  EXPECT_THAT(*not_found.result, StatusIs(absl::StatusCode::kNotFound, "job=j9 not found"));
  EXPECT_THAT(*aborted.result, StatusIs(absl::StatusCode::kAborted, "attempt=a2 lost"));
  EXPECT_THAT(*bogus.result, StatusIs(absl::StatusCode::kUnknown, HasSubstr("strange")));
}

TEST(SessionTest, ErrorProtoRoundTrips) {
  absl::Status s = absl::ResourceExhaustedError("slots full");
  v1::Error e = ToErrorProto(s);
  EXPECT_EQ(e.code(), static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(e.description(), "slots full");
  EXPECT_EQ(FromErrorProto(e), s);

  v1::Error ok_code;  // code 0 is not an error
  ok_code.set_description("odd");
  EXPECT_THAT(FromErrorProto(ok_code), StatusIs(absl::StatusCode::kUnknown, HasSubstr("odd")));
}

TEST(SessionTest, ResponderAnswerAndErrorEchoTheAsk) {
  Fixture f;
  f.session.SetResponder(v1::Command::kHello, [](const v1::Command& c, Session::Reply reply) {
    if (c.hello().host() == "bad") {
      reply(absl::FailedPreconditionError("host=bad refused"));
    } else {
      reply(Welcome("w-" + c.hello().host()));
    }
  });
  f.session.HandleBox(CommandBox(41, Hello("x")));
  f.session.HandleBox(CommandBox(42, Hello("bad")));

  ASSERT_THAT(f.transport->sent, SizeIs(2));
  EXPECT_EQ(f.transport->sent[0].ask(), 41u);
  ASSERT_TRUE(f.transport->sent[0].has_answer());
  EXPECT_EQ(f.transport->sent[0].answer().welcome().worker_id(), "w-x");
  EXPECT_EQ(f.transport->sent[1].ask(), 42u);
  ASSERT_TRUE(f.transport->sent[1].has_error());
  EXPECT_EQ(f.transport->sent[1].error().code(),
            static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(f.transport->sent[1].error().description(), "host=bad refused");
}

TEST(SessionTest, SendNoAnswerUsesAskZeroAndTheReplyToItIsNotSent) {
  Fixture f;
  f.session.SendNoAnswer(Heartbeat(5));
  ASSERT_THAT(f.transport->sent, SizeIs(1));
  EXPECT_EQ(f.transport->sent[0].ask(), 0u);
  EXPECT_EQ(Seq(f.transport->sent[0].command()), 5);
  EXPECT_EQ(f.session.outstanding(), 0u);

  int seen = 0;
  f.session.SetResponder(v1::Command::kHeartbeat, [&](const v1::Command&, Session::Reply reply) {
    ++seen;
    reply(v1::Answer());
  });
  f.transport->sent.clear();
  f.session.HandleBox(CommandBox(0, Heartbeat(1)));
  EXPECT_EQ(seen, 1);
  EXPECT_THAT(f.transport->sent, IsEmpty());
}

TEST(SessionTest, CommandWithNoKindIsAnsweredUnimplementedAndSessionStaysUp) {
  Fixture f;
  v1::Command unknown;  // KIND_NOT_SET, as a newer peer's command parses here
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddLengthDelimited(99, "future");
  f.session.HandleBox(CommandBox(7, unknown));

  ASSERT_THAT(f.transport->sent, SizeIs(1));
  EXPECT_EQ(f.transport->sent[0].ask(), 7u);
  ASSERT_TRUE(f.transport->sent[0].has_error());
  EXPECT_EQ(f.transport->sent[0].error().code(),
            static_cast<int>(absl::StatusCode::kUnimplemented));
  EXPECT_FALSE(f.session.closed());

  // Still usable both ways.
  Outcome call(f.session.CallRemote(Hello("a")));
  f.session.HandleBox(AnswerBox(f.transport->sent[1].ask(), Welcome("w1")));
  ASSERT_TRUE(call.result.has_value());
  EXPECT_THAT(*call.result, IsOk());
}

TEST(SessionTest, CommandWithoutResponderIsAnsweredUnimplementedAndSessionStaysUp) {
  Fixture f;
  int hellos = 0;
  f.session.SetResponder(v1::Command::kHello, [&](const v1::Command&, Session::Reply reply) {
    ++hellos;
    reply(Welcome("w1"));
  });
  v1::Command drain;
  drain.mutable_drain();
  f.session.HandleBox(CommandBox(3, drain));
  ASSERT_THAT(f.transport->sent, SizeIs(1));
  EXPECT_EQ(f.transport->sent[0].ask(), 3u);
  EXPECT_EQ(f.transport->sent[0].error().code(),
            static_cast<int>(absl::StatusCode::kUnimplemented));

  f.session.HandleBox(CommandBox(4, Hello("h")));
  EXPECT_EQ(hellos, 1);
  ASSERT_THAT(f.transport->sent, SizeIs(2));
  EXPECT_TRUE(f.transport->sent[1].has_answer());

  // With no answer wanted, nothing is sent back.
  f.session.HandleBox(CommandBox(0, drain));
  EXPECT_THAT(f.transport->sent, SizeIs(2));
}

TEST(SessionTest, BoxWithoutBodyIsAnsweredInvalidArgument) {
  Fixture f;
  v1::Box empty;
  empty.set_ask(12);
  f.session.HandleBox(empty);
  ASSERT_THAT(f.transport->sent, SizeIs(1));
  EXPECT_EQ(f.transport->sent[0].ask(), 12u);
  EXPECT_EQ(f.transport->sent[0].error().code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(f.session.closed());

  f.session.HandleBox(v1::Box());  // no body, no ask: dropped
  EXPECT_THAT(f.transport->sent, SizeIs(1));
}

TEST(SessionTest, AnswerToAnUnknownAskIsDropped) {
  Fixture f;
  Outcome call(f.session.CallRemote(Hello("a")));
  f.session.HandleBox(AnswerBox(f.transport->sent[0].ask() + 1000, Welcome("stray")));
  f.session.HandleBox(AnswerBox(0, Welcome("stray")));
  EXPECT_FALSE(call.result.has_value());
  EXPECT_EQ(f.session.outstanding(), 1u);
  EXPECT_THAT(f.transport->sent, SizeIs(1));
  f.session.HandleClosed(absl::UnavailableError("gone"));  // before `call` goes away
  EXPECT_TRUE(call.result.has_value());
}

TEST(SessionTest, BatchBoxIsDeliveredInOrder) {
  Fixture f;
  std::vector<std::string> order;
  f.session.SetResponder(v1::Command::kHello, [&](const v1::Command& c, Session::Reply reply) {
    order.push_back("hello " + c.hello().host());
    reply(Welcome(c.hello().host()));
  });
  Deferred<v1::Answer> call = f.session.CallRemote(Heartbeat(1));
  call.AddCallback(
      [&](const v1::Answer& a) { order.push_back("answer " + a.welcome().worker_id()); });
  uint64_t ask = f.transport->sent[0].ask();
  f.transport->sent.clear();

  v1::Box carrier;
  *carrier.add_batch() = CommandBox(100, Hello("one"));
  *carrier.add_batch() = AnswerBox(ask, Welcome("mine"));
  *carrier.add_batch() = CommandBox(101, Hello("two"));
  f.session.HandleBox(carrier);

  EXPECT_THAT(order, ElementsAre("hello one", "answer mine", "hello two"));
  ASSERT_THAT(f.transport->sent, SizeIs(2));
  EXPECT_EQ(f.transport->sent[0].ask(), 100u);
  EXPECT_EQ(f.transport->sent[1].ask(), 101u);
}

TEST(SessionTest, HandleClosedFailsEveryOutstandingCallWithUnavailable) {
  Fixture f;
  Outcome a(f.session.CallRemote(Hello("a")));
  Outcome b(f.session.CallRemote(Hello("b")));
  f.session.HandleClosed(absl::CancelledError("stream reset"));

  EXPECT_TRUE(f.session.closed());
  EXPECT_EQ(f.session.outstanding(), 0u);
  ASSERT_TRUE(a.result.has_value());
  ASSERT_TRUE(b.result.has_value());
  EXPECT_THAT(*a.result, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("worker=w1")));
  EXPECT_THAT(*b.result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(f.transport->closes, IsEmpty()) << "the peer closed; nothing to close here";
}

TEST(SessionTest, CallRemoteOnAClosedSessionFailsAtOnceAndSendsNothing) {
  Fixture f;
  f.session.HandleClosed(absl::UnavailableError("gone"));
  Outcome call(f.session.CallRemote(Hello("a")));
  ASSERT_TRUE(call.result.has_value());
  EXPECT_THAT(*call.result, StatusIs(absl::StatusCode::kUnavailable));
  f.session.SendNoAnswer(Heartbeat(1));
  EXPECT_THAT(f.transport->sent, IsEmpty());
  EXPECT_EQ(f.session.outstanding(), 0u);
}

TEST(SessionTest, BoxesAfterCloseAreIgnored) {
  Fixture f;
  int seen = 0;
  f.session.SetResponder(v1::Command::kHello, [&](const v1::Command&, Session::Reply reply) {
    ++seen;
    reply(Welcome("w"));
  });
  f.session.HandleClosed(absl::UnavailableError("gone"));
  f.session.HandleBox(CommandBox(1, Hello("late")));
  EXPECT_EQ(seen, 0);
  EXPECT_THAT(f.transport->sent, IsEmpty());
}

TEST(SessionTest, CloseClosesTheTransportAndFailsOutstandingCalls) {
  Fixture f;
  Outcome call(f.session.CallRemote(Hello("a")));
  f.session.Close(absl::AbortedError("draining"));
  ASSERT_THAT(f.transport->closes, SizeIs(1));
  EXPECT_THAT(f.transport->closes[0], StatusIs(absl::StatusCode::kAborted, "draining"));
  EXPECT_THAT(*call.result, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("draining")));
  f.session.Close(absl::AbortedError("again"));
  EXPECT_THAT(f.transport->closes, SizeIs(1));
}

TEST(SessionTest, DestroyingTheSessionFailsOutstandingCalls) {
  auto transport = std::make_shared<FakeTransport>();
  std::optional<Outcome> call;
  {
    Session session(transport, "worker=w2");
    call.emplace(session.CallRemote(Hello("a")));
  }
  ASSERT_TRUE(call->result.has_value());
  EXPECT_THAT(*call->result, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(SessionTest, CancelledCallForgetsItsAskAndALateAnswerIsDropped) {
  Fixture f;
  Deferred<v1::Answer> d = f.session.CallRemote(Hello("a"));
  Outcome outcome(d);
  uint64_t ask = f.transport->sent[0].ask();
  d.Cancel();
  ASSERT_TRUE(outcome.result.has_value());
  EXPECT_THAT(*outcome.result, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(f.session.outstanding(), 0u);

  f.session.HandleBox(AnswerBox(ask, Welcome("late")));
  EXPECT_THAT(d.result(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_FALSE(f.session.closed());
}

TEST(SessionTest, ResponderMayReplyLater) {
  Fixture f;
  std::vector<Session::Reply> held;
  f.session.SetResponder(v1::Command::kHello, [&](const v1::Command&, Session::Reply reply) {
    held.push_back(std::move(reply));
  });
  f.session.HandleBox(CommandBox(1, Hello("a")));
  f.session.HandleBox(CommandBox(2, Hello("b")));
  EXPECT_THAT(f.transport->sent, IsEmpty());

  held[1](Welcome("second"));
  held[0](absl::DeadlineExceededError("too slow"));
  ASSERT_THAT(f.transport->sent, SizeIs(2));
  EXPECT_EQ(f.transport->sent[0].ask(), 2u);
  EXPECT_EQ(f.transport->sent[0].answer().welcome().worker_id(), "second");
  EXPECT_EQ(f.transport->sent[1].ask(), 1u);
  EXPECT_EQ(f.transport->sent[1].error().code(),
            static_cast<int>(absl::StatusCode::kDeadlineExceeded));
}

TEST(SessionTest, OnlyTheFirstReplyIsSent) {
  Fixture f;
  Session::Reply held;
  f.session.SetResponder(v1::Command::kHello,
                         [&](const v1::Command&, Session::Reply reply) { held = reply; });
  f.session.HandleBox(CommandBox(1, Hello("a")));
  Session::Reply copy = held;
  held(Welcome("first"));
  copy(Welcome("second"));
  held(absl::InternalError("third"));
  ASSERT_THAT(f.transport->sent, SizeIs(1));
  EXPECT_EQ(f.transport->sent[0].answer().welcome().worker_id(), "first");
}

TEST(SessionTest, ReplyAfterTheSessionClosedOrWentAwayIsDropped) {
  auto transport = std::make_shared<FakeTransport>();
  Session::Reply after_close;
  Session::Reply after_destroy;
  {
    Session session(transport, "worker=w3");
    session.SetResponder(v1::Command::kHello, [&](const v1::Command& c, Session::Reply reply) {
      (c.hello().host() == "a" ? after_close : after_destroy) = std::move(reply);
    });
    session.HandleBox(CommandBox(1, Hello("a")));
    session.HandleBox(CommandBox(2, Hello("b")));
    session.HandleClosed(absl::UnavailableError("gone"));
    after_close(Welcome("late"));
  }
  after_destroy(Welcome("later"));
  EXPECT_THAT(transport->sent, IsEmpty());
}

TEST(SessionTest, ResponderMayReplaceItselfWhileRunning) {
  Fixture f;
  std::vector<std::string> seen;
  f.session.SetResponder(v1::Command::kHello, [&](const v1::Command& c, Session::Reply reply) {
    std::string host = c.hello().host();  // `c` outlives the swap below; captures may not
    f.session.SetResponder(v1::Command::kHello, [&](const v1::Command& c2, Session::Reply r2) {
      seen.push_back("new " + c2.hello().host());
      r2(Welcome("new"));
    });
    seen.push_back("old " + host);
    reply(Welcome("old"));
  });
  f.session.HandleBox(CommandBox(1, Hello("a")));
  f.session.HandleBox(CommandBox(2, Hello("b")));
  EXPECT_THAT(seen, ElementsAre("old a", "new b"));
}

v1::Command CallCommand(const std::string& payload) {
  v1::Command c;
  c.mutable_call()->set_handler("echo");
  c.mutable_call()->set_payload(payload);
  return c;
}

// A session whose Call commands are answered on the read thread, echoing the
// payload; `taken` lists the payloads it saw.
struct ReadThreadFixture : Fixture {
  ReadThreadFixture() {
    session.SetReadThreadResponder(v1::Command::kCall,
                                   [this](const v1::Command& c, Session::Reply reply) {
                                     taken.push_back(c.call().payload());
                                     v1::Answer answer;
                                     answer.mutable_call_done()->set_payload(c.call().payload());
                                     reply(std::move(answer));
                                   });
    session.SetResponder(v1::Command::kHeartbeat, [this](const v1::Command& c, Session::Reply r) {
      on_loop.push_back(Seq(c));
      r(v1::Answer());
    });
  }
  std::vector<std::string> taken;
  std::vector<int64_t> on_loop;
};

TEST(SessionTest, ReadThreadResponderAnswersItsCommandAndLeavesNothingToPost) {
  ReadThreadFixture f;
  v1::Box box = CommandBox(7, CallCommand("hi"));
  EXPECT_FALSE(f.session.HandleOnReadThread(&box));
  EXPECT_THAT(f.taken, ElementsAre("hi"));
  ASSERT_THAT(f.transport->sent, SizeIs(1));
  EXPECT_EQ(f.transport->sent[0].ask(), 7u);
  EXPECT_EQ(f.transport->sent[0].answer().call_done().payload(), "hi");
}

TEST(SessionTest, ReadThreadResponderTakesItsCommandsOutOfABatchAndLeavesTheRestInOrder) {
  ReadThreadFixture f;
  v1::Box batch;
  *batch.add_batch() = CommandBox(1, Heartbeat(10));
  *batch.add_batch() = CommandBox(2, CallCommand("a"));
  *batch.add_batch() = AnswerBox(3, Welcome("w1"));
  *batch.add_batch() = CommandBox(4, CallCommand("b"));
  *batch.add_batch() = CommandBox(5, Heartbeat(11));

  EXPECT_TRUE(f.session.HandleOnReadThread(&batch));
  EXPECT_THAT(f.taken, ElementsAre("a", "b"));
  ASSERT_THAT(batch.batch(), SizeIs(3));
  EXPECT_EQ(batch.batch(0).ask(), 1u);
  EXPECT_EQ(batch.batch(1).ask(), 3u);
  EXPECT_EQ(batch.batch(2).ask(), 5u);
  EXPECT_THAT(f.on_loop, IsEmpty());  // the rest waits for HandleBox, on the loop

  f.session.HandleBox(std::move(batch));
  EXPECT_THAT(f.on_loop, ElementsAre(10, 11));
  std::vector<uint64_t> answered;
  for (const v1::Box& sent : f.transport->sent) answered.push_back(sent.ask());
  EXPECT_THAT(answered, ElementsAre(2, 4, 1, 5));
}

TEST(SessionTest, WithoutReadThreadRespondersEverythingIsLeftForTheLoop) {
  Fixture f;
  f.session.SetResponder(v1::Command::kCall,
                         [](const v1::Command&, Session::Reply r) { r(v1::Answer()); });
  v1::Box box = CommandBox(3, CallCommand("x"));
  EXPECT_TRUE(f.session.HandleOnReadThread(&box));
  EXPECT_EQ(box.command().call().payload(), "x");
  EXPECT_THAT(f.transport->sent, IsEmpty());
}

TEST(SessionTest, ReadThreadResponderDoesNotRunOnAClosedSessionAndLateRepliesAreDropped) {
  ReadThreadFixture f;
  Session::Reply late;
  f.session.SetReadThreadResponder(v1::Command::kCall,
                                   [&late](const v1::Command&, Session::Reply r) { late = r; });
  v1::Box first = CommandBox(1, CallCommand("a"));
  EXPECT_FALSE(f.session.HandleOnReadThread(&first));
  ASSERT_TRUE(late);

  f.session.HandleClosed(absl::UnavailableError("stream broke"));
  late(v1::Answer());
  EXPECT_THAT(f.transport->sent, IsEmpty());

  late = nullptr;
  v1::Box second = CommandBox(2, CallCommand("b"));
  EXPECT_FALSE(f.session.HandleOnReadThread(&second));
  EXPECT_FALSE(late);
}

// What a ReadThreadAnswer saw: a CallDone's payload, or the error.
struct ReadThreadRecord {
  std::vector<absl::StatusOr<std::string>> seen;
  Session::ReadThreadAnswer Answer() {
    return [this](absl::StatusOr<v1::Answer*> answer) {
      if (!answer.ok()) {
        seen.push_back(answer.status());
      } else {
        // Taken, as the master's call router takes a call's payload.
        seen.push_back(std::move(*(*answer)->mutable_call_done()->mutable_payload()));
      }
    };
  }
};

v1::Answer CallDone(const std::string& payload) {
  v1::Answer a;
  a.mutable_call_done()->set_payload(payload);
  return a;
}

TEST(SessionTest, CallFromAnyThreadIsAnsweredOnTheReadThreadAndLeavesNothingForTheLoop) {
  Fixture f;
  ReadThreadRecord r;
  Outcome on_loop(f.session.CallRemote(Hello("a")));
  std::thread caller(
      [&] { EXPECT_TRUE(f.session.CallFromAnyThread(CallCommand("x"), r.Answer())); });
  caller.join();
  ASSERT_THAT(f.transport->sent, SizeIs(2));
  uint64_t loop_ask = f.transport->sent[0].ask();
  uint64_t ask = f.transport->sent[1].ask();
  EXPECT_NE(ask, 0u);
  EXPECT_NE(ask, loop_ask);
  EXPECT_EQ(f.transport->sent[1].command().call().payload(), "x");

  v1::Box box = AnswerBox(ask, CallDone("answer"));
  EXPECT_FALSE(f.session.HandleOnReadThread(&box));  // nothing to post
  ASSERT_THAT(r.seen, SizeIs(1));
  EXPECT_EQ(*r.seen[0], "answer");
  // An answer to a CallRemote is left for the loop, in a batch too.
  v1::Box batch;
  *batch.add_batch() = AnswerBox(loop_ask, Welcome("w1"));
  EXPECT_TRUE(f.session.HandleOnReadThread(&batch));
  EXPECT_THAT(batch.batch(), SizeIs(1));
  EXPECT_FALSE(on_loop.result.has_value());
  f.session.HandleBox(std::move(batch));
  ASSERT_TRUE(on_loop.result.has_value());
  EXPECT_EQ((*on_loop.result)->welcome().worker_id(), "w1");
  EXPECT_THAT(r.seen, SizeIs(1));
}

TEST(SessionTest, CallFromAnyThreadSeesThePeersErrorOnceAndAnswersLeftForTheLoop) {
  Fixture f;
  ReadThreadRecord r, via_loop;
  ASSERT_TRUE(f.session.CallFromAnyThread(CallCommand("x"), r.Answer()));
  ASSERT_TRUE(f.session.CallFromAnyThread(CallCommand("y"), via_loop.Answer()));
  uint64_t first = f.transport->sent[0].ask();
  uint64_t second = f.transport->sent[1].ask();
  v1::Box batch;
  *batch.add_batch() = ErrorBox(first, static_cast<int>(absl::StatusCode::kNotFound), "no node 7");
  *batch.add_batch() = AnswerBox(first, CallDone("a duplicate"));
  EXPECT_TRUE(f.session.HandleOnReadThread(&batch));
  EXPECT_THAT(batch.batch(), SizeIs(1));  // the duplicate, for the loop to drop
  ASSERT_THAT(r.seen, SizeIs(1));
  EXPECT_THAT(r.seen[0], StatusIs(absl::StatusCode::kNotFound, "no node 7"));
  f.session.HandleBox(std::move(batch));
  EXPECT_THAT(r.seen, SizeIs(1));
  // A transport that hands a box to HandleBox only: answered on the loop.
  f.session.HandleBox(AnswerBox(second, CallDone("y")));
  ASSERT_THAT(via_loop.seen, SizeIs(1));
  EXPECT_EQ(*via_loop.seen[0], "y");
}

TEST(SessionTest, CallFromAnyThreadFailsWhenTheSessionClosesAndIsRefusedAfter) {
  Fixture f;
  ReadThreadRecord open, after;
  ASSERT_TRUE(f.session.CallFromAnyThread(CallCommand("a"), open.Answer()));
  f.session.HandleClosed(absl::UnavailableError("stream broke"));
  ASSERT_THAT(open.seen, SizeIs(1));
  EXPECT_THAT(open.seen[0], StatusIs(absl::StatusCode::kUnavailable, HasSubstr("stream broke")));
  v1::Box late = AnswerBox(f.transport->sent[0].ask(), CallDone("late"));
  EXPECT_FALSE(f.session.HandleOnReadThread(&late));
  EXPECT_THAT(open.seen, SizeIs(1));
  EXPECT_FALSE(f.session.CallFromAnyThread(CallCommand("b"), after.Answer()));
  EXPECT_THAT(f.transport->sent, SizeIs(1));
  EXPECT_THAT(after.seen, IsEmpty());
}

}  // namespace
}  // namespace ampmr::amp
