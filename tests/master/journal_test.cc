// Journal on real SQLite files: what is written comes back, only committed
// writes survive a kill, and files that are not a journal this master can
// read are refused with a message naming the file and the problem.
#include "master/journal.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

namespace fs = std::filesystem;
using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "journal_test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

v1::JobSpec Spec(const std::string& output) {
  v1::JobSpec spec;
  spec.add_inputs("/in/books");
  spec.set_output(output);
  spec.set_mapper("builtin:wordcount");
  spec.set_reducer("builtin:sum");
  spec.set_reduces(2);
  return spec;
}

SplitPlan Splits(int n) {
  SplitPlan splits;
  for (int i = 0; i < n; ++i) splits.Add(absl::StrCat("/in/books/f", i), i * 100, 100);
  return splits;
}

// A map attempt's answer as a worker sends it, counters included.
v1::Answer MapAnswer(const std::string& attempt) {
  v1::Answer answer;
  v1::MapDone* done = answer.mutable_map_done();
  done->set_attempt_id(attempt);
  done->set_output_path("/work/w1/" + attempt + ".out");
  for (int r = 0; r < 2; ++r) {
    v1::PartitionInfo* p = done->add_partitions();
    p->set_offset(r * 10);
    p->set_length(10);
    p->set_records(3);
  }
  (*done->mutable_counters())["ampmr.map_input_records"] = 7;
  return answer;
}

void AcceptMap(Journal* journal, const std::string& job, int index, const std::string& attempt) {
  journal->TaskAccepted(job, /*is_map=*/true, index, "127.0.0.1:9001", MapAnswer(attempt));
}

std::unique_ptr<Journal> OpenOk(const std::string& path) {
  absl::StatusOr<std::unique_ptr<Journal>> j = Journal::Open(path);
  EXPECT_THAT(j, IsOk());
  return j.ok() ? std::move(*j) : nullptr;
}

TEST(JournalTest, RoundTrip) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  {
    auto journal = OpenOk(path);
    ASSERT_NE(journal, nullptr);
    EXPECT_EQ(journal->boot(), 1);
    journal->JobSubmitted("j1", Spec("/out1"), Splits(3), 1000.5);
    journal->JobSubmitted("j2", Spec("/out2"), Splits(1), 1001);
    AcceptMap(journal.get(), "j1", 0, "j1-m0-a1");
    v1::Answer reduce;
    reduce.mutable_reduce_done()->set_attempt_id("j1-r1-a2");
    // As numbers, as a worker sends them today (the map's above come by
    // name, as older workers sent them): both come back by name.
    reduce.mutable_reduce_done()->mutable_framework_counters()->set_reduce_output_records(4);
    reduce.mutable_reduce_done()->mutable_framework_counters()->set_reduce_input_groups(0);
    (*reduce.mutable_reduce_done()->mutable_counters())["app.rows"] = 2;
    journal->TaskAccepted("j1", /*is_map=*/false, 1, "127.0.0.1:9002", reduce);
    AcceptMap(journal.get(), "j2", 0, "j2-m0-a1");
    v1::JobStatus done;
    done.set_job_id("j2");
    done.set_state(v1::SUCCEEDED);
    done.set_end_time(1002);
    (*done.mutable_counters())["ampmr.map_input_records"] = 7;
    journal->JobFinished(done);
    EXPECT_TRUE(journal->pending());
    EXPECT_THAT(journal->Flush(), IsOk());
    EXPECT_FALSE(journal->pending());
  }
  auto journal = OpenOk(path);
  ASSERT_NE(journal, nullptr);
  absl::StatusOr<JournalContents> contents = journal->Load();
  ASSERT_THAT(contents, IsOk());
  EXPECT_EQ(contents->boot, 2);
  ASSERT_THAT(contents->jobs, SizeIs(2));

  const JournaledJob& j1 = contents->jobs[0];
  EXPECT_EQ(j1.id, "j1");
  EXPECT_EQ(j1.spec.output(), "/out1");
  EXPECT_EQ(j1.spec.reduces(), 2);
  EXPECT_EQ(j1.submit_time, 1000.5);
  EXPECT_FALSE(j1.final_status.has_value());
  ASSERT_EQ(j1.splits.size(), 3u);
  EXPECT_EQ(j1.splits.Split(2).path(), "/in/books/f2");
  EXPECT_EQ(j1.splits.Split(2).start(), 200);
  ASSERT_THAT(j1.tasks, SizeIs(2));
  const JournaledTask& map = j1.tasks[0];
  EXPECT_TRUE(map.is_map);
  EXPECT_EQ(map.index, 0);
  EXPECT_EQ(map.attempt_id, "j1-m0-a1");
  EXPECT_EQ(map.worker_address, "127.0.0.1:9001");
  EXPECT_EQ(map.result.map_done().output_path(), "/work/w1/j1-m0-a1.out");
  EXPECT_THAT(map.result.map_done().counters(), SizeIs(0));  // they are in `counters`
  ASSERT_THAT(map.result.map_done().partitions(), SizeIs(2));
  EXPECT_EQ(map.result.map_done().partitions(1).offset(), 10);
  EXPECT_EQ(map.counters.at("ampmr.map_input_records"), 7);
  const JournaledTask& reduce = j1.tasks[1];
  EXPECT_FALSE(reduce.is_map);
  EXPECT_EQ(reduce.index, 1);
  EXPECT_EQ(reduce.attempt_id, "j1-r1-a2");
  EXPECT_EQ(reduce.worker_address, "127.0.0.1:9002");
  EXPECT_EQ(reduce.counters.at("ampmr.reduce_output_records"), 4);
  EXPECT_EQ(reduce.counters.at("ampmr.reduce_input_groups"), 0);
  EXPECT_EQ(reduce.counters.at("app.rows"), 2);
  EXPECT_THAT(reduce.counters, SizeIs(3));
  EXPECT_FALSE(reduce.result.reduce_done().has_framework_counters());

  // A finished job keeps its final status only.
  const JournaledJob& j2 = contents->jobs[1];
  EXPECT_EQ(j2.id, "j2");
  ASSERT_TRUE(j2.final_status.has_value());
  EXPECT_EQ(j2.final_status->state(), v1::SUCCEEDED);
  EXPECT_EQ(j2.final_status->counters().at("ampmr.map_input_records"), 7);
  EXPECT_TRUE(j2.splits.empty());
  EXPECT_THAT(j2.tasks, SizeIs(0));
}

