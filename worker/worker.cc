#include "worker/worker.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "ampmr/v1/session.grpc.pb.h"
#include "common/amp/grpc_stream.h"
#include "common/amp/session.h"
#include "common/logging.h"
#include "common/loop.h"
#include "worker/handler_pool.h"
#include "worker/map_output_store.h"
#include "worker/shuffle_fetcher.h"
#include "worker/shuffle_service.h"
#include "worker/slot_pool.h"
#include "worker/stall_watch.h"
#include "worker/task/map_task.h"
#include "worker/task/reduce_task.h"

namespace ampmr::worker {
namespace {

namespace fs = std::filesystem;

// How long after an attempt's --task-timeout ran out the stall watch answers
// for it, if the attempt has not stopped by itself.
constexpr absl::Duration kStallGrace = absl::Seconds(5);

std::string Hostname() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace

struct Worker::Impl {
  explicit Impl(const WorkerOptions& o) : options(o), pool(o.slots) {}

  // --- constant after Start ---
  WorkerOptions options;
  bool owns_work_dir = false;
  std::string shuffle_address;
  std::unique_ptr<v1::WorkerSession::Stub> stub;

  // --- thread-safe parts ---
  SlotPool pool;
  StallWatch stalls{kStallGrace};
  MapOutputStore store;
  std::unique_ptr<ShuffleFetcher> fetcher;
  std::unique_ptr<ShuffleServiceImpl> shuffle_service;
  std::unique_ptr<grpc::Server> shuffle_server;
  std::unique_ptr<HandlerPool> handlers;  // set in Start
  ThreadLoop loop;

  // --- session loop only ---
  std::unique_ptr<amp::Session> session;
  std::unique_ptr<amp::ClientBoxReactor> reactor;  // the current stream
  std::unique_ptr<amp::ClientBoxReactor> retired;  // the last ended stream
  uint64_t generation = 0;
  std::string worker_id;
  absl::Duration backoff = absl::Milliseconds(100);
  absl::Duration heartbeat_interval = absl::Seconds(1);
  Loop::TimerId heartbeat_timer = 0;
  bool stopping = false;
  bool draining = false;  // no new attempts: the worker is about to go

  // The generation of the last stream whose reactor finished (OnDone); set
  // from gRPC threads so Shutdown can wait for the stream before freeing.
  std::mutex done_mu;
  std::condition_variable done_cv;
  uint64_t done_generation = 0;

