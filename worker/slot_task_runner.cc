#include "worker/slot_task_runner.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "worker/task/map_task.h"
#include "worker/task/reduce_task.h"

namespace ampmr::worker {
namespace {

// `done`, called at most once however often the result is called: a stalled
// attempt is answered by the stall watch, and its own late result dropped.
template <typename T>
TaskRunner::Done<T> Once(TaskRunner::Done<T> done) {
  return [done = std::move(done),
          called = std::make_shared<std::atomic<bool>>(false)](absl::StatusOr<T> result) {
    if (!called->exchange(true)) done(std::move(result));
  };
}

// What the slot pool says of an attempt dropped before it ran, naming it.
template <typename T>
SlotPool::Dropped Dropped(const std::string& attempt, TaskRunner::Done<T> done) {
  return [attempt, done = std::move(done)](const absl::Status& why) {
    done(absl::Status(why.code(), absl::StrCat("attempt=", attempt, ": ", why.message())));
  };
}

// Whether the attempt runs exec processes (its mapper, combiner or reducer).
bool RunsExec(const v1::TaskContext& task) {
  for (const std::string* spec : {&task.mapper(), &task.combiner(), &task.reducer()}) {
    if (absl::StartsWith(*spec, "exec:")) return true;
  }
  return false;
}

// The attempt's working directory, when it needs one (it runs exec processes
// or names shipped files; in-process tasks need none), for the caller to
// remove. Empty: none, the worker's own.
absl::StatusOr<std::string> AttemptDir(const JobFileStore& files, const v1::TaskContext& task) {
  if (task.files_size() == 0 && !RunsExec(task)) return std::string();
  return files.MakeAttemptDir(task);
}

}  // namespace

SlotTaskRunner::SlotTaskRunner(const SlotTaskRunnerOptions& options, MapOutputStore* store,
                               const JobFileStore* files)
    : options_(options),
      store_(store),
      files_(files),
      fetcher_(store, options.work_dir, options.credentials),
      stalls_(options.stall_grace),
      pool_(options.slots) {}

SlotTaskRunner::~SlotTaskRunner() { Stop(); }

std::shared_ptr<ProgressClock> SlotTaskRunner::Watch(
    const v1::TaskContext& task, std::function<void(const absl::Status&)> fail) {
  auto clock = std::make_shared<ProgressClock>(task.timeout_seconds());
  stalls_.Add(task.attempt_id(), clock,
              [this, fail = std::move(fail), attempt = task.attempt_id()](const absl::Status& why) {
                AMPMR_LOG(WARNING) << why.message();
                fail(why);
                pool_.Cancel(attempt);
              });
  return clock;
}

absl::Status SlotTaskRunner::CheckRunsAsTaskUser(const v1::TaskContext& task) const {
  if (!options_.run_as.has_value()) return absl::OkStatus();
  for (const std::string* spec : {&task.mapper(), &task.reducer(), &task.combiner()}) {
    if (absl::StartsWith(*spec, "plugin:")) {
      return absl::FailedPreconditionError(absl::StrCat(
          "attempt=", task.attempt_id(), ": ", *spec,
          ": plugin tasks run inside the worker, as its own user, and this worker runs tasks as "
          "--task-user only"));
    }
  }
  return absl::OkStatus();
}

void SlotTaskRunner::RunMap(v1::RunMap run, Done<v1::MapDone> done) {
  done = Once(std::move(done));
  const std::string attempt = run.task().attempt_id();  // `run` moves into the work
  SlotPool::Dropped dropped = Dropped(attempt, done);
  pool_.Submit(
      attempt,
      [this, run = std::move(run), done](const std::atomic<bool>& cancelled) mutable {
        if (absl::Status s = CheckRunsAsTaskUser(run.task()); !s.ok()) {
          done(s);
          return;
        }
        absl::StatusOr<std::string> dir = AttemptDir(*files_, run.task());
        if (!dir.ok()) return done(dir.status());
        absl::Cleanup remove_dir = [this, &dir] {
          if (!dir->empty()) files_->RemoveAttemptDir(*dir);
        };
        MapTaskOptions opts;
        opts.work_dir = options_.work_dir;
        opts.input_files = &input_files_;
        opts.working_dir = *dir;
        opts.run_as = options_.run_as;
        opts.cancelled = &cancelled;
        opts.progress = Watch(run.task(), done);
        opts.stderr_log = StderrLogFor(run.task());
        opts.run = std::move(run);  // the work runs once
        const v1::TaskContext& task = opts.run.task();
        absl::Cleanup unwatch = [this, &task] { stalls_.Remove(task.attempt_id()); };
        const absl::Time started = absl::Now();
        absl::StatusOr<v1::MapDone> result = RunMapTask(opts);
        if (result.ok()) result->set_run_seconds(absl::ToDoubleSeconds(absl::Now() - started));
        // Map-only jobs write part files; the others' outputs stay here for reducers.
        if (result.ok() && opts.run.output_dir().empty() && !result->output_path().empty()) {
          store_->Add(task.attempt_id(), task.job_id(), result->output_path());
        }
        done(std::move(result));
      },
      std::move(dropped));
}

void SlotTaskRunner::RunReduce(v1::RunReduce run, Done<v1::ReduceDone> done) {
  done = Once(std::move(done));
  const std::string attempt = run.task().attempt_id();  // `run` moves into the work
  auto feed = std::make_shared<MapOutputFeed>(run);
  {
    std::lock_guard<std::mutex> lock(mu_);
    feeds_[attempt] = feed;
  }
  SlotPool::Dropped dropped = [this, attempt,
                               dropped = Dropped(attempt, done)](const absl::Status& why) {
    EndFeed(attempt);
    dropped(why);
  };
  pool_.Submit(
      attempt,
      [this, run = std::move(run), feed, done](const std::atomic<bool>& cancelled) {
        absl::Cleanup end_feed = [this, &run] { EndFeed(run.task().attempt_id()); };
        const absl::Time started = absl::Now();
        if (absl::Status s = CheckRunsAsTaskUser(run.task()); !s.ok()) {
          done(s);
          return;
        }
        std::vector<std::string> fetched;
        absl::StatusOr<std::vector<ReduceInput>> inputs =
            fetcher_.Fetch(run.task(), feed.get(), cancelled, &fetched);
        absl::StatusOr<v1::ReduceDone> result = absl::UnknownError("not run");
        absl::Cleanup unwatch = [this, &run] { stalls_.Remove(run.task().attempt_id()); };
        absl::StatusOr<std::string> dir = std::string();
        if (inputs.ok()) dir = AttemptDir(*files_, run.task());
        absl::Cleanup remove_dir = [this, &dir] {
          if (dir.ok() && !dir->empty()) files_->RemoveAttemptDir(*dir);
        };
        if (inputs.ok() && !dir.ok()) inputs = dir.status();
        if (inputs.ok()) {
          ReduceTaskOptions opts;
          opts.run = run;
          opts.working_dir = *dir;
          opts.inputs = std::move(*inputs);
          opts.run_as = options_.run_as;
          opts.cancelled = &cancelled;
          opts.progress = Watch(run.task(), done);  // after the fetch
          opts.stderr_log = StderrLogFor(run.task());
          result = RunReduceTask(opts);
          if (result.ok()) result->set_run_seconds(absl::ToDoubleSeconds(absl::Now() - started));
        } else {
          result = inputs.status();
        }
        for (const auto& path : fetched) ::unlink(path.c_str());
        done(std::move(result));
      },
      std::move(dropped));
}

void SlotTaskRunner::AddReduceInputs(const v1::AddMapOutputs& more) {
  if (std::shared_ptr<MapOutputFeed> feed = FeedOf(more.attempt_id())) feed->Add(more);
}

std::shared_ptr<MapOutputFeed> SlotTaskRunner::FeedOf(const std::string& attempt_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = feeds_.find(attempt_id);
  return it == feeds_.end() ? nullptr : it->second;
}

void SlotTaskRunner::EndFeed(const std::string& attempt_id) {
  std::lock_guard<std::mutex> lock(mu_);
  feeds_.erase(attempt_id);
}

void SlotTaskRunner::StopFeeds() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [attempt, feed] : feeds_) feed->Stop();
}