TEST(JournalTest, LaterAcceptanceOfATaskReplacesTheEarlierOne) {
  TempDir tmp;
  auto journal = OpenOk(tmp.path() + "/journal.db");
  ASSERT_NE(journal, nullptr);
  journal->JobSubmitted("j1", Spec("/out"), Splits(1), 1);
  AcceptMap(journal.get(), "j1", 0, "j1-m0-a1");
  AcceptMap(journal.get(), "j1", 1, "j1-m1-a1");
  ASSERT_THAT(journal->Flush(), IsOk());
  AcceptMap(journal.get(), "j1", 0, "j1-m0-a3");
  absl::StatusOr<JournalContents> contents = journal->Load();
  ASSERT_THAT(contents, IsOk());
  ASSERT_THAT(contents->jobs[0].tasks, SizeIs(2));
  EXPECT_EQ(contents->jobs[0].tasks[0].attempt_id, "j1-m0-a3");
  EXPECT_EQ(contents->jobs[0].tasks[1].attempt_id, "j1-m1-a1");
}

// A child process writes, commits some, then is killed with writes pending.
TEST(JournalTest, OnlyCommittedWritesSurviveAKill) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    absl::StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(path);
    if (!journal.ok()) _exit(1);
    (*journal)->JobSubmitted("j1", Spec("/out"), Splits(2), 1);
    AcceptMap(journal->get(), "j1", 0, "j1-m0-a1");
    if (!(*journal)->Flush().ok()) _exit(1);
    AcceptMap(journal->get(), "j1", 1, "j1-m1-a1");
    raise(SIGKILL);
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  auto journal = OpenOk(path);
  ASSERT_NE(journal, nullptr);
  absl::StatusOr<JournalContents> contents = journal->Load();
  ASSERT_THAT(contents, IsOk());
  ASSERT_THAT(contents->jobs, SizeIs(1));
  ASSERT_THAT(contents->jobs[0].tasks, SizeIs(1));
  EXPECT_EQ(contents->jobs[0].tasks[0].attempt_id, "j1-m0-a1");
}

TEST(JournalTest, GarbageFileIsRefusedAndKept) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  std::string garbage(8192, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7919 % 251);
  std::ofstream(path, std::ios::binary) << garbage;
  EXPECT_THAT(Journal::Open(path), StatusIs(absl::StatusCode::kDataLoss,
                                            AllOf(HasSubstr(path), HasSubstr("not a database"),
                                                  HasSubstr("refusing to start"))));
  EXPECT_EQ(fs::file_size(path), garbage.size());
}

TEST(JournalTest, TruncatedFileIsRefused) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  {
    auto journal = OpenOk(path);
    ASSERT_NE(journal, nullptr);
    for (int j = 1; j <= 20; ++j) {
      std::string id = absl::StrCat("j", j);
      journal->JobSubmitted(id, Spec("/out"), Splits(200), j);
      for (int m = 0; m < 50; ++m) AcceptMap(journal.get(), id, m, absl::StrCat(id, "-m", m));
    }
    ASSERT_THAT(journal->Flush(), IsOk());
  }  // closed: everything is in the main file
  ASSERT_FALSE(fs::exists(path + "-wal"));
  uintmax_t size = fs::file_size(path);
  ASSERT_GT(size, 64 * 1024u);
  fs::resize_file(path, size / 2);
  EXPECT_THAT(Journal::Open(path),
              StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr(path), HasSubstr("refusing"))));
  EXPECT_EQ(fs::file_size(path), size / 2);
}

