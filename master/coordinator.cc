#include "master/coordinator.h"

#include <gperftools/malloc_extension_c.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/listen_address.h"
#include "common/logging.h"

namespace ampmr::master {
namespace {

// The host of gRPC's "ipv4:10.0.0.2:41234" / "ipv6:[::1]:41234"; "" for
// other kinds (unix sockets, in-process).
absl::string_view PeerHost(absl::string_view peer) {
  if (!absl::ConsumePrefix(&peer, "ipv4:") && !absl::ConsumePrefix(&peer, "ipv6:")) return "";
  return peer.substr(0, peer.rfind(':'));
}

// Reducers on other nodes would dial their own loopback: say so.
std::string LoopbackWarning(const v1::Hello& hello, const std::string& peer) {
  absl::string_view from = PeerHost(peer);
  if (from.empty() || IsLoopbackHost(from)) return "";
  if (!IsLoopbackHost(HostOf(hello.shuffle_address()))) return "";
  return absl::StrCat("advertises a loopback shuffle address (", hello.shuffle_address(),
                      ") but reached the master from ", from,
                      ": reducers on other nodes cannot fetch its map outputs; give it "
                      "--advertise-host");
}

}  // namespace

Coordinator::Coordinator(Loop* loop, CoordinatorOptions options)
    : loop_(loop),
      options_(options),
      scheduler_(&registry_, options.scheduler),
      calls_(loop, &registry_, options.calls) {}

Coordinator::~Coordinator() {
  if (heartbeat_timer_ != 0) loop_->CancelTimer(heartbeat_timer_);
  if (journal_timer_ != 0) loop_->CancelTimer(journal_timer_);
  if (sweep_timer_ != 0) loop_->CancelTimer(sweep_timer_);
}

void Coordinator::Start() {
  heartbeat_timer_ = loop_->RunAfter(options_.heartbeat_interval, [this] { CheckHeartbeats(); });
}

absl::StatusOr<std::string> Coordinator::SubmitJob(v1::JobSpec spec, SplitPlan splits,
                                                   const std::string& request_id) {
  if (std::optional<std::string> earlier = JobForRequest(request_id)) return *earlier;
  if (!accepting_) return absl::UnavailableError("master is shutting down");
  const int64_t number = next_job_++;
  std::string id = absl::StrCat("j", number);
  if (!request_id.empty()) {
    job_by_request_[request_id] = id;
    request_order_.push_back(request_id);
    if (request_order_.size() > kMaxRequestIds) {
      job_by_request_.erase(request_order_.front());
      request_order_.pop_front();
    }
  }
  if (options_.journal != nullptr) {
    options_.journal->JobSubmitted(id, spec, splits,
                                   absl::ToDoubleSeconds(loop_->Now() - absl::UnixEpoch()));
  }
  auto job = std::make_unique<JobRun>(id, std::move(spec), std::move(splits), MakeJobEnv());
  JobRun* raw = job.get();
  jobs_.emplace(id, std::move(job));
  job_order_.emplace(number, id);
  AMPMR_LOG(INFO) << "job submitted job=" << id;
  FlushJournal();  // the job survives a restart before its id is handed out
  raw->Start();
  return id;
}

std::optional<std::string> Coordinator::JobForRequest(const std::string& request_id) const {
  if (request_id.empty()) return std::nullopt;
  auto it = job_by_request_.find(request_id);
  if (it == job_by_request_.end()) return std::nullopt;
  return it->second;
}

JobEnv Coordinator::MakeJobEnv() {
  JobEnv env;
  env.loop = loop_;
  env.scheduler = &scheduler_;
  env.registry = &registry_;
  env.on_change = [this](JobRun* job) { OnJobChange(job); };
  env.journal = options_.journal;
  env.metrics = &metrics_;
  env.reduce_slowstart = options_.reduce_slowstart;
  return env;
}

absl::StatusOr<v1::JobStatus> Coordinator::GetJob(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return ForgottenJob(job_id);
  return it->second->Status();
}

absl::StatusOr<v1::JobFiles> Coordinator::JobFiles(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second->finished()) {
    return absl::NotFoundError(absl::StrCat("no running job ", job_id));
  }
  v1::JobFiles files;
  *files.mutable_files() = it->second->files();
  return files;
}

absl::StatusOr<v1::JobStatus> Coordinator::ForgottenJob(const std::string& job_id) const {
  if (options_.journal != nullptr) {
    absl::StatusOr<v1::JobStatus> status = options_.journal->FinishedJob(job_id);
    if (status.ok() || status.status().code() != absl::StatusCode::kNotFound) return status;
  }
  return absl::NotFoundError(absl::StrCat("no job ", job_id));
}

absl::StatusOr<v1::JobStatus> Coordinator::CancelJob(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return ForgottenJob(job_id);  // over long ago
  it->second->Cancel("cancelled by request");
  scheduler_.Schedule();
  return it->second->Status();
}

