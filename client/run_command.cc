// `ampmr run`: one job on an embedded local cluster.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/exit_status.h"
#include "client/follow_job.h"
#include "client/local_cluster.h"
#include "client/master_client.h"
#include "client/signal_watcher.h"
#include "common/status_macros.h"

namespace ampmr::client {
namespace {

// Best-effort CancelJob after Ctrl-C: the cluster goes away regardless.
constexpr absl::Duration kCancelTimeout = absl::Seconds(2);

// What the signal thread and the main thread share while `run` runs. The
// signal thread learns here whom to interrupt and whom to reap; the main
// thread learns why the cluster can no longer finish the job.
class RunState {
 public:
  void SetCluster(LocalCluster* cluster) {
    std::lock_guard<std::mutex> lock(mu_);
    cluster_ = cluster;
  }
  void SetClient(MasterClient* client) {
    std::lock_guard<std::mutex> lock(mu_);
    client_ = client;
    if (!cluster_failure_.empty() || interrupts_ > 0) client_->Interrupt();
  }
  // From now on children exit because we stop them: not a failure.
  void BeginStopping() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  // Before the client is destroyed.
  void DetachClient() {
    std::lock_guard<std::mutex> lock(mu_);
    client_ = nullptr;
  }
  // Before the cluster and client are destroyed.
  void Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    cluster_ = nullptr;
    client_ = nullptr;
  }
  std::string cluster_failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return cluster_failure_;
  }

  // On the SignalWatcher thread.
  void OnSignal(int signo);

  // Looks for children that exited before SetCluster() (their SIGCHLD found
  // no cluster to reap).
  void CheckChildren() {
    std::lock_guard<std::mutex> lock(mu_);
    OnChildExitLocked();
  }

 private:
  void OnChildExitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::mutex mu_;
  LocalCluster* cluster_ ABSL_GUARDED_BY(mu_) = nullptr;
  MasterClient* client_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int interrupts_ ABSL_GUARDED_BY(mu_) = 0;
  std::string cluster_failure_ ABSL_GUARDED_BY(mu_);
};

void RunState::OnSignal(int signo) {
  std::lock_guard<std::mutex> lock(mu_);
  if (signo == SIGCHLD) {
    OnChildExitLocked();
    return;
  }
  if (++interrupts_ == 1) {
    // The main thread notices SignalWatcher::interrupted() once the call it
    // is blocked in returns, then cancels the job and stops the cluster.
    if (client_ != nullptr) client_->Interrupt();
    return;
  }
  // Asked again: the user will not wait for an orderly stop.
  if (cluster_ != nullptr) cluster_->Kill();
  static const char kMessage[] = "\nampmr: interrupted again; killed the local cluster\n";
  ssize_t ignored = write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  (void)ignored;
  _exit(ExitCodeForSignal(signo));
}

void RunState::OnChildExitLocked() {
  if (cluster_ == nullptr || stopping_) return;
  for (const ChildExit& exit : cluster_->ReapExited()) {
    std::string failure;
    if (exit.is_master) {
      failure = absl::StrCat(exit.name, " ", exit.description, " while the job was running");
    } else if (cluster_->workers_running() == 0) {
      failure = absl::StrCat("every ampmr-worker exited (the last, ", exit.name, ", ",
                             exit.description, ")");
    }
    // A single worker that dies is the master's business: it retries the
    // worker's tasks on the others.
    if (failure.empty() || !cluster_failure_.empty()) continue;
    if (!exit.log_tail.empty()) {
      absl::StrAppend(&failure, "; its log ends with:\n", exit.log_tail);
    }
    cluster_failure_ = failure;
  }
  if (!cluster_failure_.empty() && client_ != nullptr) client_->Interrupt();
}

// One `ampmr run`. Members are destroyed client first, then the cluster
// (which stops the children), then the signal watcher.
class LocalRun {
 public:
  explicit LocalRun(const RunOptions& options) : options_(options) {}
  ~LocalRun() { state_.Detach(); }

  int Run();

 private:
  int Interrupted(const std::string& job_id);
  int ClusterFailed(const absl::Status& status);
  void StopCluster();

  const RunOptions& options_;
  RunState state_;
  std::unique_ptr<SignalWatcher> watcher_;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<MasterClient> client_;
};

