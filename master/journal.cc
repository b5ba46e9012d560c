#include "master/journal.h"

#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "master/journal_format.h"

namespace ampmr::master {
namespace {

namespace fs = std::filesystem;

// A new journal's schema. meta holds schema_version and boots; a job's row
// has status set once it ended; accepted holds batches of task records of
// unfinished jobs (journal_format.h), a later record of a task replacing an
// earlier one.
constexpr const char* kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE jobs(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, spec BLOB NOT NULL,
                  submit_time REAL NOT NULL, splits BLOB, status BLOB);
CREATE TABLE accepted(seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL, records BLOB NOT NULL);
INSERT INTO meta VALUES('boots', 0);
)sql";

constexpr const char* kHowToStartEmpty =
    "; refusing to start (move the file away to start with no jobs)";

// Bound values are used by the sqlite3_step that follows at once, so they
// are not copied.
void BindBlob(sqlite3_stmt* stmt, int i, const std::string& bytes) {
  sqlite3_bind_blob(stmt, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
}
void BindText(sqlite3_stmt* stmt, int i, const std::string& text) {
  sqlite3_bind_text(stmt, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

template <typename Message>
bool ParseColumn(sqlite3_stmt* stmt, int i, Message* message) {
  return message->ParseFromArray(sqlite3_column_blob(stmt, i), sqlite3_column_bytes(stmt, i));
}

std::string TextColumn(sqlite3_stmt* stmt, int i) {
  const unsigned char* text = sqlite3_column_text(stmt, i);
  return text == nullptr
             ? std::string()
             : std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt, i));
}

// Finalizes a statement when it goes out of scope.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

// Makes a new, empty journal at `path`: built under a temporary name and
// renamed into place, so `path` is either absent or a complete journal.
absl::Status Create(const std::string& path) {
  std::string temp = path + ".new";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::error_code ec;
    fs::remove(temp + suffix, ec);
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(temp.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::string error;
  if (rc == SQLITE_OK) {
    std::string sql = absl::StrCat("PRAGMA journal_mode=WAL;", "BEGIN;", kSchema,
                                   "INSERT INTO meta VALUES('schema_version', ",
                                   Journal::kSchemaVersion, ");", "COMMIT;");
    char* message = nullptr;
    rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    if (message != nullptr) {
      error = message;
      sqlite3_free(message);
    }
  } else {
    error = sqlite3_errstr(rc);
  }
  sqlite3_close(db);
  if (rc != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("journal ", path, ": cannot create: ", error));
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("journal ", path, ": cannot create: rename ", temp, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const std::string& path) {
  std::error_code ec;
  bool created = !fs::exists(path, ec);
  if (created) AMPMR_RETURN_IF_ERROR(Create(path));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close(db);
    return absl::FailedPreconditionError(
        absl::StrCat("journal ", path, ": cannot open: ", sqlite3_errstr(rc)));
  }
  std::unique_ptr<Journal> journal(new Journal(path, db));
  AMPMR_RETURN_IF_ERROR(journal->Init());
  return journal;
}

Journal::~Journal() {
  (void)Flush();
  for (sqlite3_stmt* s :
       {insert_job_, insert_batch_, finish_job_, delete_tasks_, set_workers_, select_status_}) {
    sqlite3_finalize(s);
  }
  sqlite3_close(db_);
}

absl::Status Journal::Error(const std::string& what) const {
  int code = sqlite3_errcode(db_);
  std::string message = absl::StrCat("journal ", path_, ": ", what, ": ", sqlite3_errmsg(db_));
  if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
    return absl::DataLossError(absl::StrCat(message, kHowToStartEmpty));
  }
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
    return absl::FailedPreconditionError(
        absl::StrCat(message, " (is another ampmr-master using this --data-dir?)"));
  }
  return absl::InternalError(message);
}

absl::Status Journal::Exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return Error(sql);
  return absl::OkStatus();
}

absl::Status Journal::Prepare(const char* sql, sqlite3_stmt** stmt) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
    return Error(sql);
  }
  return absl::OkStatus();
}

