// OutputCommitter: how task outputs become a job's final output, so that
// nothing partial is ever visible under the output's name, even if the master
// is killed mid-commit (README "Using it"). Everything is assembled in a staging
// directory beside the output, STAGE = PARENT/.NAME.ampmr-JOB (hidden, and
// on the output's file system so that renames are atomic):
//
//   an attempt writes      STAGE/<attempt>/part-NNNNN (.gz, .zst if compressed)
//   the accepted attempt   -> STAGE/output/part-NNNNN               (CommitTask)
//   the succeeded job      STAGE/output/_SUCCESS written last, then one
//                          rename(2) of STAGE/output onto OUTPUT (absent or
//                          an empty directory), then STAGE removed  (CommitJob)
//   a failed or cancelled job removes STAGE                         (Abort)
//
// So OUTPUT is absent or empty until the instant it is complete. Every step
// is a rename or a removal, safe to redo after a master restart.
// Not thread-safe; used on the coordinator thread.
#ifndef AMPMR_MASTER_OUTPUT_COMMITTER_H_
#define AMPMR_MASTER_OUTPUT_COMMITTER_H_

#include <string>

#include "absl/status/status.h"

namespace ampmr::master {

class OutputCommitter {
 public:
  // `output` is the job's output directory; `job_id` names the staging
  // directory, so two jobs never share one. `suffix` ends every part file's
  // name: "" or a codec's (".gz", ".zst") for --compress-output.
  OutputCommitter(const std::string& output, const std::string& job_id,
                  const std::string& suffix = "");

  // "part-NNNNN" and the suffix.
  std::string PartName(int index) const;

  // Where attempt `attempt_id` of task `index` writes its part file.
  std::string AttemptPath(const std::string& attempt_id, int index) const;
  // The directory an attempt writes into (map-only attempts name files themselves).
  std::string AttemptDir(const std::string& attempt_id) const;
  // The staging directory beside the output.
  const std::string& stage() const { return stage_; }

  // Accepts the part file of `attempt_id` for task `index`.
  absl::Status CommitTask(const std::string& attempt_id, int index) const;
  // Whether task `index`'s part was committed (by CommitTask, or by a
  // CommitJob that a restart interrupted after its rename).
  bool IsCommitted(int index) const;
  // Checks parts 0..parts-1 are all staged, writes _SUCCESS beside them and
  // renames the whole into place. Fails, leaving OUTPUT as it was, if OUTPUT
  // is no longer absent or empty.
  absl::Status CommitJob(int parts) const;
  // Removes everything temporary.
  void Abort() const;

 private:
  std::string AssembledDir() const { return stage_ + "/output"; }

  const std::string output_;
  const std::string stage_;
  const std::string suffix_;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_OUTPUT_COMMITTER_H_
