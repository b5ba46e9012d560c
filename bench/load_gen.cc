// load_gen: many simulated workers in one process, for measuring the
// master's own cost at a cluster size this machine cannot hold as real
// worker processes. Each simulated worker is a real WorkerSession.Connect
// stream (real gRPC, the real AMP Session and Box batching) that says Hello,
// heartbeats at the interval the master asks, and answers every RunMap and
// RunReduce at once (or after --task-ms) as a worker that ran a task
// producing no records would: a MapDone with R empty partitions, and an empty
// part file at the reduce's temporary path (the master commits it). Like a
// real worker it takes a job's context once per session (Hello.job_contexts),
// of which it keeps the number of reduces.
//
//   load_gen --master ADDR [--workers N] [--slots S] [--task-ms MS]
//            [--channels C]
//
// Prints "load_gen connected N" once every session has its Welcome, then
// runs until SIGTERM/SIGINT, and prints how many attempts it answered.
// Everything runs on one loop thread; gRPC's threads only post to it.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ampmr/v1/session.grpc.pb.h"
#include "common/amp/grpc_stream.h"
#include "common/amp/session.h"
#include "common/cli_flags.h"
#include "common/loop.h"
#include "common/stop_signals.h"

namespace ampmr::bench {
namespace {

struct Options {
  std::string master = "127.0.0.1:7070";
  int32_t workers = 1000;
  int32_t slots = 2;
  int32_t task_ms = 0;
  int32_t channels = 16;
};

// One simulated worker: its stream, its session and its heartbeat timer. All
// of it on `loop` but the reactor's callbacks, which post there.
class SimulatedWorker {
 public:
  SimulatedWorker(ThreadLoop* loop, v1::WorkerSession::Stub* stub, const Options& options,
                  int index, std::atomic<int>* welcomed, std::atomic<int64_t>* answered)
      : loop_(loop), options_(options), welcomed_(welcomed), answered_(answered) {
    amp::StreamCallbacks callbacks;
    callbacks.on_box = [this](v1::Box box) {
      loop_->Post([this, box = std::move(box)]() mutable { session_->HandleBox(std::move(box)); });
    };
    callbacks.on_done = [this](const absl::Status& why) {
      loop_->Post([this, why] {
        if (!stopping_) std::cerr << "load_gen: a session ended: " << why.message() << "\n";
        session_->HandleClosed(why);
      });
    };
    reactor_ = std::make_unique<amp::ClientBoxReactor>(stub, std::move(callbacks));
    session_ = std::make_unique<amp::Session>(reactor_->outbox(), absl::StrCat("sim", index));
    session_->SetResponder(v1::Command::kRunMap,
                           [this](const v1::Command& c, amp::Session::Reply r) {
                             v1::Answer answer;
                             v1::MapDone* done = answer.mutable_map_done();
                             done->set_attempt_id(c.run_map().task().attempt_id());
                             const v1::TaskContext& task = c.run_map().task();
                             // A task without its job's context takes the job's.
                             auto it = reduces_.find(task.job_id());
                             int reduces = task.mapper().empty() && it != reduces_.end()
                                               ? it->second
                                               : task.reduces();
                             for (int i = 0; i < reduces; ++i) done->add_partitions();
                             Answer(std::move(r), std::move(answer));
                           });
    session_->SetResponder(
        v1::Command::kRunReduce, [this](const v1::Command& c, amp::Session::Reply r) {
          std::error_code ec;  // a failure shows as the commit's
          std::filesystem::create_directories(
              std::filesystem::path(c.run_reduce().temp_path()).parent_path(), ec);
          int fd = open(c.run_reduce().temp_path().c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
          if (fd >= 0) close(fd);
          v1::Answer answer;
          answer.mutable_reduce_done()->set_attempt_id(c.run_reduce().task().attempt_id());
          Answer(std::move(r), std::move(answer));
        });
    session_->SetResponder(v1::Command::kJobContext,
                           [this](const v1::Command& c, amp::Session::Reply r) {
                             reduces_[c.job_context().job_id()] =
                                 c.job_context().context().reduces();
                             r(v1::Answer());
                           });
    session_->SetResponder(v1::Command::kForgetJob,
                           [this](const v1::Command& c, amp::Session::Reply r) {
                             reduces_.erase(c.forget_job().job_id());
                             r(v1::Answer());
                           });
    for (auto kind : {v1::Command::kCancel, v1::Command::kHeartbeat, v1::Command::kDrain}) {
      session_->SetResponder(kind,
                             [](const v1::Command&, amp::Session::Reply r) { r(v1::Answer()); });
    }
    reactor_->Start();
    v1::Command hello;
    hello.mutable_hello()->set_host(absl::StrCat("sim", index));
    hello.mutable_hello()->set_shuffle_address(absl::StrCat("127.0.0.1:", 20000 + index));
    hello.mutable_hello()->set_slots(options.slots);
    hello.mutable_hello()->set_pid(getpid());
    hello.mutable_hello()->set_job_contexts(true);
    session_->CallRemote(std::move(hello))
        .AddBoth([this](const absl::StatusOr<v1::Answer>& answer) {
          if (!answer.ok() || !answer->has_welcome()) return;
          interval_ = absl::Seconds(answer->welcome().heartbeat_interval_seconds());
          ++*welcomed_;
          Heartbeat();
        });
  }

  // Ends the stream; the reactor is freed once it is done.
  void Stop() {
    stopping_ = true;
    if (timer_ != 0) loop_->CancelTimer(timer_);
    timer_ = 0;
    reactor_->context()->TryCancel();
  }
  amp::ClientBoxReactor* reactor() { return reactor_.get(); }

 private:
  void Answer(amp::Session::Reply reply, v1::Answer answer) {
    ++*answered_;
    if (options_.task_ms <= 0) {
      reply(std::move(answer));
      return;
    }
    loop_->RunAfter(absl::Milliseconds(options_.task_ms),
                    [reply = std::move(reply), answer = std::move(answer)]() mutable {
                      reply(std::move(answer));
                    });
  }
  void Heartbeat() {
    if (stopping_ || session_->closed()) return;
    v1::Command beat;
    beat.mutable_heartbeat();
    session_->SendNoAnswer(std::move(beat));
    timer_ = loop_->RunAfter(interval_, [this] { Heartbeat(); });
  }

  ThreadLoop* const loop_;
  const Options& options_;
  std::atomic<int>* const welcomed_;
  std::atomic<int64_t>* const answered_;
  std::unique_ptr<amp::ClientBoxReactor> reactor_;
  std::unique_ptr<amp::Session> session_;
  std::map<std::string, int> reduces_;  // by job, from its JobContext
  absl::Duration interval_ = absl::Seconds(1);
  Loop::TimerId timer_ = 0;
  bool stopping_ = false;
};

int Run(int argc, char** argv) {
  Options options;
  FlagSet flags("load_gen --master ADDR [--workers N] [--slots S] [--task-ms MS]",
                "Simulated workers over real gRPC that answer every task at once.");
  flags.String("master", &options.master, "ADDR", "the master's gRPC address");
  flags.Int32("workers", &options.workers, "N", "worker sessions to open");
  flags.Int32("slots", &options.slots, "S", "slots each worker announces");
  flags.Int32("task-ms", &options.task_ms, "MS", "answer each attempt after this long");
  flags.Int32("channels", &options.channels, "C", "gRPC connections the sessions share");
  if (std::optional<int> code = flags.ParseFlagsOnly("load_gen", argc, argv)) return *code;
  if (options.workers < 1 || options.slots < 1 || options.channels < 1 || options.task_ms < 0) {
    std::cerr << "load_gen: --workers, --slots and --channels must be >= 1, --task-ms >= 0\n";
    return 2;
  }
  const sigset_t stop_signals = BlockStopSignals();
  std::vector<std::unique_ptr<v1::WorkerSession::Stub>> stubs;
  for (int i = 0; i < options.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("ampmr.load_gen_channel", i);  // distinct args: a connection of its own
    args.SetMaxReceiveMessageSize(64 << 20);
    stubs.push_back(v1::WorkerSession::NewStub(
        grpc::CreateCustomChannel(options.master, grpc::InsecureChannelCredentials(), args)));
  }
  ThreadLoop loop;
  loop.Start("load_gen");
  std::atomic<int> welcomed{0};
  std::atomic<int64_t> answered{0};
  std::vector<std::unique_ptr<SimulatedWorker>> workers(options.workers);
  for (int i = 0; i < options.workers; ++i) {
    loop.Post([&, i] {
      workers[i] = std::make_unique<SimulatedWorker>(&loop, stubs[i % stubs.size()].get(), options,
                                                     i, &welcomed, &answered);
    });
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (welcomed.load() < options.workers && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (welcomed.load() < options.workers) {
    std::cerr << "load_gen: only " << welcomed.load() << " of " << options.workers
              << " sessions were welcomed within 120 s\n";
  } else {
    std::printf("load_gen connected %d\n", options.workers);
    std::fflush(stdout);
    WaitForStopSignal(stop_signals);
  }
  loop.Post([&] {
    for (auto& w : workers) {
      if (w) w->Stop();
    }
  });
  // Wait for the reactors to finish before freeing them (gRPC calls OnDone).
  absl::SleepFor(absl::Milliseconds(500));
  loop.Stop();
  std::printf("load_gen answered %lld attempts\n", static_cast<long long>(answered.load()));
  std::fflush(stdout);
  // A reactor may still be finishing on a gRPC thread: the process ends
  // without freeing them.
  std::_Exit(0);
}

}  // namespace
}  // namespace ampmr::bench

int main(int argc, char** argv) { return ampmr::bench::Run(argc, argv); }