  void Connect();
  void OnStreamDone(uint64_t gen, const absl::Status& why);
  void SendHeartbeat();
  // Queues a task attempt for a slot, or refuses it while draining; an
  // attempt dropped before it runs is answered with why.
  void SubmitAttempt(const std::string& attempt, const amp::Session::Reply& reply,
                     SlotPool::Work work);
  // On a slot thread: starts the attempt's progress clock and has `stalls`
  // watch it (the caller removes it when done): for its --task-timeout, if
  // it has one, and for its status.
  std::shared_ptr<ProgressClock> WatchStalls(const v1::TaskContext& task,
                                             const amp::Session::Reply& reply);
  void RunMap(const v1::RunMap& run, amp::Session::Reply reply);
  void RunReduce(const v1::RunReduce& run, amp::Session::Reply reply);
  void RunCall(const v1::Call& call, amp::Session::Reply reply);
  bool TakeCall(v1::Box* box, const std::shared_ptr<amp::BoxOutbox>& outbox);
};

void Worker::Impl::Connect() {
  if (stopping) return;
  retired = std::move(reactor);
  uint64_t gen = ++generation;
  amp::StreamCallbacks callbacks;
  // Set before the stream starts reading.
  auto outbox = std::make_shared<std::shared_ptr<amp::BoxOutbox>>();
  callbacks.on_box = [this, gen, outbox](v1::Box box) {
    if (TakeCall(&box, *outbox)) return;
    loop.Post([this, gen, box = std::move(box)]() mutable {
      if (gen == generation && session) session->HandleBox(std::move(box));
    });
  };
  callbacks.on_done = [this, gen](const absl::Status& why) {
    {
      std::lock_guard<std::mutex> lock(done_mu);
      done_generation = gen;
    }
    done_cv.notify_all();
    loop.Post([this, gen, why] { OnStreamDone(gen, why); });
  };
  reactor = std::make_unique<amp::ClientBoxReactor>(stub.get(), std::move(callbacks));
  *outbox = reactor->outbox();
  session = std::make_unique<amp::Session>(reactor->outbox(), "master@" + options.master);
  session->SetResponder(v1::Command::kRunMap, [this](const v1::Command& c, amp::Session::Reply r) {
    RunMap(c.run_map(), std::move(r));
  });
  session->SetResponder(v1::Command::kRunReduce,
                        [this](const v1::Command& c, amp::Session::Reply r) {
                          RunReduce(c.run_reduce(), std::move(r));
                        });
  session->SetResponder(v1::Command::kCancel, [this](const v1::Command& c, amp::Session::Reply r) {
    if (!c.cancel().attempt_id().empty()) pool.Cancel(c.cancel().attempt_id());
    if (!c.cancel().call_id().empty()) handlers->Cancel(c.cancel().call_id());
    r(v1::Answer());
  });
  session->SetResponder(v1::Command::kCall, [this](const v1::Command& c, amp::Session::Reply r) {
    RunCall(c.call(), std::move(r));
  });
  session->SetResponder(v1::Command::kForgetJob,
                        [this](const v1::Command& c, amp::Session::Reply r) {
                          store.ForgetJob(c.forget_job().job_id());
                          r(v1::Answer());
                        });
  session->SetResponder(v1::Command::kHeartbeat,
                        [](const v1::Command&, amp::Session::Reply r) { r(v1::Answer()); });
  reactor->Start();

  v1::Command hello;
  v1::Hello* h = hello.mutable_hello();
  h->set_host(Hostname());
  h->set_shuffle_address(shuffle_address);
  h->set_slots(options.slots);
  h->set_pid(getpid());
  h->set_version("ampmr/1");
  for (const std::string& name : handlers->names()) h->add_handlers(name);
  // A master that restarted reuses the accepted outputs among these.
  for (const MapOutputStore::Held& held : store.List()) {
    if (::access(held.path.c_str(), R_OK) != 0) continue;
    v1::HeldMapOutput* out = h->add_map_outputs();
    out->set_attempt_id(held.attempt_id);
    out->set_job_id(held.job_id);
    out->set_output_path(held.path);
  }
  session->CallRemote(std::move(hello))
      .AddBoth([this, gen](const absl::StatusOr<v1::Answer>& answer) {
        if (gen != generation) return;
        if (!answer.ok() || !answer->has_welcome()) {
          if (answer.ok()) {
            session->Close(absl::InternalError("master answered Hello without a Welcome"));
          }
          return;  // the stream's end schedules the reconnect
        }
        worker_id = answer->welcome().worker_id();
        backoff = absl::Milliseconds(100);
        if (answer->welcome().heartbeat_interval_seconds() > 0) {
          heartbeat_interval = absl::Seconds(answer->welcome().heartbeat_interval_seconds());
        }
        AMPMR_LOG(INFO) << "connected to master=" << options.master << " as worker=" << worker_id;
        SendHeartbeat();
      });
}

void Worker::Impl::SendHeartbeat() {
  if (heartbeat_timer != 0) loop.CancelTimer(heartbeat_timer);
  heartbeat_timer = 0;
  if (stopping || !session || session->closed()) return;
  v1::Command beat;
  beat.mutable_heartbeat()->set_running(pool.running());
  for (auto& [attempt_id, status] : stalls.Statuses()) {
    v1::AttemptStatus* s = beat.mutable_heartbeat()->add_statuses();
    s->set_attempt_id(attempt_id);
    s->set_status(std::move(status));
  }
  session->SendNoAnswer(std::move(beat));
  stalls.Check(absl::Now());
  heartbeat_timer = loop.RunAfter(heartbeat_interval, [this] { SendHeartbeat(); });
}

void Worker::Impl::OnStreamDone(uint64_t gen, const absl::Status& why) {
  if (gen != generation) return;
  if (!worker_id.empty()) {
    AMPMR_LOG(INFO) << "lost the master worker=" << worker_id << ": " << why.message();
  } else {
    AMPMR_LOG(DEBUG) << "cannot reach master=" << options.master << ": " << why.message();
  }
  worker_id.clear();
  store.ClearForgottenJobs();
  if (session) session->HandleClosed(why);
  // The master re-runs whatever this session was doing; stop wasting slots on it.
  pool.CancelAll();
  handlers->DropQueued(absl::UnavailableError("session to the master ended"));
  if (stopping) return;
  absl::Duration wait = backoff;
  backoff = std::min(backoff * 2, options.max_backoff);
  loop.RunAfter(wait, [this] { Connect(); });
}

void Worker::Impl::SubmitAttempt(const std::string& attempt, const amp::Session::Reply& reply,
                                 SlotPool::Work work) {
  if (draining) {
    reply(absl::UnavailableError(absl::StrCat("attempt=", attempt, ": worker draining")));
    return;
  }
  pool.Submit(attempt, std::move(work), [reply, attempt](const absl::Status& why) {
    reply(absl::Status(why.code(), absl::StrCat("attempt=", attempt, ": ", why.message())));
  });
}

std::shared_ptr<ProgressClock> Worker::Impl::WatchStalls(const v1::TaskContext& task,
                                                         const amp::Session::Reply& reply) {
  auto clock = std::make_shared<ProgressClock>(task.timeout_seconds());
  stalls.Add(task.attempt_id(), clock,
             [this, reply, attempt = task.attempt_id()](const absl::Status& why) {
               AMPMR_LOG(WARNING) << why.message();
               reply(why);
               pool.Cancel(attempt);
             });
  return clock;
}

void Worker::Impl::RunMap(const v1::RunMap& run, amp::Session::Reply reply) {
  SubmitAttempt(run.task().attempt_id(), reply,
                [this, run, reply](const std::atomic<bool>& cancelled) {
                  MapTaskOptions opts;
                  opts.run = run;
                  opts.work_dir = options.work_dir;
                  opts.cancelled = &cancelled;
                  opts.progress = WatchStalls(run.task(), reply);
                  absl::Cleanup unwatch = [this, &run] { stalls.Remove(run.task().attempt_id()); };
                  absl::StatusOr<v1::MapDone> done = RunMapTask(opts);
                  if (!done.ok()) {
                    reply(done.status());
                    return;
                  }
                  if (run.output_dir().empty() && !done->output_path().empty()) {
                    store.Add(run.task().attempt_id(), run.task().job_id(), done->output_path());
                  }
                  v1::Answer answer;
                  *answer.mutable_map_done() = std::move(*done);
                  reply(std::move(answer));
                });
}

void Worker::Impl::RunReduce(const v1::RunReduce& run, amp::Session::Reply reply) {
  SubmitAttempt(
      run.task().attempt_id(), reply, [this, run, reply](const std::atomic<bool>& cancelled) {
        std::vector<std::string> fetched;
        absl::StatusOr<std::vector<ReduceInput>> inputs = fetcher->Fetch(run, cancelled, &fetched);
        absl::StatusOr<v1::ReduceDone> done = absl::UnknownError("not run");
        absl::Cleanup unwatch = [this, &run] { stalls.Remove(run.task().attempt_id()); };
        if (inputs.ok()) {
          ReduceTaskOptions opts;
          opts.run = run;
          opts.inputs = std::move(*inputs);
          opts.cancelled = &cancelled;
          opts.progress = WatchStalls(run.task(), reply);  // after the fetch
          done = RunReduceTask(opts);
        } else {
          done = inputs.status();
        }
        for (const auto& path : fetched) ::unlink(path.c_str());
        if (!done.ok()) {
          reply(done.status());
          return;
        }
        v1::Answer answer;
        *answer.mutable_reduce_done() = std::move(*done);
        reply(std::move(answer));
      });
}

// Calls only queue work for the handler pool's threads (builtin:echo answers
// at once), so they are taken on the gRPC thread that read them and answered
// straight into the stream, a hop through the session loop saved; the rest of
// `box` (other commands, answers) is left for the session. True if nothing
// is left.
bool Worker::Impl::TakeCall(v1::Box* box, const std::shared_ptr<amp::BoxOutbox>& outbox) {
  auto take = [&](v1::Box& b) {
    if (b.ask() == 0 || !b.has_command() || !b.command().has_call()) return false;
    // Dropped once the stream has ended.
    RunCall(b.command().call(), amp::MakeReply(outbox, b.ask()));
    return true;
  };
  if (box->batch_size() == 0) return take(*box);
  v1::Box rest;
  for (v1::Box& inner : *box->mutable_batch()) {
    if (!take(inner)) *rest.add_batch() = std::move(inner);
  }
  *box = std::move(rest);
  return box->batch_size() == 0;
}

// Calls run on the handler pool's threads; the answer goes straight back.
void Worker::Impl::RunCall(const v1::Call& call, amp::Session::Reply reply) {
  HandlerCall hc;
  hc.handler = call.handler();
  hc.payload = call.payload();
  hc.call_id = call.call_id();
  if (call.timeout_seconds() > 0) hc.timeout = absl::Seconds(call.timeout_seconds());
  hc.idempotent = call.idempotent();
  handlers->Call(std::move(hc), [reply](absl::StatusOr<std::string> payload) {
    if (!payload.ok()) {
      reply(payload.status());
      return;
    }
    v1::Answer answer;
    *answer.mutable_call_done()->mutable_payload() = std::move(*payload);
    reply(std::move(answer));
  });
}

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Worker::~Worker() { Shutdown(); }

const std::string& Worker::shuffle_address() const { return impl_->shuffle_address; }

absl::StatusOr<std::unique_ptr<Worker>> Worker::Start(const WorkerOptions& options) {
  if (options.slots < 1) return absl::InvalidArgumentError("--slots: must be >= 1");
  auto impl = std::make_unique<Impl>(options);
  if (impl->options.work_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "ampmr-worker-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("cannot create a work dir under ", fs::temp_directory_path().string()));
    }
    impl->options.work_dir = tmpl;
    impl->owns_work_dir = true;
  } else {
    std::error_code ec;
    fs::create_directories(impl->options.work_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("--work-dir ", impl->options.work_dir, ": ", ec.message()));
    }
  }
  HandlerPoolOptions handler_options;
  handler_options.handlers = options.handlers;
  handler_options.slots = options.slots;
  handler_options.max_calls = options.handler_max_calls;
  absl::StatusOr<std::unique_ptr<HandlerPool>> handlers =
      HandlerPool::Start(std::move(handler_options));
  if (!handlers.ok()) return handlers.status();
  impl->handlers = std::move(*handlers);
  impl->fetcher = std::make_unique<ShuffleFetcher>(&impl->store, impl->options.work_dir);
  impl->shuffle_service = std::make_unique<ShuffleServiceImpl>(&impl->store);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.shuffle_listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(impl->shuffle_service.get());
  // Reducers ping during long fetches (see ShuffleFetcher); allow it.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  impl->shuffle_server = builder.BuildAndStart();
  if (impl->shuffle_server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("--shuffle-listen ", options.shuffle_listen, ": cannot listen"));
  }
  std::string host = options.advertise_host;
  if (host.empty()) {
    host = options.shuffle_listen.substr(0, options.shuffle_listen.rfind(':'));
    if (host == "0.0.0.0" || host == "[::]" || host.empty()) host = Hostname();
  }
  impl->shuffle_address = absl::StrCat(host, ":", port);

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  impl->stub = v1::WorkerSession::NewStub(
      grpc::CreateCustomChannel(options.master, grpc::InsecureChannelCredentials(), args));
  impl->loop.Start("session");
  Impl* raw = impl.get();
  impl->loop.Post([raw] { raw->Connect(); });
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

