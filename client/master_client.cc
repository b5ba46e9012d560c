#include "client/master_client.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/exit_status.h"
#include "client/job_report.h"
#include "common/amp/grpc_status.h"
#include "common/auth.h"
#include "common/task_errors.h"
#include "common/status_macros.h"

namespace ampmr::client {
namespace {

// Reconnect quickly while Connect() waits, so a master that comes up a
// moment after the client is found within the connect timeout.
constexpr int kReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 1000;
// `ampmr jobs` on a busy master returns many JobStatus messages.
constexpr int kMaxReceiveBytes = 64 << 20;
// A submit that failed in transit (deadline, lost connection) is sent again
// this many times in all.
constexpr int kSubmitAttempts = 3;
// Calls with no timeout of their own (CallRequest.timeout_seconds == 0).
constexpr absl::Duration kDefaultCallTimeout = absl::Seconds(30);

bool IsTransportFailure(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MasterClient>> MasterClient::Connect(
    const MasterClientOptions& options) {
  AMPMR_ASSIGN_OR_RETURN(std::shared_ptr<const ClusterCredentials> credentials,
                         ClusterCredentials::Load(options.security));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.address, credentials->ChannelCredentials(), args);
  std::unique_ptr<MasterClient> client(new MasterClient(options, credentials, channel));

  const auto deadline = absl::ToChronoTime(absl::Now() + options.connect_timeout);
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY && channel->WaitForStateChange(state, deadline)) {
    state = channel->GetState(/*try_to_connect=*/true);
  }
  if (state == GRPC_CHANNEL_READY) return client;

  // Not connected in time. One call that does not wait for the connection
  // fails at once with gRPC's own account of why (connection refused, DNS
  // failure, ...); should it get through after all, the master is there.
  grpc::ClientContext probe;
  client->credentials_->Apply(&probe);
  probe.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  v1::GetJobRequest request;
  v1::JobStatus response;
  const grpc::Status status = client->stub_->GetJob(&probe, request, &response);
  if (!IsTransportFailure(amp::FromGrpcStatus(status).code())) return client;
  std::string why = status.error_message();
  if (why.empty() || status.error_code() == grpc::DEADLINE_EXCEEDED) {
    why = absl::StrCat("no connection within ", absl::FormatDuration(options.connect_timeout));
  }
  return absl::UnavailableError(absl::StrCat("cannot reach master at ", options.address, ": ",
                                             credentials->ExplainConnectFailure(why)));
}

MasterClient::MasterClient(MasterClientOptions options,
                           std::shared_ptr<const ClusterCredentials> credentials,
                           std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      credentials_(std::move(credentials)),
      channel_(std::move(channel)),
      stub_(v1::JobService::NewStub(channel_)) {}

bool MasterClient::Begin(grpc::ClientContext* context, absl::Duration timeout) {
  credentials_->Apply(context);
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.insert(context);
  return !interrupted_;
}

absl::Status MasterClient::End(grpc::ClientContext* context, const grpc::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(context);
  }
  absl::Status result = amp::FromGrpcStatus(status);
  // The master's verdicts on the request are printed exactly as it wrote
  // them; anything else (transport trouble, a server that is no ampmr
  // master, an internal error) says which master it was.
  if (result.ok() || result.code() == absl::StatusCode::kCancelled ||
      ExitCodeFor(result) == kExitUsage) {
    return result;
  }
  return Annotate(result, absl::StrCat("master at ", options_.address));
}

void MasterClient::Interrupt() {
  std::lock_guard<std::mutex> lock(mu_);
  interrupted_ = true;
  for (grpc::ClientContext* context : in_flight_) context->TryCancel();
}

absl::StatusOr<std::string> MasterClient::SubmitJob(const v1::JobSpec& spec) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  // Retries carry the same id, so the master makes one job however many of
  // them got through.
  AMPMR_ASSIGN_OR_RETURN(std::string request_id, MakeToken());
  request.set_request_id(request_id.substr(0, 32));
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    Begin(&context, options_.rpc_timeout);
    v1::SubmitJobResponse response;
    absl::Status status = End(&context, stub_->SubmitJob(&context, request, &response));
    if (status.ok()) return response.job_id();
    if (!IsTransportFailure(status.code()) || attempt == kSubmitAttempts) return status;
  }
}