absl::StatusOr<v1::ListJobsResponse> Coordinator::ListJobs(
    const v1::ListJobsRequest& request) const {
  constexpr int kDefaultPage = 100;
  constexpr int kMaxPage = 1000;
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be >= 0, got ", request.page_size()));
  }
  const int page =
      request.page_size() == 0 ? kDefaultPage : std::min(request.page_size(), kMaxPage);
  int64_t from = 0;
  if (!request.page_token().empty() && !absl::SimpleAtoi(request.page_token(), &from)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: not one this master handed out: \"", request.page_token(), "\""));
  }
  v1::ListJobsResponse response;
  for (auto it = job_order_.lower_bound(from); it != job_order_.end(); ++it) {
    if (response.jobs_size() == page) {
      response.set_next_page_token(absl::StrCat(it->first));
      break;
    }
    v1::JobStatus* s = response.add_jobs();
    *s = jobs_.at(it->second)->Status();
    s->set_input_count(s->spec().inputs_size());
    s->mutable_spec()->clear_inputs();
    s->clear_task_statuses();
  }
  return response;
}

absl::StatusOr<int64_t> Coordinator::Watch(const std::string& job_id, Watcher watcher) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    // Forgotten, so over: its final status is all there is to watch.
    absl::StatusOr<v1::JobStatus> status = ForgottenJob(job_id);
    if (!status.ok()) return status.status();
    watcher(*status, true);
    return 0;
  }
  bool final = it->second->finished();
  watcher(it->second->Status(), final);
  if (final) return 0;
  int64_t id = next_watch_++;
  watches_[id] = Watch_{job_id, std::move(watcher)};
  return id;
}

void Coordinator::Unwatch(int64_t watch_id) { watches_.erase(watch_id); }

void Coordinator::OnJobChange(JobRun* job) {
  auto shown = shown_state_.find(job->id());
  bool phase_changed = shown == shown_state_.end() || shown->second != job->state();
  // Group commit: many acceptances per transaction, but a phase's or job's
  // end at once.
  if (options_.journal != nullptr && options_.journal->pending()) {
    if (phase_changed || job->finished()) {
      FlushJournal();
    } else if (journal_timer_ == 0) {
      journal_timer_ = loop_->RunAfter(options_.journal_flush_interval, [this] {
        journal_timer_ = 0;
        FlushJournal();
      });
    }
  }
  if (phase_changed || job->finished()) {
    shown_state_[job->id()] = job->state();
    dirty_.erase(job->id());
    NotifyWatchers(job, job->finished());
    // A job may report a change again after it ended (the acceptance that
    // ended it): its final state stays shown, so it ends here once.
    if (job->finished() && phase_changed) {
      finished_.push_back(job->id());
      to_release_.push_back(job->id());
      if (sweep_timer_ == 0) {
        sweep_timer_ = loop_->RunAfter(absl::ZeroDuration(), [this] {
          sweep_timer_ = 0;
          SweepFinished();
        });
      }
    }
    return;
  }
  dirty_[job->id()] = true;
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  loop_->RunAfter(options_.progress_interval, [this] {
    flush_scheduled_ = false;
    std::map<std::string, bool> dirty;
    dirty.swap(dirty_);
    for (const auto& [id, unused] : dirty) {
      auto it = jobs_.find(id);
      if (it != jobs_.end() && !it->second->finished()) NotifyWatchers(it->second.get(), false);
    }
  });
}

void Coordinator::SweepFinished() {
  for (const std::string& id : to_release_) {
    auto it = jobs_.find(id);
    if (it != jobs_.end()) it->second->ReleaseTasks();
  }
  // What a big job's tasks held goes back to the system, not only to malloc
  // (tcmalloc keeps freed pages until told).
  if (!to_release_.empty()) MallocExtension_ReleaseFreeMemory();
  to_release_.clear();
  while (finished_.size() > static_cast<size_t>(std::max(0, options_.keep_jobs))) {
    auto it = jobs_.find(finished_.front());
    finished_.pop_front();
    if (it == jobs_.end()) continue;
    // Its attempts' stderr can no longer be asked for (GetTaskLog needs the job).
    registry_.ForgetJob(it->first, /*logs=*/true);
    int64_t number = 0;
    if (absl::SimpleAtoi(absl::string_view(it->first).substr(1), &number)) {
      job_order_.erase(number);
    }
    dirty_.erase(it->first);
    shown_state_.erase(it->first);
    jobs_.erase(it);
  }
}

void Coordinator::NotifyWatchers(JobRun* job, bool final) {
  bool any = false;
  for (const auto& [id, w] : watches_) any = any || w.job_id == job->id();
  if (!any) return;
  v1::JobStatus status = job->Status();
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (it->second.job_id != job->id()) {
      ++it;
      continue;
    }
    Watcher watcher = it->second.watcher;
    if (final) {
      it = watches_.erase(it);
    } else {
      ++it;
    }
    watcher(status, final);
  }
}