absl::Status Journal::Init() {
  // One master per journal: the exclusive lock is taken by the first read
  // below and held until close (a killed master's lock goes with it). It also
  // keeps the WAL index in memory rather than in a -shm file.
  AMPMR_RETURN_IF_ERROR(Exec("PRAGMA locking_mode=EXCLUSIVE"));
  AMPMR_ASSIGN_OR_RETURN(int64_t version, CheckIsJournal());
  // Only now that the file is known to be a journal is anything written.
  AMPMR_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
  AMPMR_RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL"));
  if (version < kSchemaVersion) AMPMR_RETURN_IF_ERROR(UpgradeSchema(version));
  AMPMR_RETURN_IF_ERROR(Exec("UPDATE meta SET value = value + 1 WHERE key = 'boots'"));
  {
    Statement boots;
    AMPMR_RETURN_IF_ERROR(Prepare("SELECT value FROM meta WHERE key = 'boots'", &boots.stmt));
    if (sqlite3_step(boots.stmt) != SQLITE_ROW) {
      return absl::DataLossError(
          absl::StrCat("journal ", path_, ": no boot count", kHowToStartEmpty));
    }
    boot_ = sqlite3_column_int64(boots.stmt, 0);
  }
  AMPMR_RETURN_IF_ERROR(Prepare(
      "INSERT INTO jobs(id, spec, submit_time, splits) VALUES(?1, ?2, ?3, ?4)", &insert_job_));
  AMPMR_RETURN_IF_ERROR(
      Prepare("INSERT INTO accepted(job_id, records) VALUES(?1, ?2)", &insert_batch_));
  AMPMR_RETURN_IF_ERROR(
      Prepare("UPDATE jobs SET status = ?2, splits = NULL WHERE id = ?1", &finish_job_));
  AMPMR_RETURN_IF_ERROR(Prepare("DELETE FROM accepted WHERE job_id = ?1", &delete_tasks_));
  // A row journals of older masters lack: absent means none.
  AMPMR_RETURN_IF_ERROR(
      Prepare("INSERT OR REPLACE INTO meta VALUES('workers', ?1)", &set_workers_));
  AMPMR_RETURN_IF_ERROR(
      Prepare("SELECT status FROM jobs WHERE id = ?1 AND status IS NOT NULL", &select_status_));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Journal::CheckIsJournal() {
  {
    Statement check;
    AMPMR_RETURN_IF_ERROR(Prepare("PRAGMA quick_check", &check.stmt));
    if (sqlite3_step(check.stmt) != SQLITE_ROW) return Error("integrity check");
    std::string verdict = TextColumn(check.stmt, 0);
    if (verdict != "ok") {
      return absl::DataLossError(
          absl::StrCat("journal ", path_, ": corrupt: ", verdict, kHowToStartEmpty));
    }
  }
  Statement version;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
                         &version.stmt, nullptr) != SQLITE_OK) {
    if (sqlite3_errcode(db_) == SQLITE_ERROR) {
      return absl::DataLossError(absl::StrCat(
          "journal ", path_, ": not an ampmr journal (no meta table)", kHowToStartEmpty));
    }
    return Error("reading the schema version");
  }
  if (sqlite3_step(version.stmt) != SQLITE_ROW) {
    return absl::DataLossError(
        absl::StrCat("journal ", path_, ": no schema version", kHowToStartEmpty));
  }
  int64_t v = sqlite3_column_int64(version.stmt, 0);
  if (v > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "journal ", path_, ": schema version ", v, " is newer than this master reads (",
        kSchemaVersion, "); run a newer ampmr-master on this --data-dir"));
  }
  if (v < 1) {
    return absl::DataLossError(
        absl::StrCat("journal ", path_, ": bad schema version ", v, kHowToStartEmpty));
  }
  return v;
}

