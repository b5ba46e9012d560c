#include "master/session_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/amp/grpc_stream.h"
#include "common/amp/session.h"
#include "common/hello_limits.h"
#include "common/log_limiter.h"
#include "common/logging.h"
#include "master/worker_link.h"

namespace ampmr::master {
namespace {

// One worker's connection. Made on the gRPC thread that accepted the stream,
// before its first read; from then on it lives on the coordinator's loop, but
// for HandleOnReadThread (gRPC's read threads) and CallFromAnyThread.
class Connection : public WorkerLink {
 public:
  Connection(Coordinator* coordinator, LogLimiter* refusals,
             std::shared_ptr<amp::BoxOutbox> outbox, std::string peer)
      : coordinator_(coordinator),
        refusals_(refusals),
        peer_(peer),
        outbox_(outbox),
        session_(std::move(outbox), "worker@" + peer) {
    session_.SetResponder(v1::Command::kHello,
                          [this](const v1::Command& c, amp::Session::Reply reply) {
                            OnHello(c.hello(), std::move(reply));
                          });
    session_.SetResponder(v1::Command::kDrain,
                          [this](const v1::Command&, amp::Session::Reply reply) {
                            if (!worker_id_.empty()) coordinator_->DrainWorker(worker_id_);
                            reply(v1::Answer());
                          });
    session_.SetResponder(v1::Command::kGetJobFiles,
                          [this](const v1::Command& c, amp::Session::Reply reply) {
                            if (worker_id_.empty()) {
                              reply(absl::FailedPreconditionError("GetJobFiles before Hello"));
                              return;
                            }
                            absl::StatusOr<v1::JobFiles> files =
                                coordinator_->JobFiles(c.get_job_files().job_id());
                            if (!files.ok()) {
                              reply(files.status());
                              return;
                            }
                            v1::Answer answer;
                            *answer.mutable_job_files() = std::move(*files);
                            reply(std::move(answer));
                          });
    session_.SetResponder(v1::Command::kHeartbeat,
                          [this](const v1::Command& c, amp::Session::Reply reply) {
                            if (!worker_id_.empty() && c.heartbeat().statuses_size() > 0) {
                              coordinator_->AttemptStatuses(c.heartbeat().statuses());
                            }
                            if (!worker_id_.empty() && c.heartbeat().fetch_failures_size() > 0) {
                              coordinator_->FetchFailures(worker_id_, c.heartbeat().fetch_failures());
                            }
                            if (!worker_id_.empty()) {
                              coordinator_->WorkerUsage(worker_id_, c.heartbeat().cpu_percent(),
                                                        c.heartbeat().rss_bytes());
                            }
                            reply(v1::Answer());
                          });
  }

  // Hands the answers in `box` to calls' ReadThreadAnswers (they go to their
  // callers, and the calls queued behind them to the worker, without waiting
  // for the loop); false if nothing is left. What that sends the worker goes
  // out as one stream message.
  bool HandleOnReadThread(v1::Box* box) {
    outbox_->Hold();
    bool left = session_.HandleOnReadThread(box);
    outbox_->Release();
    return left;
  }

  void HandleBox(v1::Box box) {
    if (!worker_id_.empty()) coordinator_->WorkerSeen(worker_id_);
    // What this box's answers make the master send the worker (the attempts
    // that refill the slots they freed) goes out as one stream message.
    outbox_->Hold();
    session_.HandleBox(std::move(box));
    outbox_->Release();
  }

  void HandleClosed(const absl::Status& why) {
    if (!worker_id_.empty()) coordinator_->RemoveWorker(worker_id_, why);
    session_.HandleClosed(why);
  }

  // WorkerLink
  amp::Deferred<v1::Answer> Call(v1::Command command) override {
    return session_.CallRemote(std::move(command));
  }
  bool CallFromAnyThread(v1::Command command, amp::Session::ReadThreadAnswer answer) override {
    return session_.CallFromAnyThread(std::move(command), std::move(answer));
  }
  void Send(v1::Command command) override { session_.SendNoAnswer(std::move(command)); }
  void Close(const absl::Status& why) override { session_.Close(why); }

 private:
  void OnHello(const v1::Hello& hello, amp::Session::Reply reply) {
    if (!worker_id_.empty()) {
      reply(absl::FailedPreconditionError("Hello sent twice on one session"));
      return;
    }
    if (absl::Status bad = CheckHello(hello); !bad.ok()) {
      // A refused worker retries: logged once a minute per host.
      int64_t skipped = 0;
      if (refusals_->Allow(peer_.substr(0, peer_.rfind(':')), &skipped)) {
        AMPMR_LOG(WARNING) << "refused a worker's Hello peer=" << peer_ << ": " << bad.message()
                           << (skipped > 0 ? absl::StrCat(" (and ", skipped, " more since)") : "");
      }
      reply(bad);
      return;
    }
    v1::Welcome welcome = coordinator_->AddWorker(hello, this, peer_);
    worker_id_ = welcome.worker_id();
    v1::Answer answer;
    *answer.mutable_welcome() = std::move(welcome);
    reply(std::move(answer));
  }

  Coordinator* const coordinator_;
  LogLimiter* const refusals_;
  const std::string peer_;
  const std::shared_ptr<amp::BoxOutbox> outbox_;
  amp::Session session_;
  std::string worker_id_;
};

}  // namespace

grpc::ServerBidiReactor<v1::Box, v1::Box>* WorkerSessionImpl::Connect(
    grpc::CallbackServerContext* ctx) {
  if (grpc::Status refused = credentials_->Authenticate(*ctx, "WorkerSession.Connect");
      !refused.ok()) {
    return new RefusedBidiReactor<v1::Box, v1::Box>(refused);
  }
  std::string peer = ctx->peer();
  Loop* loop = loop_;
  Coordinator* coordinator = coordinator_;
  LogLimiter* refusals = &hello_refusals_;
  return new amp::ServerBoxReactor([=](std::shared_ptr<amp::BoxOutbox> outbox) {
    // Destroyed on the loop, after the last box: the stream callbacks may use
    // it until on_done.
    auto holder = std::make_shared<std::unique_ptr<Connection>>(
        std::make_unique<Connection>(coordinator, refusals, outbox, peer));
    Connection* connection = holder->get();
    amp::StreamCallbacks callbacks;
    callbacks.on_box = [loop, holder, connection](v1::Box box) {
      if (!connection->HandleOnReadThread(&box)) return;
      loop->Post(
          [holder, box = std::move(box)]() mutable { (*holder)->HandleBox(std::move(box)); });
    };
    callbacks.on_done = [loop, holder](const absl::Status& why) {
      loop->Post([holder, why] {
        (*holder)->HandleClosed(why);
        holder->reset();
      });
    };
    return callbacks;
  });
}

}  // namespace ampmr::master
