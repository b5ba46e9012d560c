// JobFileStore: the files shipped with jobs (--file), kept in the worker's
// work dir once per job, and the working directory each attempt runs in.
//
//   WORK_DIR/files/JOB/NAME      a job's files, with their modes, from the
//                                first attempt that needed them until the
//                                master forgets the job (or the session ends:
//                                a new master may reuse the job's id)
//   WORK_DIR/attempts/ATTEMPT/   an attempt's working directory: the files
//                                its task names, hard links by NAME (a copy
//                                where links are not possible); removed when
//                                the attempt ends
//
// files/ is the worker's alone (0700). With a task user (--task-user), the
// attempt directories and the job files are that user's, so a task can read
// its files and write beside them, and attempts/ lets it pass (0711) to its
// own directory without listing the others'.
//
// A file being replaced or forgotten never changes what a running attempt
// sees: its links keep the old file alive.
//
// Thread-safe. Put writes the files, so it blocks for as long as that takes
// (a job's files are at most kMaxShippedBytes in all).
#ifndef AMPMR_WORKER_JOB_FILE_STORE_H_
#define AMPMR_WORKER_JOB_FILE_STORE_H_

#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ampmr/v1/session.pb.h"
#include "common/subprocess.h"

namespace ampmr::worker {

class JobFileStore {
 public:
  // Removes what a worker that used `work_dir` before left under files/ and
  // attempts/ (its jobs are not this one's).
  // `run_as`: the user tasks run as, if not the worker's.
  explicit JobFileStore(std::string work_dir, std::optional<RunAs> run_as = std::nullopt);

  // Whether `job_id`'s files are here (Put and not forgotten since).
  bool Has(const std::string& job_id) const;
  // Keeps `files` as `job_id`'s, replacing any. All or nothing:
  // INVALID_ARGUMENT naming a file whose name is not a plain file name,
  // INTERNAL naming the path for a write that failed.
  absl::Status Put(const std::string& job_id, const v1::JobFiles& files);
  // Removes the job's files.
  void ForgetJob(const std::string& job_id);
  // Removes every job's files.
  void ForgetAll();

  // Makes the working directory of `task`'s attempt, holding the job's files
  // that `task.files` names, and returns its path. FAILED_PRECONDITION if a
  // named file is not here (the job's files were forgotten meanwhile).
  absl::StatusOr<std::string> MakeAttemptDir(const v1::TaskContext& task) const;
  // Removes a directory MakeAttemptDir made, whatever the attempt left in it.
  void RemoveAttemptDir(const std::string& dir) const;

 private:
  std::string JobDir(const std::string& job_id) const;

  const std::string work_dir_;
  const std::optional<RunAs> run_as_;
  mutable std::mutex mu_;
  std::set<std::string> jobs_ ABSL_GUARDED_BY(mu_);  // whose files are here
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_JOB_FILE_STORE_H_