std::vector<v1::FetchFailure> SlotTaskRunner::FetchFailures() {
  std::vector<v1::FetchFailure> failures;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [attempt, feed] : feeds_) {
    for (v1::FetchFailure& failure : feed->TakeFailures()) failures.push_back(std::move(failure));
  }
  return failures;
}

void SlotTaskRunner::Stop() {
  StopFeeds();
  pool_.Stop();
}

void SlotTaskRunner::Cancel(const std::string& attempt_id) {
  pool_.Cancel(attempt_id);
  if (std::shared_ptr<MapOutputFeed> feed = FeedOf(attempt_id)) feed->Stop();
}

void SlotTaskRunner::CancelAll() {
  pool_.CancelAll();
  StopFeeds();
}

void SlotTaskRunner::GiveBackQueued(const absl::Status& why) { pool_.DropQueued(why); }

absl::StatusOr<v1::TaskLogText> SlotTaskRunner::TaskLog(const std::string& job_id,
                                                        const std::string& attempt_id) {
  std::string path = StderrLog::PathFor(options_.work_dir, job_id, attempt_id);
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", job_id, " attempt ", attempt_id, ": not a plain name"));
  }
  absl::StatusOr<StderrLog::Kept> kept = StderrLog::Read(path);
  if (absl::IsNotFound(kept.status())) {
    return absl::NotFoundError(absl::StrCat("attempt ", attempt_id, " wrote nothing to stderr"));
  }
  if (!kept.ok()) return kept.status();
  v1::TaskLogText text;
  text.set_text(std::move(kept->text));
  text.set_truncated(kept->truncated);
  return text;
}

void SlotTaskRunner::ForgetLogs(const std::string& job_id) {
  std::string dir = StderrLog::JobDir(options_.work_dir, job_id);
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) AMPMR_LOG(WARNING) << "removing " << dir << ": " << ec.message();
}

std::shared_ptr<StderrLog> SlotTaskRunner::StderrLogFor(const v1::TaskContext& task) const {
  // Only exec processes write what is kept (README "ampmr logs").
  if (!RunsExec(task)) return nullptr;
  return std::make_shared<StderrLog>(
      StderrLog::PathFor(options_.work_dir, task.job_id(), task.attempt_id()));
}

TaskRunner::AttemptStatuses SlotTaskRunner::Statuses() {
  AttemptStatuses statuses = stalls_.Statuses();
  stalls_.Check(absl::Now());
  return statuses;
}

}  // namespace ampmr::worker