absl::StatusOr<v1::JobStatus> MasterClient::GetJob(const std::string& job_id) {
  grpc::ClientContext context;
  Begin(&context, options_.rpc_timeout);
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  v1::JobStatus response;
  AMPMR_RETURN_IF_ERROR(End(&context, stub_->GetJob(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::JobStatus> MasterClient::CancelJob(const std::string& job_id,
                                                      absl::Duration timeout) {
  grpc::ClientContext context;
  Begin(&context, timeout);
  v1::CancelJobRequest request;
  request.set_job_id(job_id);
  v1::CancelJobResponse response;
  AMPMR_RETURN_IF_ERROR(End(&context, stub_->CancelJob(&context, request, &response)));
  return response.status();
}

absl::StatusOr<v1::ListJobsResponse> MasterClient::ListJobs(int page_size) {
  v1::ListJobsRequest request;
  request.set_page_size(page_size);
  v1::ListJobsResponse all;
  do {
    grpc::ClientContext context;
    Begin(&context, options_.rpc_timeout);
    v1::ListJobsResponse page;
    AMPMR_RETURN_IF_ERROR(End(&context, stub_->ListJobs(&context, request, &page)));
    for (v1::JobStatus& job : *page.mutable_jobs()) *all.add_jobs() = std::move(job);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return all;
}

absl::StatusOr<v1::ListWorkersResponse> MasterClient::ListWorkers() {
  grpc::ClientContext context;
  Begin(&context, options_.rpc_timeout);
  v1::ListWorkersResponse response;
  AMPMR_RETURN_IF_ERROR(
      End(&context, stub_->ListWorkers(&context, v1::ListWorkersRequest(), &response)));
  return response;
}

absl::StatusOr<std::string> MasterClient::Call(const v1::CallRequest& request) {
  // The master enforces the call's timeout (queueing included); the deadline
  // here only guards against a master that never answers.
  const absl::Duration timeout = request.timeout_seconds() > 0
                                     ? absl::Seconds(request.timeout_seconds())
                                     : kDefaultCallTimeout;
  grpc::ClientContext context;
  Begin(&context, timeout + options_.rpc_timeout);
  v1::CallResponse response;
  const grpc::Status status = stub_->Call(&context, request, &response);
  const auto& trailers = context.GetServerTrailingMetadata();
  auto source = trailers.find(kErrorSourceKey);
  if (!status.ok() && source != trailers.end() && source->second == kErrorSourceHandler) {
    (void)End(&context, grpc::Status::OK);
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("handler ", request.handler(), ": ", status.error_message()));
  }
  AMPMR_RETURN_IF_ERROR(End(&context, status));
  return response.payload();
}

absl::StatusOr<v1::ListTasksResponse> MasterClient::ListTasks(
    const v1::ListTasksRequest& request) {
  grpc::ClientContext context;
  Begin(&context, options_.rpc_timeout);
  v1::ListTasksResponse response;
  AMPMR_RETURN_IF_ERROR(End(&context, stub_->ListTasks(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::TaskLog> MasterClient::GetTaskLog(const v1::GetTaskLogRequest& request) {
  grpc::ClientContext context;
  Begin(&context, options_.rpc_timeout);
  v1::TaskLog response;
  AMPMR_RETURN_IF_ERROR(End(&context, stub_->GetTaskLog(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::JobStatus> MasterClient::WatchJob(
    const std::string& job_id, const std::function<void(const v1::JobStatus&)>& on_event) {
  grpc::ClientContext context;
  if (!Begin(&context, absl::InfiniteDuration())) {
    (void)End(&context, grpc::Status::CANCELLED);
    return absl::CancelledError("interrupted");
  }
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader = stub_->WatchJob(&context, request);
  v1::JobEvent event;
  v1::JobStatus last;
  bool have_final = false;
  while (reader->Read(&event)) {
    on_event(event.status());
    last = event.status();
    have_final = IsFinal(last.state());
  }
  const grpc::Status status = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(&context);
    if (interrupted_ && !have_final) return absl::CancelledError("interrupted");
  }
  if (have_final) return last;
  if (status.ok()) {
    return absl::UnavailableError(absl::StrCat("the master at ", options_.address,
                                               " ended the watch of job ", job_id,
                                               " before the job ended"));
  }
  if (status.error_code() == grpc::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat("lost the master at ", options_.address,
                                               " while watching job ", job_id, ": ",
                                               status.error_message()));
  }
  return amp::FromGrpcStatus(status);
}

}  // namespace ampmr::client
