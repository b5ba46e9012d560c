// JobServiceImpl: the gRPC adapter for the client API. Each RPC becomes work on
// the coordinator's loop (or, for file-system work at submit, on the planner
// loop first), but Call, which is routed on the gRPC thread that received it
// (Coordinator::Call); handlers never block a gRPC thread.
#ifndef AMPMR_MASTER_JOB_SERVICE_H_
#define AMPMR_MASTER_JOB_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "ampmr/v1/job.grpc.pb.h"
#include "common/credentials.h"
#include "common/loop.h"
#include "master/coordinator.h"

namespace ampmr::master {

class JobServiceImpl : public v1::JobService::CallbackService {
 public:
  // `loop` runs `coordinator`; `planner` runs validation and planning, which
  // read the file system. Every call is first Authenticate()d by
  // `credentials`, which must outlive this. A job that would have more than
  // `max_tasks` tasks (maps and reduces) is refused.
  JobServiceImpl(Loop* loop, Coordinator* coordinator, Loop* planner,
                 const ClusterCredentials* credentials, int64_t max_tasks)
      : loop_(loop),
        coordinator_(coordinator),
        planner_(planner),
        credentials_(credentials),
        max_tasks_(max_tasks) {}

  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* ctx,
                                      const v1::SubmitJobRequest* request,
                                      v1::SubmitJobResponse* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* ctx,
                                   const v1::GetJobRequest* request,
                                   v1::JobStatus* response) override;
  grpc::ServerWriteReactor<v1::JobEvent>* WatchJob(grpc::CallbackServerContext* ctx,
                                                   const v1::WatchJobRequest* request) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* ctx,
                                      const v1::CancelJobRequest* request,
                                      v1::CancelJobResponse* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* ctx,
                                     const v1::ListJobsRequest* request,
                                     v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* ctx,
                                        const v1::ListWorkersRequest* request,
                                        v1::ListWorkersResponse* response) override;
  // Routes to a worker's handler; the default timeout is the coordinator's (30 s).
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* ctx, const v1::CallRequest* request,
                                 v1::CallResponse* response) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* ctx,
                                      const v1::ListTasksRequest* request,
                                      v1::ListTasksResponse* response) override;
  // Fetched from the attempt's worker through its session.
  grpc::ServerUnaryReactor* GetTaskLog(grpc::CallbackServerContext* ctx,
                                       const v1::GetTaskLogRequest* request,
                                       v1::TaskLog* response) override;

 private:
  // Authenticates the call; when refused, finishes `reactor` with why.
  bool Refused(const grpc::CallbackServerContext& ctx, absl::string_view method,
               grpc::ServerUnaryReactor* reactor) const;

  Loop* const loop_;
  Coordinator* const coordinator_;
  Loop* const planner_;
  const ClusterCredentials* const credentials_;
  const int64_t max_tasks_;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_JOB_SERVICE_H_
