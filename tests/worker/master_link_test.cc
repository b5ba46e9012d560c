// MasterLink against a real WorkerSession server on 127.0.0.1:0 (the master's
// end is a bare ServerBoxReactor and Session), and its address check.
#include "worker/master_link.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ampmr/v1/session.grpc.pb.h"
#include "common/amp/grpc_stream.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);  // only reached when broken

TEST(CheckMasterAddressTest, TakesHostColonPort) {
  for (const char* ok : {"127.0.0.1:7070", "localhost:1", "master.example:65535", "[::1]:7070",
                         "node-3_b:80"}) {
    EXPECT_THAT(CheckMasterAddress(ok), IsOk()) << ok;
  }
}

TEST(CheckMasterAddressTest, RefusesWhatIsNotHostColonPortNamingIt) {
  EXPECT_THAT(CheckMasterAddress("localhost"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--master localhost: no port (want HOST:PORT)"));
  for (const char* bad : {"host:", "host:0", "host:65536", "host:7o70", "host:+80", ":7070",
                          "[]:7070", "a b:1", "dns:///host:1", "::1:7070"}) {
    EXPECT_THAT(CheckMasterAddress(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(absl::StrCat("--master ", bad, ": "))))
        << bad;
  }
}

TEST(MasterLinkTest, CreateRefusesAMalformedAddress) {
  ThreadLoop loop;
  MasterLinkOptions options;
  options.master = "nonsense";
  auto link = MasterLink::Create(
      options, &loop, [](amp::Session*) { return amp::Deferred<std::string>(); },
      [](const absl::Status&) {});
  EXPECT_THAT(link, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nonsense")));
}

// Events seen by both ends, in order, with a way to wait for them.
class Events {
 public:
  void Add(const std::string& e) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
    cv_.notify_all();
  }
  bool WaitForCount(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(kWait), [&] { return events_.size() >= n; });
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

// The master's end: one Session per stream on its own loop. `on_hello` runs
// there when a worker's Hello arrives.
class FakeMaster : public v1::WorkerSession::CallbackService {
 public:
  FakeMaster() {
    loop.Start("master");
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    address = absl::StrCat("127.0.0.1:", port);
  }
  ~FakeMaster() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    loop.Stop();
  }

  grpc::ServerBidiReactor<v1::Box, v1::Box>* Connect(grpc::CallbackServerContext*) override {
    return new amp::ServerBoxReactor([this](std::shared_ptr<amp::BoxOutbox> outbox) {
      auto session = std::make_shared<std::unique_ptr<amp::Session>>();
      loop.Post([this, session, outbox] {
        this->outbox = outbox;
        *session = std::make_unique<amp::Session>(outbox, "worker");
        amp::Session* s = session->get();
        s->SetResponder(v1::Command::kHello, [this, s](const v1::Command&, amp::Session::Reply r) {
          v1::Answer welcome;
          welcome.mutable_welcome()->set_worker_id("w1");
          r(welcome);
          on_hello(s);
        });
      });
      amp::StreamCallbacks callbacks;
      callbacks.on_box = [this, session](v1::Box box) {
        messages.Add(absl::StrCat(box.batch_size() == 0 ? 1 : box.batch_size()));
        loop.Post([session, box = std::move(box)]() mutable { (*session)->HandleBox(std::move(box)); });
      };
      callbacks.on_done = [this, session](const absl::Status& why) {
        loop.Post([session, why] {
          (*session)->HandleClosed(why);
          session->reset();
        });
      };
      return callbacks;
    });
  }

  ThreadLoop loop;
  std::string address;
  std::function<void(amp::Session*)> on_hello = [](amp::Session*) {};
  std::shared_ptr<amp::BoxOutbox> outbox;  // the latest stream's; on the loop
  Events messages;  // each stream message from a worker: how many boxes it carried

 private:
  std::unique_ptr<grpc::Server> server_;
};

// A worker's link to `master`: each session says Hello and is welcomed.
struct Worker {
  explicit Worker(const std::string& master, Events* events,
                  std::function<void(amp::Session*)> setup = [](amp::Session*) {}) {
    loop.Start("worker");
    MasterLinkOptions options;
    options.master = master;
    options.min_backoff = absl::Milliseconds(10);
    auto created = MasterLink::Create(
        options, &loop,
        [this, events, setup](amp::Session* s) {
          events->Add(absl::StrCat("session ", ++sessions));
          setup(s);
          v1::Command hello;
          hello.mutable_hello()->set_slots(1);
          amp::Deferred<std::string> welcomed;
          s->CallRemote(hello).AddBoth([welcomed](const absl::StatusOr<v1::Answer>& a) mutable {
            if (a.ok()) {
              welcomed.Callback(a->welcome().worker_id());
            } else {
              welcomed.Errback(a.status());
            }
          });
          return welcomed;
        },
        [events](const absl::Status&) { events->Add("lost"); });
    EXPECT_THAT(created, IsOk());
    link = std::move(*created);
    link->Start();
  }
  ~Worker() {
    link->Close();
    loop.Stop();
    link.reset();
  }
  ThreadLoop loop;
  int sessions = 0;  // loop thread
  std::unique_ptr<MasterLink> link;
};

TEST(MasterLinkTest, EachConnectionGetsANewSessionAndItsEndIsToldBeforeTheNext) {
  FakeMaster master;
  Events events;
  std::atomic<int> hellos{0};
  master.on_hello = [&](amp::Session* s) {
    events.Add("hello");
    // The first session is ended by the master: the worker must dial again.
    if (++hellos == 1) s->Close(absl::UnavailableError("go away"));
  };
  Worker worker(master.address, &events);
  ASSERT_TRUE(events.WaitForCount(5)) << ::testing::PrintToString(events.Get());
  EXPECT_THAT(events.Get(), ElementsAre("session 1", "hello", "lost", "session 2", "hello"));
}

TEST(MasterLinkTest, ReadThreadRespondersAnswerOffTheLoop) {
  FakeMaster master;
  Events events;
  master.on_hello = [&](amp::Session* s) {
    v1::Command call;
    call.mutable_call()->set_payload("ping");
    s->CallRemote(call).AddBoth([&](const absl::StatusOr<v1::Answer>& a) {
      events.Add(a.ok() ? a->call_done().payload() : std::string(a.status().message()));
    });
  };
  std::mutex mu;
  std::thread::id loop_thread, responder_thread;
  Worker worker(master.address, &events, [&](amp::Session* s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      loop_thread = std::this_thread::get_id();  // sessions are handed over on the loop
    }
    s->SetReadThreadResponder(v1::Command::kCall, [&](const v1::Command& c, amp::Session::Reply r) {
      {
        std::lock_guard<std::mutex> lock(mu);
        responder_thread = std::this_thread::get_id();
      }
      v1::Answer answer;
      answer.mutable_call_done()->set_payload(c.call().payload() + " pong");
      r(answer);
    });
  });
  ASSERT_TRUE(events.WaitForCount(2)) << ::testing::PrintToString(events.Get());
  EXPECT_THAT(events.Get(), ElementsAre("session 1", "ping pong"));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_NE(responder_thread, std::thread::id());
  EXPECT_NE(responder_thread, loop_thread);
}

TEST(MasterLinkTest, WhatIsAnsweredOnTheReadThreadGoesOutAsOneMessagePerMessageIn) {
  FakeMaster master;
  Events events;
  master.on_hello = [&](amp::Session* s) {
    master.outbox->Hold();  // three calls in one stream message
    for (const char* payload : {"a", "b", "c"}) {
      v1::Command call;
      call.mutable_call()->set_payload(payload);
      s->CallRemote(call).AddBoth([&](const absl::StatusOr<v1::Answer>& a) {
        events.Add(a.ok() ? a->call_done().payload() : std::string(a.status().message()));
      });
    }
    master.outbox->Release();
  };
  Worker worker(master.address, &events, [](amp::Session* s) {
    s->SetReadThreadResponder(v1::Command::kCall, [](v1::Command c, amp::Session::Reply r) {
      v1::Answer answer;
      answer.mutable_call_done()->set_payload(c.call().payload());
      r(answer);
    });
  });
  ASSERT_TRUE(events.WaitForCount(4)) << ::testing::PrintToString(events.Get());
  EXPECT_THAT(events.Get(), ElementsAre("session 1", "a", "b", "c"));
  // The worker's Hello, then one carrier of the three answers.
  EXPECT_THAT(master.messages.Get(), ElementsAre("1", "3"));
}

}  // namespace
}  // namespace ampmr::worker