absl::Status Journal::UpgradeSchema(int64_t from) {
  // Every older schema's rows read as they are: only the version changes. It
  // is committed alone, before any row of this master's, so that no older
  // master ever reads a row it would misread.
  std::string sql =
      absl::StrCat("UPDATE meta SET value = ", kSchemaVersion, " WHERE key = 'schema_version'");
  AMPMR_RETURN_IF_ERROR(Exec(sql.c_str()));
  AMPMR_LOG(INFO) << "journal " << path_ << ": schema version " << from << " upgraded to "
                  << kSchemaVersion << " (older masters now refuse it)";
  return absl::OkStatus();
}

bool Journal::BeginWrite() {
  if (!error_.ok()) return false;
  if (in_transaction_) return true;
  absl::Status begun = Exec("BEGIN");
  if (!begun.ok()) {
    error_ = begun;
    return false;
  }
  in_transaction_ = true;
  return true;
}

void Journal::Step(sqlite3_stmt* stmt, const char* what) {
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE && error_.ok()) {
    error_ = Error(what);
    // Nothing of a transaction with a failed write is kept.
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    in_transaction_ = false;
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
}

void Journal::JobSubmitted(const std::string& job_id, const v1::JobSpec& spec,
                           const SplitPlan& splits, double submit_time) {
  if (!BeginWrite()) return;
  std::string spec_bytes = spec.SerializeAsString();
  std::string split_bytes = EncodeSplits(splits);
  BindText(insert_job_, 1, job_id);
  BindBlob(insert_job_, 2, spec_bytes);
  sqlite3_bind_double(insert_job_, 3, submit_time);
  BindBlob(insert_job_, 4, split_bytes);
  Step(insert_job_, "recording a submitted job");
}

void Journal::TaskAccepted(const std::string& job_id, bool is_map, int index,
                           const std::string& worker_address, const v1::Answer& answer) {
  if (!error_.ok()) return;
  if (last_batch_ == nullptr || last_batch_->first != job_id) {
    last_batch_ = &*batches_.try_emplace(job_id).first;
  }
  AppendTaskRecord(is_map, index, worker_address, answer, &last_batch_->second);
}

absl::StatusOr<v1::JobStatus> Journal::FinishedJob(const std::string& job_id) {
  BindText(select_status_, 1, job_id);
  int rc = sqlite3_step(select_status_);
  absl::StatusOr<v1::JobStatus> result = absl::NotFoundError(absl::StrCat("no job ", job_id));
  if (rc == SQLITE_ROW) {
    v1::JobStatus status;
    const void* blob = sqlite3_column_blob(select_status_, 0);
    int size = sqlite3_column_bytes(select_status_, 0);
    if (status.ParseFromArray(blob, size)) {
      result = std::move(status);
    } else {
      result = Corrupt(absl::StrCat("job ", job_id, ": unreadable status"));
    }
  } else if (rc != SQLITE_DONE) {
    result = Error(absl::StrCat("reading job ", job_id));
  }
  sqlite3_reset(select_status_);
  sqlite3_clear_bindings(select_status_);
  return result;
}

void Journal::JobFinished(const v1::JobStatus& status) {
  // What the job accepted no longer matters.
  batches_.erase(status.job_id());
  last_batch_ = nullptr;
  if (!BeginWrite()) return;
  status.SerializeToString(&buffer_);
  BindText(finish_job_, 1, status.job_id());
  BindBlob(finish_job_, 2, buffer_);
  Step(finish_job_, "recording a finished job");
  if (!error_.ok()) return;
  BindText(delete_tasks_, 1, status.job_id());
  Step(delete_tasks_, "dropping a finished job's tasks");
}

void Journal::WorkersAdded(int64_t count) {
  if (!BeginWrite()) return;
  sqlite3_bind_int64(set_workers_, 1, count);
  Step(set_workers_, "recording worker ids");
}

absl::Status Journal::Flush() {
  for (const auto& [job_id, records] : batches_) {
    if (!BeginWrite()) break;
    BindText(insert_batch_, 1, job_id);
    BindBlob(insert_batch_, 2, records);
    Step(insert_batch_, "recording accepted tasks");
  }
  batches_.clear();
  last_batch_ = nullptr;
  if (in_transaction_) {
    in_transaction_ = false;
    absl::Status committed = Exec("COMMIT");
    if (!committed.ok()) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      if (error_.ok()) error_ = committed;
    }
  }
  return error_;
}

