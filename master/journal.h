// Journal: the master's durable record of its jobs, in one SQLite file (WAL
// mode) under --data-dir, so a master killed at any moment resumes its
// unfinished jobs and keeps finished jobs' history when started again.
//
// What is recorded: a job when it is submitted (spec and planned splits), each
// accepted task attempt (where its output is, its counters), and the job's end
// (its final status). A finished job keeps only its final status.
//
// Writes are grouped: records join an open transaction (accepted tasks are
// buffered and written as one batch per job), which Flush() commits. Only
// committed records survive a crash; a task accepted after the last commit
// simply runs again after a restart. Write errors are kept and returned by
// the next Flush().
//
// Thread-safety: not thread-safe; the master uses it on the coordinator thread
// only (opening it on another thread first is fine).
#ifndef AMPMR_MASTER_JOURNAL_H_
#define AMPMR_MASTER_JOURNAL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ampmr/v1/job.pb.h"
#include "ampmr/v1/session.pb.h"
#include "master/split_plan.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ampmr::master {

// One accepted task attempt.
struct JournaledTask {
  bool is_map = true;
  int index = 0;
  std::string attempt_id;
  // The shuffle address of the worker that ran it: map outputs live there.
  std::string worker_address;
  // MapDone or ReduceDone, without counters.
  v1::Answer result;
  std::map<std::string, int64_t> counters;
};

struct JournaledJob {
  std::string id;  // "j7"
  v1::JobSpec spec;
  double submit_time = 0;
  // Set once the job ended; then `splits` and `tasks` are empty.
  std::optional<v1::JobStatus> final_status;
  SplitPlan splits;
  std::vector<JournaledTask> tasks;  // accepted attempts, at most one per task
};

struct JournalContents {
  // How many times the journal has been opened, this time included (1 for a
  // new journal): attempts of resumed jobs carry it so their ids are new.
  int64_t boot = 1;
  // How many worker ids ("w1" ... "wN") masters on this journal handed out,
  // so that a restarted master never gives an old id to another process.
  int64_t workers = 0;
  std::vector<JournaledJob> jobs;  // in submission order
};

class Journal {
 public:
  // The newest schema this code reads and writes. 2: an accepted task's
  // answer may carry its framework counters as numbers (framework_counters),
  // which a reader of 1 would drop without a word. Rows of 1 (counters by
  // name) read the same in 2.
  static constexpr int kSchemaVersion = 2;

  // Opens the journal at `path`, creating it if absent. A file that is not a
  // journal (garbage, truncated, corrupt) or has a newer schema is refused
  // with an error naming the file and the problem; it is never overwritten.
  // A journal of an older schema is upgraded to kSchemaVersion before
  // anything else is written to it, so older masters refuse it from then on.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const std::string& path);
  ~Journal();  // commits what is pending

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Everything needed to rebuild the master's jobs. Commits what is pending
  // first.
  absl::StatusOr<JournalContents> Load();

  void JobSubmitted(const std::string& job_id, const v1::JobSpec& spec,
                    const SplitPlan& splits, double submit_time);
  // `answer` is the accepted attempt's MapDone or ReduceDone, counters and
  // all; `worker_address` the shuffle address of the worker that ran it.
  // Replaces an earlier record of the same task (a map output made again).
  void TaskAccepted(const std::string& job_id, bool is_map, int index,
                    const std::string& worker_address, const v1::Answer& answer);
  // REQUIRES: `status` is final. Drops the job's splits and task records.
  void JobFinished(const v1::JobStatus& status);
  // Worker ids up to "w`count`" have been handed out.
  void WorkersAdded(int64_t count);

  // The final status of a finished job, read back (for a job the master no
  // longer holds in memory). NOT_FOUND if the journal has no finished job of
  // that id.
  absl::StatusOr<v1::JobStatus> FinishedJob(const std::string& job_id);

  // Commits the open transaction, if any. Returns the first error of any
  // write since the journal was opened.
  absl::Status Flush();
  // Whether there are writes not yet committed.
  bool pending() const { return in_transaction_ || !batches_.empty(); }
  const std::string& path() const { return path_; }
  int64_t boot() const { return boot_; }

 private:
  Journal(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  absl::Status Init();
  // Refuses a file that is corrupt, not a journal, or of a newer schema;
  // returns the file's schema version.
  absl::StatusOr<int64_t> CheckIsJournal();
  // Marks a journal of schema `from` (older) as kSchemaVersion, in a
  // transaction of its own.
  absl::Status UpgradeSchema(int64_t from);
  absl::Status Exec(const char* sql);
  absl::Status Prepare(const char* sql, sqlite3_stmt** stmt);
  absl::Status Error(const std::string& what) const;
  absl::Status Corrupt(const std::string& what) const;
  absl::Status LoadJobs(JournalContents* contents);
  absl::Status LoadAccepted(JournalContents* contents);
  // Opens a transaction if none is open; records a failure.
  bool BeginWrite();
  void Step(sqlite3_stmt* stmt, const char* what);

  const std::string path_;
  sqlite3* const db_;
  int64_t boot_ = 1;
  bool in_transaction_ = false;
  absl::Status error_;  // the first write error
  sqlite3_stmt* insert_job_ = nullptr;
  sqlite3_stmt* insert_batch_ = nullptr;
  sqlite3_stmt* finish_job_ = nullptr;
  sqlite3_stmt* delete_tasks_ = nullptr;
  sqlite3_stmt* set_workers_ = nullptr;
  sqlite3_stmt* select_status_ = nullptr;
  std::string buffer_;  // reused for serializing, so writes rarely allocate
  // Accepted tasks not yet written, by job (journal_format.h), and the batch
  // written to last: accepting a task is an append to a buffer.
  std::map<std::string, std::string> batches_;
  std::pair<const std::string, std::string>* last_batch_ = nullptr;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_JOURNAL_H_
