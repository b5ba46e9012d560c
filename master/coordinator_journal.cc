// The coordinator's side of surviving a master restart: rebuilding jobs from
// the journal, committing it in groups, and taking back the map outputs that
// reconnecting workers still hold.
#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "master/coordinator.h"

namespace ampmr::master {

absl::Status Coordinator::Recover() {
  Journal* journal = options_.journal;
  if (journal == nullptr) return absl::OkStatus();
  AMPMR_ASSIGN_OR_RETURN(JournalContents contents, journal->Load());
  registry_.SkipIds(contents.workers);
  std::vector<std::pair<JobRun*, const JournaledJob*>> resumed;
  for (JournaledJob& j : contents.jobs) {
    int64_t number = 0;
    if (absl::StartsWith(j.id, "j") && absl::SimpleAtoi(j.id.substr(1), &number)) {
      next_job_ = std::max(next_job_, number + 1);
    }
    std::unique_ptr<JobRun> job;
    const bool finished = j.final_status.has_value();
    if (finished) {
      job = std::make_unique<JobRun>(std::move(*j.final_status), MakeJobEnv());
    } else {
      job = std::make_unique<JobRun>(j.id, j.spec, std::move(j.splits), MakeJobEnv());
      resumed.emplace_back(job.get(), &j);
    }
    if (!jobs_.emplace(j.id, std::move(job)).second) continue;
    job_order_.emplace(number, j.id);
    if (finished) finished_.push_back(j.id);
  }
  SweepFinished();  // only the newest keep_jobs finished ones stay in memory
  AMPMR_LOG(INFO) << "journal " << journal->path() << ": " << contents.jobs.size()
                  << " jobs, resuming " << resumed.size() << " (master boot " << contents.boot
                  << ")";
  for (auto& [job, journaled] : resumed) {
    job->Resume(*journaled, contents.boot, options_.rejoin_grace);
  }
  FlushJournal();
  return absl::OkStatus();
}

void Coordinator::FlushJournal() {
  if (options_.journal == nullptr) return;
  if (journal_timer_ != 0) {
    loop_->CancelTimer(journal_timer_);
    journal_timer_ = 0;
  }
  absl::Status flushed = options_.journal->Flush();
  if (!flushed.ok() && !journal_failed_) {
    journal_failed_ = true;
    AMPMR_LOG(ERROR) << flushed.message()
                     << "; from now on jobs are not journaled and will not survive a "
                        "master restart";
  }
}

void Coordinator::TakeHeldOutputs(const WorkerState& worker) {
  std::set<std::string> over;
  for (const auto& out : worker.hello.map_outputs()) {
    auto it = jobs_.find(out.job_id());
    if (it == jobs_.end() || it->second->finished()) over.insert(out.job_id());
  }
  for (const auto& job_id : over) worker.link->Send(ForgetJobCommand(job_id, /*logs=*/false));
  for (auto& [id, job] : jobs_) job->OnWorkerJoined(worker);
}

}  // namespace ampmr::master
