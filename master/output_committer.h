// OutputCommitter: how task outputs become a job's final output, so that
// nothing partial ever has a final name (DESIGN.md §5):
//
//   an attempt writes      OUTPUT/_temporary/<attempt>/part-NNNNN
//   the accepted attempt   -> OUTPUT/_temporary/committed/part-NNNNN  (CommitTask)
//   the succeeded job      -> OUTPUT/part-NNNNN ..., then OUTPUT/_SUCCESS (CommitJob)
//   a failed or cancelled job removes OUTPUT/_temporary (Abort)
//
// Every step is a rename or a removal, safe to redo after a master restart.
// Not thread-safe; used on the coordinator thread.
#ifndef AMPMR_MASTER_OUTPUT_COMMITTER_H_
#define AMPMR_MASTER_OUTPUT_COMMITTER_H_

#include <string>

#include "absl/status/status.h"

namespace ampmr::master {

class OutputCommitter {
 public:
  explicit OutputCommitter(std::string output) : output_(std::move(output)) {}

  static std::string PartName(int index);

  // Where attempt `attempt_id` of task `index` writes its part file.
  std::string AttemptPath(const std::string& attempt_id, int index) const;
  // The directory an attempt writes into (map-only attempts name files themselves).
  std::string AttemptDir(const std::string& attempt_id) const;

  // Accepts the part file of `attempt_id` for task `index`.
  absl::Status CommitTask(const std::string& attempt_id, int index) const;
  // Whether task `index`'s part was committed (by CommitTask, or moved into
  // the output by a CommitJob that a restart interrupted).
  bool IsCommitted(int index) const;
  // Moves parts 0..parts-1 into the output and writes _SUCCESS last.
  absl::Status CommitJob(int parts) const;
  // Removes everything temporary.
  void Abort() const;

 private:
  std::string TempDir() const { return output_ + "/_temporary"; }

  const std::string output_;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_OUTPUT_COMMITTER_H_
