// calls_bench: what the master's call routing costs, measured side by side
// with a direct gRPC unary echo server in the same run, on the same machine.
//
//   calls_bench --serve-direct     serve the direct echo server until SIGTERM
//   calls_bench --master ADDR --only-seconds S [--concurrency C]
//               only calls through the master, C callers for S seconds (to
//               profile the relay under perf); prints calls/s
//   calls_bench --master ADDR [--direct ADDR] [--handler echo]
//               [--python-handler CMD] [--python-via-master NAME] [--calls N]
//               [--seconds S] [--concurrency C] [--payload BYTES]
//
// Each measurement alternates between the direct server and the master in
// R rounds (--rounds), so the two see the same machine.
//
// 1. latency: one caller, N sequential calls (after a warm-up), p50/p90/p99,
//    through the master (JobService.Call to `--handler`, normally
//    builtin:echo on a worker) and to a direct echo server (JobService.Call
//    answered in place: the same RPC, message and client code; in its own
//    process with --direct, as the master is, else in this one);
//    also the master alone (a handler nobody offers: NOT_FOUND at once),
//    against the direct server refusing that handler the same way;
// 2. throughput: C callers, each on its own connection, for S seconds each
//    (in R rounds of S/R seconds);
// 3. with --python-handler, the Python `serve` loop alone: one child started
//    with that command, fed sequential calls through its fd 3/4 frames;
// 4. with --python-via-master, throughput of C callers through the master to
//    that (Python echo) handler.
// Prints a markdown table.
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "ampmr/v1/job.grpc.pb.h"
#include "common/cli_flags.h"
#include "common/credentials.h"
#include "common/mutex_mode.h"
#include "common/security_flags.h"
#include "worker/handler_child.h"

namespace ampmr::bench {
namespace {

// A handler no worker offers: the master answers NOT_FOUND from its
// coordinator thread, so a call measures the master without a worker.
constexpr char kNobody[] = "calls-bench-nobody";

// JobService.Call answered in place: the floor any routing is compared with.
// A call to kNobody is refused as the master refuses it (NOT_FOUND, the
// master's message): the floor of the master answering alone.
class DirectEcho : public v1::JobService::CallbackService {
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* ctx, const v1::CallRequest* request,
                                 v1::CallResponse* response) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    if (request->handler() == kNobody) {
      reactor->Finish(grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("no connected worker offers handler \"", request->handler(), "\"")));
      return reactor;
    }
    response->set_payload(request->payload());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

std::unique_ptr<v1::JobService::Stub> Connect(const std::string& address,
                                              const ClusterCredentials& credentials) {
  grpc::ChannelArguments args;
  // A connection of its own, as separate client processes would have.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return v1::JobService::NewStub(
      grpc::CreateCustomChannel(address, credentials.ChannelCredentials(), args));
}

// One call; true if it echoed. A call to a handler nobody offers counts as
// done when it fails with NOT_FOUND.
bool CallOnce(v1::JobService::Stub* stub, const v1::CallRequest& request,
              const ClusterCredentials& credentials) {
  grpc::ClientContext ctx;
  credentials.Apply(&ctx);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::CallResponse response;
  grpc::Status s = stub->Call(&ctx, request, &response);
  if (request.handler() == kNobody) return s.error_code() == grpc::StatusCode::NOT_FOUND;
  if (!s.ok()) {
    std::cerr << "calls_bench: call failed: " << s.error_code() << " " << s.error_message() << "\n";
    return false;
  }
  return response.payload() == request.payload();
}

struct Latency {
  double p50_us = 0, p90_us = 0, p99_us = 0;
  bool ok = true;
};