int LocalRun::Run() {
  // Phases: check the flags (nothing started yet); watch signals, before any
  // thread exists; start the master and the workers; connect and submit;
  // follow the job to its end; report; stop the cluster. From the moment a
  // child exists, every way out goes through StopCluster() (or, if all else
  // fails, PR_SET_PDEATHSIG).
  absl::StatusOr<std::string> cwd = CurrentDir();
  if (!cwd.ok()) return ReportError(cwd.status());
  absl::StatusOr<v1::JobSpec> spec = BuildJobSpec(options_.job, *cwd);
  if (!spec.ok()) return ReportError(spec.status());
  absl::Status workers_ok = CheckLocalWorkers(options_.workers);
  if (!workers_ok.ok()) return ReportError(workers_ok);
  absl::StatusOr<std::string> bin_dir = OwnExecutableDir();
  if (!bin_dir.ok()) return ReportError(bin_dir.status());

  absl::StatusOr<std::unique_ptr<SignalWatcher>> watcher =
      SignalWatcher::Start([this](int signo) { state_.OnSignal(signo); });
  if (!watcher.ok()) return ReportError(watcher.status());
  watcher_ = *std::move(watcher);

  LocalClusterOptions cluster_options;
  cluster_options.bin_dir = *bin_dir;
  cluster_options.workers = options_.workers;
  cluster_options.wake_fd = watcher_->wake_fd();
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(cluster_options);
  if (!cluster.ok()) {
    if (watcher_->interrupted() != 0) return Interrupted("");
    std::cerr << FormatError(Annotate(cluster.status(), "cannot start the local cluster"));
    return kExitFailure;
  }
  cluster_ = *std::move(cluster);
  state_.SetCluster(cluster_.get());
  state_.CheckChildren();

  MasterClientOptions client_options;
  client_options.address = cluster_->master_address();
  client_options.security.token_file = cluster_->token_file();
  absl::StatusOr<std::unique_ptr<MasterClient>> client = MasterClient::Connect(client_options);
  if (watcher_->interrupted() != 0) return Interrupted("");
  if (!client.ok()) return ClusterFailed(client.status());
  client_ = *std::move(client);
  state_.SetClient(client_.get());

  absl::StatusOr<std::string> job_id = client_->SubmitJob(*spec);
  if (watcher_->interrupted() != 0) return Interrupted(job_id.value_or(""));
  if (!job_id.ok()) {
    if (ExitCodeFor(job_id.status()) != kExitUsage) {
      return ClusterFailed(job_id.status());
    }
    StopCluster();
    return ReportError(job_id.status());  // the master's validation: exit 2
  }

  // The master is our child: if it goes away, the cluster failed, and
  // waiting for it to come back would only delay saying so.
  ReconnectOptions no_reconnect;
  no_reconnect.timeout = absl::ZeroDuration();
  absl::StatusOr<v1::JobStatus> final_status = FollowJob(*client_, *job_id, *spec, no_reconnect);
  if (watcher_->interrupted() != 0) return Interrupted(*job_id);
  if (!final_status.ok()) return ClusterFailed(final_status.status());
  const int exit_code = ReportFinishedJob(*final_status);
  StopCluster();
  return exit_code;
}

int LocalRun::Interrupted(const std::string& job_id) {
  std::string message = "ampmr: interrupted";
  if (!job_id.empty() && client_ != nullptr) {
    absl::StatusOr<v1::JobStatus> cancelled = client_->CancelJob(job_id, kCancelTimeout);
    absl::StrAppend(&message, cancelled.ok() ? "; cancelled job " : "; could not cancel job ",
                    job_id);
  }
  StopCluster();
  std::cerr << message << std::endl;
  return ExitCodeForSignal(watcher_->interrupted());
}

// The cluster could not finish the job: say why, with the log of the child
// that failed, else the master's.
int LocalRun::ClusterFailed(const absl::Status& status) {
  std::string message = state_.cluster_failure();
  if (message.empty()) {
    message = std::string(status.message());
    const std::string tail = cluster_->MasterLogTail();
    if (!tail.empty()) {
      absl::StrAppend(&message, "; ampmr-master's log ends with:\n", tail);
    }
  }
  StopCluster();
  std::cerr << FormatError(
      absl::UnavailableError(absl::StrCat("the local cluster failed: ", message)));
  return kExitFailure;
}

void LocalRun::StopCluster() {
  if (cluster_ == nullptr) return;
  state_.BeginStopping();
  // Close our connection first: the master's gRPC server would otherwise
  // wait out its shutdown grace for it.
  state_.DetachClient();
  client_.reset();
  absl::Status stopped = cluster_->Stop();
  if (!stopped.ok()) std::cerr << FormatError(stopped);
}

}  // namespace

int RunCommand(const RunOptions& options) {
  LocalRun run(options);
  return run.Run();
}

}  // namespace ampmr::client
