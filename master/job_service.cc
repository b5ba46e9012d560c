#include "master/job_service.h"

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/amp/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/task_errors.h"
#include "master/job_validation.h"
#include "master/planner.h"

namespace ampmr::master {
namespace {

constexpr size_t kMaxRequestIdBytes = 128;

using amp::ToGrpcStatus;

struct Plan {
  v1::JobSpec spec;
  SplitPlan splits;
};

absl::Status TooManyTasks(int64_t max_tasks, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("job has more than ", max_tasks, " tasks (the master's --max-tasks): ", why));
}

// Validation and planning, on the planner thread: everything a submission can
// get wrong is refused here, before the job exists. A job over the task limit
// is refused as soon as planning passes the limit.
absl::StatusOr<Plan> ValidateAndPlan(v1::JobSpec spec, int64_t max_tasks) {
  AMPMR_RETURN_IF_ERROR(ValidateAndNormalize(&spec));
  const int64_t reduces = spec.reducer() == "none" ? 0 : spec.reduces();
  if (reduces >= max_tasks) {
    return TooManyTasks(max_tasks, absl::StrCat(reduces, " reduces"));
  }
  std::vector<std::string> inputs(spec.inputs().begin(), spec.inputs().end());
  AMPMR_ASSIGN_OR_RETURN(std::vector<std::string> files, ExpandInputs(inputs));
  Plan plan;
  absl::StatusOr<SplitPlan> splits =
      PlanSplits(files, spec.split_size(), nullptr, static_cast<size_t>(max_tasks - reduces));
  if (splits.status().code() == absl::StatusCode::kResourceExhausted) {
    return TooManyTasks(max_tasks,
                        absl::StrCat("its inputs make more than ", max_tasks - reduces,
                                     " map splits of at most ", spec.split_size(), " bytes, plus ",
                                     reduces, " reduces; use a larger --split-size"));
  }
  if (!splits.ok()) return splits.status();
  plan.splits = std::move(*splits);
  std::error_code ec;
  std::filesystem::create_directories(spec.output(), ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("output ", spec.output(), ": cannot create: ", ec.message()));
  }
  plan.spec = std::move(spec);
  return plan;
}

// Streams a job's progress. The coordinator's watcher may outlive the reactor,
// so it holds only this shared state; only the newest status is kept while a
// write is in flight (progress is a level, not a log).
class WatchStream : public std::enable_shared_from_this<WatchStream> {
 public:
  class Reactor : public grpc::ServerWriteReactor<v1::JobEvent> {
   public:
    explicit Reactor(std::shared_ptr<WatchStream> stream) : stream_(std::move(stream)) {}
    void OnWriteDone(bool ok) override { stream_->OnWriteDone(ok); }
    void OnCancel() override { stream_->OnCancel(); }
    void OnDone() override {
      stream_->OnDone();
      delete this;
    }

   private:
    std::shared_ptr<WatchStream> stream_;
  };

  WatchStream(Loop* loop, Coordinator* coordinator) : loop_(loop), coordinator_(coordinator) {}

  Reactor* Begin(const std::string& job_id, const std::string& peer) {
    reactor_ = new Reactor(shared_from_this());
    std::shared_ptr<WatchStream> self = shared_from_this();
    loop_->Post([self, job_id, peer] {
      absl::StatusOr<int64_t> id = self->coordinator_->Watch(
          job_id, [self](const v1::JobStatus& status, bool final) { self->Push(status, final); });
      if (!id.ok()) {
        self->FinishWith(ToGrpcStatus(id.status()));
        return;
      }
      AMPMR_LOG(DEBUG) << "watching job=" << job_id << " for " << peer;
      std::lock_guard<std::mutex> lock(self->mu_);
      self->watch_id_ = *id;
      if (self->cancelled_ && *id != 0)
        self->loop_->Post([self, id = *id] { self->coordinator_->Unwatch(id); });
    });
    return reactor_;
  }

  void Push(const v1::JobStatus& status, bool final) {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_ || finishing_) return;
    *pending_.mutable_status() = status;
    has_pending_ = true;
    final_ = final_ || final;
    if (!writing_) StartWriteLocked();
  }

  void OnWriteDone(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) return;  // the client went away; OnCancel/OnDone follow
    if (has_pending_) {
      StartWriteLocked();
    } else if (final_ && !finishing_) {
      finishing_ = true;
      reactor_->Finish(grpc::Status::OK);
    }
  }

  void OnCancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (watch_id_ != 0) {
      std::shared_ptr<WatchStream> self = shared_from_this();
      loop_->Post([self, id = watch_id_] { self->coordinator_->Unwatch(id); });
    }
    if (!finishing_) {
      finishing_ = true;
      reactor_->Finish(grpc::Status::CANCELLED);
    }
  }

  void OnDone() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }

  void FinishWith(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_ || finishing_) return;
    finishing_ = true;
    reactor_->Finish(status);
  }

 private:
  void StartWriteLocked() {
    in_flight_ = pending_;
    has_pending_ = false;
    writing_ = true;
    reactor_->StartWrite(&in_flight_);
  }

  Loop* const loop_;
  Coordinator* const coordinator_;
  std::mutex mu_;
  Reactor* reactor_ = nullptr;
  v1::JobEvent pending_;
  v1::JobEvent in_flight_;
  bool has_pending_ = false;
  bool writing_ = false;
  bool final_ = false;
  bool finishing_ = false;
  bool cancelled_ = false;
  bool done_ = false;
  int64_t watch_id_ = 0;
};

}  // namespace

bool JobServiceImpl::Refused(const grpc::CallbackServerContext& ctx, absl::string_view method,
                             grpc::ServerUnaryReactor* reactor) const {
  grpc::Status status = credentials_->Authenticate(ctx, method);
  if (status.ok()) return false;
  reactor->Finish(status);
  return true;
}