double Percentile(std::vector<double>& v, double p) {
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

// One kind of call measured: where it goes and what it asks.
struct Target {
  std::string address;
  const ClusterCredentials* credentials;
  v1::CallRequest request;
};

// Sequential calls to each target in turn: `rounds` rounds of calls/rounds
// calls each (after a warm-up of each), the order reversed every other round,
// so whatever the machine does meanwhile falls on every target alike.
std::vector<Latency> MeasureLatencies(const std::vector<Target>& targets, int calls, int rounds) {
  std::vector<std::unique_ptr<v1::JobService::Stub>> stubs;
  std::vector<std::vector<double>> us(targets.size());
  std::vector<Latency> out(targets.size());
  for (size_t t = 0; t < targets.size(); ++t) {
    stubs.push_back(Connect(targets[t].address, *targets[t].credentials));
    us[t].reserve(calls);
    for (int i = 0; i < std::max(200, calls / 10) && out[t].ok; ++i) {
      out[t].ok = CallOnce(stubs[t].get(), targets[t].request, *targets[t].credentials);
    }
  }
  const int per_round = std::max(1, calls / rounds);
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < targets.size(); ++k) {
      size_t t = r % 2 == 0 ? k : targets.size() - 1 - k;
      for (int i = 0; i < per_round && out[t].ok; ++i) {
        absl::Time start = absl::Now();
        out[t].ok = CallOnce(stubs[t].get(), targets[t].request, *targets[t].credentials);
        us[t].push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
      }
    }
  }
  for (size_t t = 0; t < targets.size(); ++t) {
    if (!out[t].ok || us[t].empty()) {
      out[t].ok = false;
      continue;
    }
    out[t].p50_us = Percentile(us[t], 0.50);
    out[t].p90_us = Percentile(us[t], 0.90);
    out[t].p99_us = Percentile(us[t], 0.99);
  }
  return out;
}

// Calls per second to each target with `callers` threads, each on its own
// connection: `rounds` rounds of duration/rounds per target, alternating as
// in MeasureLatencies. -1 for a target whose call failed.
std::vector<double> MeasureThroughputs(const std::vector<Target>& targets, int callers,
                                       absl::Duration duration, int rounds) {
  std::vector<std::vector<std::unique_ptr<v1::JobService::Stub>>> stubs(targets.size());
  for (size_t t = 0; t < targets.size(); ++t) {
    for (int i = 0; i < callers; ++i) {
      stubs[t].push_back(Connect(targets[t].address, *targets[t].credentials));
      // Connected before the clock starts.
      CallOnce(stubs[t].back().get(), targets[t].request, *targets[t].credentials);
    }
  }
  std::vector<int64_t> done(targets.size(), 0);
  std::vector<double> seconds(targets.size(), 0);
  std::vector<bool> failed(targets.size(), false);
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < targets.size(); ++k) {
      size_t t = r % 2 == 0 ? k : targets.size() - 1 - k;
      if (failed[t]) continue;
      std::atomic<int64_t> n{0};
      std::atomic<bool> fail{false};
      absl::Time start = absl::Now();
      absl::Time end = start + duration / rounds;
      std::vector<std::thread> threads;
      for (int i = 0; i < callers; ++i) {
        threads.emplace_back([&, i] {
          while (absl::Now() < end && !fail) {
            if (CallOnce(stubs[t][i].get(), targets[t].request, *targets[t].credentials)) {
              ++n;
            } else {
              fail = true;
            }
          }
        });
      }
      for (auto& thread : threads) thread.join();
      done[t] += n;
      seconds[t] += absl::ToDoubleSeconds(absl::Now() - start);
      failed[t] = fail;
    }
  }
  std::vector<double> rates(targets.size());
  for (size_t t = 0; t < targets.size(); ++t) rates[t] = failed[t] ? -1 : done[t] / seconds[t];
  return rates;
}

// Calls per second through one target alone (--only-seconds, and the Python
// handler through the master).
double MeasureThroughput(const std::string& address, const v1::CallRequest& request, int callers,
                         absl::Duration duration, const ClusterCredentials& credentials) {
  return MeasureThroughputs({Target{address, &credentials, request}}, callers, duration, 1)[0];
}