absl::StatusOr<JournalContents> Journal::Load() {
  AMPMR_RETURN_IF_ERROR(Flush());
  JournalContents contents;
  contents.boot = boot_;
  {
    Statement workers;
    AMPMR_RETURN_IF_ERROR(
        Prepare("SELECT value FROM meta WHERE key = 'workers'", &workers.stmt));
    if (sqlite3_step(workers.stmt) == SQLITE_ROW) {
      contents.workers = sqlite3_column_int64(workers.stmt, 0);
    }
  }
  AMPMR_RETURN_IF_ERROR(LoadJobs(&contents));
  AMPMR_RETURN_IF_ERROR(LoadAccepted(&contents));
  return contents;
}

absl::Status Journal::Corrupt(const std::string& what) const {
  return absl::DataLossError(absl::StrCat("journal ", path_, ": ", what, kHowToStartEmpty));
}

absl::Status Journal::LoadJobs(JournalContents* contents) {
  Statement jobs;
  AMPMR_RETURN_IF_ERROR(
      Prepare("SELECT id, spec, submit_time, splits, status FROM jobs ORDER BY seq", &jobs.stmt));
  int rc;
  while ((rc = sqlite3_step(jobs.stmt)) == SQLITE_ROW) {
    JournaledJob job;
    job.id = TextColumn(jobs.stmt, 0);
    if (!ParseColumn(jobs.stmt, 1, &job.spec)) return Corrupt("bad spec of job " + job.id);
    job.submit_time = sqlite3_column_double(jobs.stmt, 2);
    if (sqlite3_column_type(jobs.stmt, 4) != SQLITE_NULL) {
      job.final_status.emplace();
      if (!ParseColumn(jobs.stmt, 4, &*job.final_status)) {
        return Corrupt("bad final status of job " + job.id);
      }
    } else if (!DecodeSplits(sqlite3_column_blob(jobs.stmt, 3), sqlite3_column_bytes(jobs.stmt, 3),
                             &job.splits)) {
      return Corrupt("bad splits of job " + job.id);
    }
    contents->jobs.push_back(std::move(job));
  }
  if (rc != SQLITE_DONE) return Error("reading jobs");
  return absl::OkStatus();
}

absl::Status Journal::LoadAccepted(JournalContents* contents) {
  std::map<std::string, JournaledJob*> by_id;
  for (JournaledJob& job : contents->jobs) by_id[job.id] = &job;
  // Batches in commit order; a later record of a task replaces an earlier one.
  std::map<JournaledJob*, std::map<std::pair<bool, int>, JournaledTask>> latest;
  Statement batches;
  AMPMR_RETURN_IF_ERROR(
      Prepare("SELECT job_id, records FROM accepted ORDER BY seq", &batches.stmt));
  int rc;
  std::vector<JournaledTask> records;
  while ((rc = sqlite3_step(batches.stmt)) == SQLITE_ROW) {
    std::string job_id = TextColumn(batches.stmt, 0);
    auto it = by_id.find(job_id);
    if (it == by_id.end()) return Corrupt("accepted tasks of unknown job " + job_id);
    if (it->second->final_status.has_value()) continue;
    records.clear();
    if (!DecodeTaskRecords(sqlite3_column_blob(batches.stmt, 1),
                           sqlite3_column_bytes(batches.stmt, 1), &records)) {
      return Corrupt("bad accepted task records of job " + job_id);
    }
    auto& tasks = latest[it->second];
    for (JournaledTask& t : records) tasks[{!t.is_map, t.index}] = std::move(t);
  }
  if (rc != SQLITE_DONE) return Error("reading accepted tasks");
  for (auto& [job, tasks] : latest) {
    for (auto& [key, task] : tasks) job->tasks.push_back(std::move(task));
  }
  return absl::OkStatus();
}

}  // namespace ampmr::master