void Worker::Drain(absl::Duration grace) {
  if (impl_ == nullptr) return;
  Impl* impl = impl_.get();
  // Tell the master first, so the attempts given back below are not counted
  // against their tasks and no new ones arrive.
  auto told = std::make_shared<std::promise<void>>();
  impl->loop.Post([impl, told] {
    impl->draining = true;
    if (!impl->session || impl->session->closed() || impl->worker_id.empty()) {
      told->set_value();
      return;
    }
    v1::Command drain;
    drain.mutable_drain();
    impl->session->CallRemote(std::move(drain)).AddBoth([told](const absl::StatusOr<v1::Answer>&) {
      told->set_value();
    });
  });
  told->get_future().wait_for(std::chrono::seconds(2));
  impl->pool.DropQueued(absl::UnavailableError("worker draining"));
  AMPMR_LOG(INFO) << "draining: waiting up to " << absl::FormatDuration(grace)
                  << " for running tasks";
  absl::Time until = absl::Now() + grace;
  if (!impl->pool.WaitIdle(grace)) {
    AMPMR_LOG(WARNING) << "drain grace over; cancelling what still runs";
  }
  // The master sends no new calls either; let the ones here answer.
  if (!impl->handlers->WaitIdle(std::max(until - absl::Now(), absl::ZeroDuration()))) {
    AMPMR_LOG(WARNING) << "drain grace over; calls still running will fail";
  }
}

void Worker::Shutdown() {
  if (impl_ == nullptr) return;
  Impl* impl = impl_.get();
  // Stop reconnecting and end the session (on the loop, which runs it before
  // stopping), stop the slots, then wait for the stream's last callback.
  impl->loop.Post([impl] {
    impl->stopping = true;
    if (impl->session) impl->session->Close(absl::CancelledError("worker shutting down"));
  });
  impl->pool.Stop();
  impl->handlers->Stop();  // kills the children
  // Short: gRPC waits out the whole deadline while any reducer keeps a channel open.
  impl->shuffle_server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(250));
  impl->loop.Stop();
  if (impl->reactor) {
    impl->reactor->context()->TryCancel();
    std::unique_lock<std::mutex> lock(impl->done_mu);
    impl->done_cv.wait_for(lock, std::chrono::seconds(5),
                           [impl] { return impl->done_generation == impl->generation; });
  }
  impl->session.reset();
  if (impl->owns_work_dir) {
    std::error_code ec;
    fs::remove_all(impl->options.work_dir, ec);
  }
  impl_.reset();
}

}  // namespace ampmr::worker