v1::Welcome Coordinator::AddWorker(const v1::Hello& hello, WorkerLink* link,
                                   const std::string& peer) {
  WorkerState* w = registry_.Add(hello, link, loop_->Now());
  if (options_.journal != nullptr) {
    // Durable before the id is handed out, so no later master reuses it.
    options_.journal->WorkersAdded(registry_.ids_used());
    FlushJournal();
  }
  AMPMR_LOG(INFO) << "worker joined worker=" << w->id << " host=" << hello.host()
                  << " pid=" << hello.pid() << " slots=" << w->slots
                  << " shuffle=" << hello.shuffle_address() << " peer=" << peer;
  w->warning = LoopbackWarning(hello, peer);
  if (!w->warning.empty()) AMPMR_LOG(WARNING) << "worker=" << w->id << " " << w->warning;
  v1::Welcome welcome;
  welcome.set_worker_id(w->id);
  welcome.set_heartbeat_interval_seconds(absl::ToDoubleSeconds(options_.heartbeat_interval));
  welcome.set_framework_counters(true);
  calls_.AddWorker(w->id);
  TakeHeldOutputs(*w);
  scheduler_.Schedule();
  return welcome;
}

void Coordinator::RemoveWorker(const std::string& worker_id, const absl::Status& why) {
  if (registry_.Find(worker_id) == nullptr) return;
  AMPMR_LOG(INFO) << "worker lost worker=" << worker_id << ": " << why.message();
  calls_.RemoveWorker(worker_id, why);
  // Removing before the link closes means the attempts failing then find no
  // slot to free.
  registry_.Remove(worker_id);
  for (auto& [id, job] : jobs_) job->OnWorkerLost(worker_id);
  scheduler_.Schedule();
}

void Coordinator::CloseAllWorkers(const absl::Status& why) {
  std::vector<std::pair<std::string, WorkerLink*>> all;
  for (const auto& [id, w] : registry_.workers()) all.emplace_back(id, w.link);
  for (const auto& [id, link] : all) {
    RemoveWorker(id, why);
    link->Close(why);
  }
}

void Coordinator::DrainWorker(const std::string& worker_id) {
  if (WorkerState* w = registry_.Find(worker_id)) {
    AMPMR_LOG(INFO) << "worker draining worker=" << worker_id;
    registry_.Drain(worker_id);
    calls_.DrainWorker(worker_id);
  }
}

void Coordinator::Call(v1::CallRequest request, CallRouter::Done done) {
  if (!accepting_) {
    done(absl::UnavailableError("master is shutting down"));
    return;
  }
  std::string handler = request.handler();
  if (!calls_.Offered(handler) || !call_stats_.Begin(handler)) {
    calls_.Call(std::move(request), std::move(done));
    return;
  }
  absl::Time arrived = loop_->Now();
  calls_.Call(std::move(request), std::move(done),
              [this, handler, arrived](absl::StatusCode code) {
                absl::Time now = loop_->Now();
                call_stats_.End(handler, code, now - arrived, now);
              });
}

void Coordinator::WorkerSeen(const std::string& worker_id) {
  if (WorkerState* w = registry_.Find(worker_id)) w->last_heartbeat = loop_->Now();
}

void Coordinator::AttemptStatuses(
    const google::protobuf::RepeatedPtrField<v1::AttemptStatus>& statuses) {
  for (const v1::AttemptStatus& s : statuses) {
    for (auto& [id, job] : jobs_) {
      if (job->SetAttemptStatus(s.attempt_id(), s.status())) break;
    }
  }
}

void Coordinator::FetchFailures(
    const std::string& worker_id,
    const google::protobuf::RepeatedPtrField<v1::FetchFailure>& failures) {
  for (const v1::FetchFailure& failure : failures) {
    for (auto& [id, job] : jobs_) {
      if (job->ReduceFetchFailed(worker_id, failure)) break;
    }
  }
  scheduler_.Schedule();
}

void Coordinator::CheckHeartbeats() {
  absl::Time now = loop_->Now();
  std::vector<std::pair<std::string, WorkerLink*>> silent;
  for (const auto& [id, w] : registry_.workers()) {
    if (now - w.last_heartbeat > options_.heartbeat_timeout) silent.emplace_back(id, w.link);
  }
  for (const auto& [id, link] : silent) {
    absl::Status why = absl::UnavailableError(
        absl::StrCat("no heartbeat for ", absl::FormatDuration(options_.heartbeat_timeout)));
    // Unregister before closing: closing fails the worker's outstanding calls
    // with UNAVAILABLE, which requeues their tasks, and they must not be
    // handed straight back to this worker.
    RemoveWorker(id, why);
    link->Close(why);
  }
  for (auto& [id, job] : jobs_) {
    job->LaunchBackups(options_.backup_min_extra, options_.backup_without_median);
  }
  scheduler_.Schedule();
  heartbeat_timer_ = loop_->RunAfter(options_.heartbeat_interval, [this] { CheckHeartbeats(); });
}

}  // namespace ampmr::master