TEST(JournalTest, EmptyFileIsRefused) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  std::ofstream(path).close();
  EXPECT_THAT(Journal::Open(path),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(path), HasSubstr("not an ampmr journal"))));
  EXPECT_EQ(fs::file_size(path), 0u);
}

// The schema version in the meta row of the (closed) journal at `path`, or
// -1 if it cannot be read.
int64_t SchemaVersion(const std::string& path) {
  sqlite3* db = nullptr;
  int64_t version = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &stmt,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      version = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return version;
}

// Writes `version` into the meta row of the (closed) journal at `path`, as a
// master of that schema would have left it.
void SetSchemaVersion(const std::string& path, int64_t version) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string sql =
      absl::StrCat("UPDATE meta SET value = ", version, " WHERE key = 'schema_version'");
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
}

TEST(JournalTest, NewJournalHasSchemaVersion2) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  { ASSERT_NE(OpenOk(path), nullptr); }
  EXPECT_EQ(SchemaVersion(path), 2);
}

// A journal an older master wrote (schema 1: counters by name) is read as it
// is and marked 2, which that older master refuses from then on.
TEST(JournalTest, Version1JournalIsReadAndUpgradedTo2) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  {
    auto journal = OpenOk(path);
    ASSERT_NE(journal, nullptr);
    journal->JobSubmitted("j1", Spec("/out"), Splits(2), 1);
    AcceptMap(journal.get(), "j1", 0, "j1-m0-a1");  // counters by name
    v1::Answer reduce;
    reduce.mutable_reduce_done()->set_attempt_id("j1-r0-a1");
    (*reduce.mutable_reduce_done()->mutable_counters())["ampmr.reduce_output_records"] = 5;
    (*reduce.mutable_reduce_done()->mutable_counters())["app.rows"] = 2;
    journal->TaskAccepted("j1", /*is_map=*/false, 0, "127.0.0.1:9002", reduce);
    ASSERT_THAT(journal->Flush(), IsOk());
  }
  SetSchemaVersion(path, 1);
  ASSERT_EQ(SchemaVersion(path), 1);
  {
    auto journal = OpenOk(path);
    ASSERT_NE(journal, nullptr);
    absl::StatusOr<JournalContents> contents = journal->Load();
    ASSERT_THAT(contents, IsOk());
    EXPECT_EQ(contents->boot, 2);
    ASSERT_THAT(contents->jobs, SizeIs(1));
    ASSERT_THAT(contents->jobs[0].tasks, SizeIs(2));
    const JournaledTask& map = contents->jobs[0].tasks[0];
    EXPECT_EQ(map.attempt_id, "j1-m0-a1");
    EXPECT_THAT(map.counters, SizeIs(1));
    EXPECT_EQ(map.counters.at("ampmr.map_input_records"), 7);
    const JournaledTask& red = contents->jobs[0].tasks[1];
    EXPECT_EQ(red.attempt_id, "j1-r0-a1");
    EXPECT_THAT(red.counters, SizeIs(2));
    EXPECT_EQ(red.counters.at("ampmr.reduce_output_records"), 5);
    EXPECT_EQ(red.counters.at("app.rows"), 2);
  }
  EXPECT_EQ(SchemaVersion(path), 2);
}

TEST(JournalTest, NewerSchemaVersionIsRefusedAndKept) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  { ASSERT_NE(OpenOk(path), nullptr); }
  SetSchemaVersion(path, 3);
  EXPECT_THAT(Journal::Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(path),
                             HasSubstr("schema version 3 is newer than this master reads (2)"))));
  EXPECT_EQ(SchemaVersion(path), 3);
}

TEST(JournalTest, UnreadableRecordIsRefusedAtLoad) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  {
    auto journal = OpenOk(path);
    ASSERT_NE(journal, nullptr);
    journal->JobSubmitted("j1", Spec("/out"), Splits(1), 1);
    ASSERT_THAT(journal->Flush(), IsOk());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO accepted(job_id, records) VALUES('j1', x'05ffffff')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto journal = OpenOk(path);
  ASSERT_NE(journal, nullptr);
  EXPECT_THAT(journal->Load(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(path), HasSubstr("accepted task records of job j1"))));
}

TEST(JournalTest, SecondMasterOnTheSameJournalIsRefused) {
  TempDir tmp;
  std::string path = tmp.path() + "/journal.db";
  auto first = OpenOk(path);
  ASSERT_NE(first, nullptr);
  EXPECT_THAT(Journal::Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(path), HasSubstr("another ampmr-master"))));
}

}  // namespace
}  // namespace ampmr::master
