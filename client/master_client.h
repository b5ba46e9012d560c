// MasterClient: the JobService calls the command line makes, with ampmr's
// deadlines and error wording. The only client/ file that touches gRPC.
//
// Every unary call has a deadline (rpc_timeout); WatchJob has none but can be
// stopped from another thread with Interrupt(). The master's verdicts on a
// request (INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, ...) come back
// with the message unchanged, so a validation failure at SubmitJob reads
// exactly as the master wrote it; other errors are prefixed with
// "master at ADDR: ".
//
// Thread-safety: calls are made from one thread; Interrupt() may come from
// any thread (the signal thread of `ampmr run`).
#ifndef AMPMR_CLIENT_MASTER_CLIENT_H_
#define AMPMR_CLIENT_MASTER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ampmr/v1/job.grpc.pb.h"
#include "client/job_source.h"
#include "common/credentials.h"

namespace ampmr::client {

struct MasterClientOptions {
  std::string address;  // HOST:PORT
  // The cluster token to send and the CA to verify the master with (TLS).
  SecurityOptions security;
  // Connect() gives up after this long.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Deadline of each unary call (Call adds its own timeout to it).
  absl::Duration rpc_timeout = absl::Seconds(30);
};

class MasterClient final : public JobSource {
 public:
  // Creates the channel and waits until it is connected. Fails with
  // UNAVAILABLE "cannot reach master at ADDR: <why>" after connect_timeout
  // (sooner when the address cannot be resolved or parsed), or
  // INVALID_ARGUMENT for unreadable token or CA files.
  static absl::StatusOr<std::unique_ptr<MasterClient>> Connect(const MasterClientOptions& options);

  const std::string& address() const override { return options_.address; }

  // With a fresh request_id, sent again (up to 3 times in all) when it fails
  // in transit: the master makes one job however many got through.
  absl::StatusOr<std::string> SubmitJob(const v1::JobSpec& spec);
  absl::StatusOr<v1::JobStatus> GetJob(const std::string& job_id) override;
  absl::StatusOr<v1::JobStatus> CancelJob(const std::string& job_id, absl::Duration timeout);
  // Every job the master lists, following its pages of `page_size` (0: the
  // master's default).
  absl::StatusOr<v1::ListJobsResponse> ListJobs(int page_size = 0);
  absl::StatusOr<v1::ListWorkersResponse> ListWorkers();
  // A handler's own error comes back as "handler NAME: <its message>" with
  // its code, not as the master's.
  absl::StatusOr<std::string> Call(const v1::CallRequest& request);
  absl::StatusOr<v1::ListTasksResponse> ListTasks(const v1::ListTasksRequest& request);
  absl::StatusOr<v1::TaskLog> GetTaskLog(const v1::GetTaskLogRequest& request);

  // Follows the job until the master reports a final state, calling
  // `on_event` on this thread for every event, and returns the final status.
  // UNAVAILABLE "lost the master at ADDR while watching job J: ..." when the
  // stream breaks; CANCELLED after Interrupt().
  absl::StatusOr<v1::JobStatus> WatchJob(
      const std::string& job_id,
      const std::function<void(const v1::JobStatus&)>& on_event) override;

  // Cancels the calls in flight and makes every later WatchJob return
  // CANCELLED at once. Later unary calls still work (a best-effort CancelJob
  // after Ctrl-C). Thread-safe.
  void Interrupt();

 private:
  MasterClient(MasterClientOptions options, std::shared_ptr<const ClusterCredentials> credentials,
               std::shared_ptr<grpc::Channel> channel);

  // Registers `context` for Interrupt(), puts the token on it, and sets its
  // deadline unless `timeout` is infinite. For streams, false when
  // Interrupt() came first.
  bool Begin(grpc::ClientContext* context, absl::Duration timeout);
  // Unregisters `context` and converts `status`, naming the master for
  // transport failures.
  absl::Status End(grpc::ClientContext* context, const grpc::Status& status);

  // Constant after construction.
  const MasterClientOptions options_;
  const std::shared_ptr<const ClusterCredentials> credentials_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::JobService::Stub> stub_;

  std::mutex mu_;
  std::set<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_MASTER_CLIENT_H_
