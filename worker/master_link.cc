#include "worker/master_link.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ampmr/v1/session.grpc.pb.h"
#include "common/amp/grpc_stream.h"
#include "common/logging.h"

namespace ampmr::worker {
namespace {

// A failed attempt that fails like the one before is logged at most this often.
constexpr absl::Duration kRepeatedFailureLogPeriod = absl::Seconds(30);

}  // namespace

absl::Status CheckMasterAddress(absl::string_view address) {
  auto bad = [address](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--master ", address, ": ", why, " (want HOST:PORT)"));
  };
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return bad("no port");
  absl::string_view host = address.substr(0, colon);
  absl::string_view port = address.substr(colon + 1);
  int port_number = 0;
  if (port.empty() || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return bad("the port is not a number from 1 to 65535");
  }
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  if (host.empty()) return bad("no host");
  for (char c : host) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '_' && c != ':') {
      return bad(absl::StrCat("the host has a '", std::string(1, c), "'"));
    }
  }
  if (!bracketed && host.find(':') != absl::string_view::npos) {
    return bad("an IPv6 host needs brackets");
  }
  return absl::OkStatus();
}

// One WorkerSession.Connect stream and the session on it. Created and
// destroyed on the loop; destroyed only after the reactor finished, so its
// gRPC-thread callbacks may use it.
struct MasterLink::Stream {
  std::unique_ptr<v1::WorkerSession::Stub> stub;
  std::unique_ptr<amp::ClientBoxReactor> reactor;
  std::unique_ptr<amp::Session> session;
  std::string worker_id;  // set once welcomed
};

absl::StatusOr<std::unique_ptr<MasterLink>> MasterLink::Create(const MasterLinkOptions& options,
                                                               Loop* loop, OnSession on_session,
                                                               OnLost on_lost) {
  if (absl::Status s = CheckMasterAddress(options.master); !s.ok()) return s;
  MasterLinkOptions with_credentials = options;
  if (with_credentials.credentials == nullptr) {
    with_credentials.credentials = ClusterCredentials::None();
  }
  return std::unique_ptr<MasterLink>(
      new MasterLink(with_credentials, loop, std::move(on_session), std::move(on_lost)));
}

MasterLink::MasterLink(const MasterLinkOptions& options, Loop* loop, OnSession on_session,
                       OnLost on_lost)
    : options_(options),
      loop_(loop),
      on_session_(std::move(on_session)),
      on_lost_(std::move(on_lost)),
      backoff_(options.min_backoff) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // The master's server allows these pings (see master/server.cc).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, absl::ToInt64Milliseconds(options.keepalive_time));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, absl::ToInt64Milliseconds(options.keepalive_timeout));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  channel_ = grpc::CreateCustomChannel(options.master,
                                       options_.credentials->ChannelCredentials(), args);
}

MasterLink::~MasterLink() {
  // The loop no longer runs: this thread is the only one touching the state.
  stopping_ = true;
  if (stream_ == nullptr) return;
  stream_->reactor->context()->TryCancel();
  {
    std::unique_lock<std::mutex> lock(mu_);
    streams_done_.wait_for(lock, std::chrono::seconds(5), [this] { return open_streams_ == 0; });
  }
  OnStreamDone(stream_.get(), absl::CancelledError("worker shutting down"));
}

void MasterLink::Start() {
  loop_->Post([this] { Connect(); });
}

void MasterLink::Close() {
  loop_->Post([this] {
    stopping_ = true;
    if (stream_ != nullptr) stream_->session->Close(absl::CancelledError("worker shutting down"));
  });
}

std::string MasterLink::local_address() const {
  std::lock_guard<std::mutex> lock(mu_);
  return local_address_;
}

void MasterLink::Connect() {
  if (stopping_ || stream_ != nullptr) return;
  stream_ = std::make_unique<Stream>();
  Stream* stream = stream_.get();
  stream->stub = v1::WorkerSession::NewStub(channel_);
  amp::StreamCallbacks callbacks;
  // The stream is destroyed on the loop after on_done posted its end, which
  // comes after every on_box: `stream` outlives these.
  callbacks.on_box = [this, stream](v1::Box box) {
    // What is answered right here (builtin:echo calls) goes out as one stream
    // message for the whole box, not one for the first answer and one for the
    // rest: every message costs a write, a wake-up of the master, and a TLS
    // record with TLS.
    amp::BoxOutbox* outbox = stream->reactor->outbox().get();
    outbox->Hold();
    bool rest = stream->session->HandleOnReadThread(&box);
    outbox->Release();
    if (!rest) return;
    loop_->Post([stream, box = std::move(box)]() mutable {
      stream->session->HandleBox(std::move(box));
    });
  };
  callbacks.on_done = [this, stream](const absl::Status& why) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --open_streams_;
    }
    streams_done_.notify_all();
    loop_->Post([this, stream, why] { OnStreamDone(stream, why); });
  };
  const ClusterCredentials* credentials = options_.credentials.get();
  stream->reactor = std::make_unique<amp::ClientBoxReactor>(
      stream->stub.get(), std::move(callbacks),
      [credentials](grpc::ClientContext* context) { credentials->Apply(context); });
  stream->session =
      std::make_unique<amp::Session>(stream->reactor->outbox(), "master@" + options_.master);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++open_streams_;
  }
  on_session_(stream->session.get())
      .AddBoth([this, stream](const absl::StatusOr<std::string>& worker_id) {
        if (worker_id.ok() && stream == stream_.get()) OnWelcomed(stream, *worker_id);
      });
  stream->reactor->Start();
}

void MasterLink::OnWelcomed(Stream* stream, const std::string& worker_id) {
  stream->worker_id = worker_id;
  backoff_ = options_.min_backoff;
  last_failure_.clear();
  failures_not_logged_ = 0;
  AMPMR_LOG(INFO) << "connected to master=" << options_.master << " as worker=" << worker_id;
}

void MasterLink::OnStreamDone(Stream* stream, const absl::Status& why) {
  if (stream != stream_.get()) return;
  stream->session->HandleClosed(why);
  on_lost_(why);
  std::unique_ptr<Stream> ended = std::move(stream_);
  if (stopping_) return;
  if (!ended->worker_id.empty()) {
    AMPMR_LOG(INFO) << "lost the master worker=" << ended->worker_id << ": " << why.message();
  }
  absl::Duration wait = backoff_;
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  if (ended->worker_id.empty()) LogFailedAttempt(why, wait);
  loop_->RunAfter(wait, [this] { Connect(); });
}

void MasterLink::LogFailedAttempt(const absl::Status& why, absl::Duration retry_in) {
  const absl::Time now = loop_->Now();
  std::string reason = why.code() == absl::StatusCode::kUnauthenticated
                           ? absl::StrCat("the master refused this worker's token (",
                                          why.message(), "); give the cluster's --token-file")
                           : options_.credentials->ExplainConnectFailure(why.message());
  if (reason == last_failure_ && now - last_failure_logged_ < kRepeatedFailureLogPeriod) {
    ++failures_not_logged_;
    return;
  }
  std::string repeats;
  if (failures_not_logged_ > 0) {
    repeats = absl::StrCat(" (and ", failures_not_logged_, " times more since the last line)");
  }
  AMPMR_LOG(WARNING) << "cannot reach master=" << options_.master << ": " << reason << repeats
                     << "; retrying in " << absl::FormatDuration(retry_in);
  last_failure_ = std::move(reason);
  last_failure_logged_ = now;
  failures_not_logged_ = 0;
}

}  // namespace ampmr::worker