// The Python serve loop alone: sequential frames to one child.
double MeasurePythonLoop(const std::string& command, const std::string& payload,
                         absl::Duration duration) {
  auto child = worker::HandlerChild::Spawn(command, {});
  if (!child.ok()) {
    std::cerr << "calls_bench: " << child.status() << "\n";
    return -1;
  }
  // The first answer also waits for the interpreter to start.
  auto first = (*child)->Call(payload, absl::Now() + absl::Seconds(60), -1, nullptr);
  if (first.end != worker::HandlerChild::End::kAnswered || !first.answer.ok()) return -1;
  int64_t n = 0;
  absl::Time start = absl::Now();
  absl::Time end = start + duration;
  while (absl::Now() < end) {
    auto ex = (*child)->Call(payload, absl::InfiniteFuture(), -1, nullptr);
    if (ex.end != worker::HandlerChild::End::kAnswered || !ex.answer.ok() ||
        *ex.answer != payload) {
      return -1;
    }
    ++n;
  }
  return n / absl::ToDoubleSeconds(absl::Now() - start);
}

int Main(int argc, char** argv) {
  std::string master, direct, handler = "echo", python_handler, python_via_master;
  bool serve_direct = false;
  int32_t calls = 5000, concurrency = 16, payload_bytes = 100, rounds = 5;
  double seconds = 5, only_seconds = 0;
  FlagSet flags("calls_bench --master ADDR [flags]",
                "Echo calls through the master vs a direct gRPC echo server.");
  flags.String("master", &master, "ADDR", "a master with a worker offering --handler");
  flags.String("direct", &direct, "ADDR", "a direct echo server (calls_bench --serve-direct)")
      .DefaultText("one in this process");
  flags.Bool("serve-direct", &serve_direct,
             "only serve the direct echo server: print its address, run until SIGTERM");
  flags.String("handler", &handler, "NAME", "an echo handler (builtin:echo) on the worker");
  flags.String("python-handler", &python_handler, "COMMAND",
               "also time this Python echo handler's serve loop alone");
  flags.String("python-via-master", &python_via_master, "NAME",
               "also measure throughput through the master to this Python echo handler");
  flags.Int32("calls", &calls, "N", "sequential calls for the latency figures");
  flags.Double("seconds", &seconds, "S", "how long each throughput run lasts");
  flags.Int32("concurrency", &concurrency, "C", "callers in the throughput runs");
  flags.Int32("rounds", &rounds, "R",
              "rounds each measurement is cut into, alternating direct and through the master");
  flags.Int32("payload", &payload_bytes, "BYTES", "request size");
  flags.Double("only-seconds", &only_seconds, "S",
               "only call through the master, --concurrency callers for S seconds (0: the "
               "whole benchmark)");
  SecurityOptions security;  // for the master; the direct server is plain
  AddSecurityFlags(&flags, &security, SecurityRole::kClient);
  absl::StatusOr<std::vector<std::string>> rest = flags.Parse(argc - 1, argv + 1);
  if (!rest.ok()) {
    std::cerr << "calls_bench: " << rest.status().message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return 0;
  }

  absl::StatusOr<std::shared_ptr<const ClusterCredentials>> loaded =
      ClusterCredentials::Load(security);
  if (!loaded.ok()) {
    std::cerr << "calls_bench: " << loaded.status().message() << "\n";
    return 2;
  }
  const ClusterCredentials& to_master = **loaded;
  const std::shared_ptr<const ClusterCredentials> none = ClusterCredentials::None();
  const ClusterCredentials& plain = *none;
  if (rounds < 1 || calls < rounds || concurrency < 1) {
    std::cerr << "calls_bench: --rounds, --calls and --concurrency must be >= 1, with --calls >= "
                 "--rounds\n";
    return 2;
  }
  if (master.empty() && !serve_direct) {
    std::cerr << "calls_bench: --master or --serve-direct is required\n";
    return 2;
  }
  std::unique_ptr<grpc::Server> server;
  DirectEcho direct_service;
  if (direct.empty() && only_seconds == 0) {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before gRPC starts threads
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&direct_service);
    server = builder.BuildAndStart();
    if (server == nullptr || port == 0) {
      std::cerr << "calls_bench: cannot start the direct echo server\n";
      return 1;
    }
    direct = absl::StrCat("127.0.0.1:", port);
    if (serve_direct) {
      std::cout << "calls_bench serving on " << direct << std::endl;
      int sig = 0;
      sigwait(&stop, &sig);
      server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
      return 0;
    }
  }

  v1::CallRequest request;
  request.set_handler(handler);
  request.set_payload(std::string(payload_bytes, 'x'));
  request.set_timeout_seconds(30);

  if (only_seconds > 0) {
    double rate =
        MeasureThroughput(master, request, concurrency, absl::Seconds(only_seconds), to_master);
    if (rate < 0) return 1;
    std::printf("%.0f calls/s through the master, %d callers\n", rate, concurrency);
    return 0;
  }
  v1::CallRequest nobody = request;
  nobody.set_handler(kNobody);
  std::vector<Latency> latency = MeasureLatencies({Target{direct, &plain, request},
                                                   Target{master, &to_master, request},
                                                   Target{direct, &plain, nobody},
                                                   Target{master, &to_master, nobody}},
                                                  calls, rounds);
  const Latency& via_direct = latency[0];
  const Latency& via_master = latency[1];
  const Latency& direct_refusal = latency[2];
  const Latency& master_only = latency[3];
  std::vector<double> tput = MeasureThroughputs(
      {Target{direct, &plain, request}, Target{master, &to_master, request}}, concurrency,
      absl::Seconds(seconds), rounds);
  const double tput_direct = tput[0];
  const double tput_master = tput[1];
  const absl::Duration d = absl::Seconds(seconds);
  if (!via_direct.ok || !via_master.ok || !direct_refusal.ok || !master_only.ok ||
      tput_direct < 0 || tput_master < 0) {
    return 1;
  }

  std::printf("| echo call, %d-byte payload | direct gRPC server | through the master | ratio |\n",
              payload_bytes);
  std::printf("|---|---:|---:|---:|\n");
  std::printf("| latency p50, 1 caller | %.0f us | %.0f us | %.2fx |\n", via_direct.p50_us,
              via_master.p50_us, via_master.p50_us / via_direct.p50_us);
  std::printf("| latency p90 | %.0f us | %.0f us | %.2fx |\n", via_direct.p90_us, via_master.p90_us,
              via_master.p90_us / via_direct.p90_us);
  std::printf("| latency p99 | %.0f us | %.0f us | %.2fx |\n", via_direct.p99_us, via_master.p99_us,
              via_master.p99_us / via_direct.p99_us);
  std::printf("| latency p50, master alone (NOT_FOUND, no worker) | | %.0f us | %.2fx |\n",
              master_only.p50_us, master_only.p50_us / via_direct.p50_us);
  std::printf("| latency p50, NOT_FOUND from each | %.0f us | %.0f us | %.2fx |\n",
              direct_refusal.p50_us, master_only.p50_us,
              master_only.p50_us / direct_refusal.p50_us);
  std::printf("| throughput, %d callers | %.0f calls/s | %.0f calls/s | %.2fx |\n", concurrency,
              tput_direct, tput_master, tput_master / tput_direct);
  if (!python_handler.empty()) {
    double py = MeasurePythonLoop(python_handler, request.payload(), d);
    if (py < 0) return 1;
    std::printf("\n| Python echo handler | calls/s |\n|---|---:|\n");
    std::printf("| `serve` loop alone, 1 child, sequential frames | %.0f |\n", py);
  }
  if (!python_via_master.empty()) {
    v1::CallRequest py_request = request;
    py_request.set_handler(python_via_master);
    double py = MeasureThroughput(master, py_request, concurrency, d, to_master);
    if (py < 0) return 1;
    std::printf("| through the master, %d callers | %.0f |\n", concurrency, py);
  }
  if (server != nullptr) {
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  return 0;
}

}  // namespace
}  // namespace ampmr::bench

int main(int argc, char** argv) {
  ampmr::UseReleaseMutexes();
  return ampmr::bench::Main(argc, argv);
}