grpc::ServerUnaryReactor* JobServiceImpl::SubmitJob(grpc::CallbackServerContext* ctx,
                                                    const v1::SubmitJobRequest* request,
                                                    v1::SubmitJobResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Refused(*ctx, "JobService.SubmitJob", reactor)) return reactor;
  if (request->request_id().size() > kMaxRequestIdBytes) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("request_id: longer than ", kMaxRequestIdBytes, " bytes")));
    return reactor;
  }
  // A retried submit is answered with its job before it is planned again
  // (its output may be written by now); retries racing the first are
  // caught where the job is made, on the loop too.
  loop_->Post([this, reactor, response, request] {
    if (std::optional<std::string> earlier = coordinator_->JobForRequest(request->request_id())) {
      response->set_job_id(*earlier);
      reactor->Finish(grpc::Status::OK);
      return;
    }
    planner_->Post([this, reactor, response, request] {
      absl::StatusOr<Plan> plan = ValidateAndPlan(request->spec(), max_tasks_);
      if (!plan.ok()) {
        reactor->Finish(ToGrpcStatus(plan.status()));
        return;
      }
      loop_->Post([this, reactor, response, request, plan = std::move(*plan)]() mutable {
        absl::StatusOr<std::string> id = coordinator_->SubmitJob(
            std::move(plan.spec), std::move(plan.splits), request->request_id());
        if (id.ok()) response->set_job_id(*id);
        reactor->Finish(ToGrpcStatus(id.status()));
      });
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::GetJob(grpc::CallbackServerContext* ctx,
                                                 const v1::GetJobRequest* request,
                                                 v1::JobStatus* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Refused(*ctx, "JobService.GetJob", reactor)) return reactor;
  loop_->Post([this, reactor, response, id = request->job_id()] {
    absl::StatusOr<v1::JobStatus> status = coordinator_->GetJob(id);
    if (status.ok()) *response = std::move(*status);
    reactor->Finish(ToGrpcStatus(status.status()));
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::JobEvent>* JobServiceImpl::WatchJob(
    grpc::CallbackServerContext* ctx, const v1::WatchJobRequest* request) {
  if (grpc::Status refused = credentials_->Authenticate(*ctx, "JobService.WatchJob");
      !refused.ok()) {
    return new RefusedWriteReactor<v1::JobEvent>(refused);
  }
  auto stream = std::make_shared<WatchStream>(loop_, coordinator_);
  return stream->Begin(request->job_id(), ctx->peer());
}

grpc::ServerUnaryReactor* JobServiceImpl::CancelJob(grpc::CallbackServerContext* ctx,
                                                    const v1::CancelJobRequest* request,
                                                    v1::CancelJobResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Refused(*ctx, "JobService.CancelJob", reactor)) return reactor;
  loop_->Post([this, reactor, response, id = request->job_id()] {
    absl::StatusOr<v1::JobStatus> status = coordinator_->CancelJob(id);
    if (status.ok()) *response->mutable_status() = std::move(*status);
    reactor->Finish(ToGrpcStatus(status.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::ListJobs(grpc::CallbackServerContext* ctx,
                                                   const v1::ListJobsRequest* request,
                                                   v1::ListJobsResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Refused(*ctx, "JobService.ListJobs", reactor)) return reactor;
  loop_->Post([this, reactor, response, request = *request] {
    absl::StatusOr<v1::ListJobsResponse> page = coordinator_->ListJobs(request);
    if (page.ok()) *response = std::move(*page);
    reactor->Finish(ToGrpcStatus(page.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::ListWorkers(grpc::CallbackServerContext* ctx,
                                                      const v1::ListWorkersRequest* request,
                                                      v1::ListWorkersResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Refused(*ctx, "JobService.ListWorkers", reactor)) return reactor;
  loop_->Post([this, reactor, response] {
    for (auto& w : coordinator_->ListWorkers()) *response->add_workers() = std::move(w);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::Call(grpc::CallbackServerContext* ctx,
                                               const v1::CallRequest* request,
                                               v1::CallResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Refused(*ctx, "JobService.Call", reactor)) return reactor;
  // Routed from this thread, with no hop through the loop (see CallRouter).
  coordinator_->Call(*request, [ctx, reactor, response](absl::StatusOr<std::string> payload) {
    if (payload.ok()) *response->mutable_payload() = std::move(*payload);
    if (payload.status().GetPayload(kHandlerErrorPayload).has_value()) {
      ctx->AddTrailingMetadata(kErrorSourceKey, kErrorSourceHandler);
    }
    reactor->Finish(ToGrpcStatus(payload.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::ListTasks(grpc::CallbackServerContext* ctx,
                                                    const v1::ListTasksRequest* request,
                                                    v1::ListTasksResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Refused(*ctx, "JobService.ListTasks", reactor)) return reactor;
  loop_->Post([this, reactor, request, response] {
    absl::StatusOr<v1::ListTasksResponse> tasks = coordinator_->ListTasks(*request);
    if (tasks.ok()) *response = std::move(*tasks);
    reactor->Finish(ToGrpcStatus(tasks.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::GetTaskLog(grpc::CallbackServerContext* ctx,
                                                     const v1::GetTaskLogRequest* request,
                                                     v1::TaskLog* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Refused(*ctx, "JobService.GetTaskLog", reactor)) return reactor;
  loop_->Post([this, reactor, request, response] {
    coordinator_->GetTaskLog(*request, [reactor, response](absl::StatusOr<v1::TaskLog> log) {
      if (log.ok()) *response = std::move(*log);
      reactor->Finish(ToGrpcStatus(log.status()));
    });
  });
  return reactor;
}

}  // namespace ampmr::master
