#include "master/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/credentials.h"
#include "common/logging.h"
#include "master/http_status.h"
#include "master/job_service.h"
#include "master/journal.h"
#include "master/session_service.h"

namespace ampmr::master {
namespace {

// Takes gRPC's reflection plugin (which every ServerBuilder gets once it is
// linked in) off one server.
class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
                                    return plugin->name() == "proto_server_reflection";
                                  }),
                   plugins->end());
  }
};

}  // namespace

struct MasterServer::Impl {
  std::shared_ptr<const ClusterCredentials> credentials;
  ThreadLoop loop;
  ThreadLoop planner;
  std::unique_ptr<Journal> journal;  // outlives the coordinator that writes it
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<JobServiceImpl> jobs;
  std::unique_ptr<WorkerSessionImpl> sessions;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<HttpStatus> http;
  std::string address;
  bool stopped = false;
};

MasterServer::MasterServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MasterServer::~MasterServer() { Shutdown(); }

const std::string& MasterServer::address() const { return impl_->address; }

std::string MasterServer::http_address() const { return impl_->http ? impl_->http->address() : ""; }

absl::StatusOr<std::unique_ptr<MasterServer>> MasterServer::Start(const MasterOptions& options) {
  absl::StatusOr<std::shared_ptr<const ClusterCredentials>> credentials =
      ClusterCredentials::Load(options.security);
  if (!credentials.ok()) return credentials.status();
  if (absl::Status s = (*credentials)->CheckListen(options.listen, "--listen"); !s.ok()) return s;
  if (!options.http.empty()) {
    if (absl::Status s = (*credentials)->CheckListen(options.http, "--http"); !s.ok()) return s;
  }
  if (absl::Status s = CheckBindable("--listen", options.listen); !s.ok()) return s;
  if (!options.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", options.data_dir, ": ", ec.message()));
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->credentials = *std::move(credentials);
  const ClusterCredentials* creds = impl->credentials.get();
  CoordinatorOptions coordinator_options = options.coordinator;
  if (!options.data_dir.empty()) {
    absl::StatusOr<std::unique_ptr<Journal>> journal =
        Journal::Open(options.data_dir + "/journal.db");
    if (!journal.ok()) return journal.status();
    impl->journal = std::move(*journal);
    coordinator_options.journal = impl->journal.get();
  }
  impl->coordinator = std::make_unique<Coordinator>(&impl->loop, coordinator_options);
  impl->jobs =
      std::make_unique<JobServiceImpl>(&impl->loop, impl->coordinator.get(), &impl->planner, creds,
                                       options.max_tasks);
  impl->sessions = std::make_unique<WorkerSessionImpl>(&impl->loop, impl->coordinator.get(), creds);
  impl->loop.Start("coordinator");
  impl->planner.Start("planner");
  // Jobs from the journal are back before anyone can ask about them.
  std::promise<absl::Status> recovered;
  impl->loop.Post([c = impl->coordinator.get(), &recovered] {
    absl::Status status = c->Recover();
    if (status.ok()) c->Start();
    recovered.set_value(status);
  });
  absl::Status status = recovered.get_future().get();
  if (!status.ok()) {
    impl->loop.Stop();
    impl->planner.Stop();
    return status;
  }

  grpc::EnableDefaultHealthCheckService(true);
  // Generic gRPC tools (grpcurl, grpc_cli) list and call the services
  // without the .proto files, on a trusted network: gRPC's reflection
  // service cannot check the token, so with one it is not served.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (creds->has_token()) builder.SetOption(std::make_unique<WithoutReflection>());
  int port = 0;
  AddListener(&builder, options.listen, *creds, &port);
  builder.RegisterService(impl->jobs.get());
  builder.RegisterService(impl->sessions.get());
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  // Workers ping their session's connection every few seconds, data or not,
  // to notice a dead master (see worker/master_link.h); allow it.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || port == 0) {
    impl->loop.Stop();
    impl->planner.Stop();
    absl::Status why = CheckBindable("--listen", options.listen);
    return why.ok() ? absl::UnavailableError(
                          absl::StrCat("--listen ", options.listen, ": cannot listen there"))
                    : why;
  }
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  impl->address = absl::StrCat(host, ":", port);
  // Health per service name, as well as for the server as a whole ("").
  for (const char* service : {"ampmr.v1.JobService", "ampmr.v1.WorkerSession"}) {
    impl->server->GetHealthCheckService()->SetServingStatus(service, true);
  }
  if (!options.http.empty()) {
    absl::StatusOr<std::unique_ptr<HttpStatus>> http = HttpStatus::Start(
        options.http, &impl->loop, impl->coordinator.get(), &creds->authenticator());
    if (!http.ok()) {
      impl->server->Shutdown();
      impl->planner.Stop();
      impl->loop.Stop();
      return http.status();
    }
    impl->http = std::move(*http);
  }
  AMPMR_LOG(INFO) << "master listening on " << impl->address
                  << (creds->has_token() ? " (token required"
                                         : " (no token: anyone who can reach it may submit jobs")
                  << (creds->serves_tls() ? ", TLS)" : ", no TLS)");
  return std::unique_ptr<MasterServer>(new MasterServer(std::move(impl)));
}

void MasterServer::Shutdown(absl::Duration grace) {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->http) impl_->http->Stop();
  Coordinator* c = impl_->coordinator.get();
  std::promise<void> told;
  impl_->loop.Post([c, &told] {
    c->StopIntake();
    c->CloseAllWorkers(absl::UnavailableError("master shutting down"));
    told.set_value();
  });
  told.get_future().wait();
  impl_->server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
  impl_->planner.Stop();
  impl_->loop.Stop();
  impl_->server.reset();
  AMPMR_LOG(INFO) << "master stopped";
}

}  // namespace ampmr::master
