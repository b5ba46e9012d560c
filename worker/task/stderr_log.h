// StderrLog: everything an attempt's exec processes (mapper, combiner,
// reducer) write to stderr, kept in a file on the worker for `ampmr logs`
// and GetTaskLog. Capped: once the file passes twice the cap it is rewritten
// with its last `cap` bytes (from a line start) after a marker line, so the
// tail is always kept and appending stays cheap. The file is made by the
// first line, so an in-process task leaves none.
//
// Files live at WORK_DIR/logs/JOB/ATTEMPT.stderr; the worker removes a job's
// directory with the job's other files.
//
// Thread-safe: an attempt's processes may write at once.
#ifndef AMPMR_WORKER_TASK_STDERR_LOG_H_
#define AMPMR_WORKER_TASK_STDERR_LOG_H_

#include <cstddef>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ampmr::worker {

class StderrLog {
 public:
  static constexpr size_t kDefaultCap = size_t{1} << 20;

  // `path` empty: keeps nothing.
  explicit StderrLog(std::string path, size_t cap = kDefaultCap);
  ~StderrLog();
  StderrLog(const StderrLog&) = delete;
  StderrLog& operator=(const StderrLog&) = delete;

  // Appends `line` and a newline. I/O errors are logged once; the attempt
  // goes on without its log.
  void Append(absl::string_view line);

  struct Kept {
    std::string text;
    bool truncated = false;  // the start was cut to keep the cap
  };
  // The log at `path`; NOT_FOUND if the attempt wrote no stderr here.
  static absl::StatusOr<Kept> Read(const std::string& path);

  // WORK_DIR/logs/JOB/ATTEMPT.stderr, or "" for ids that are not plain
  // names (a '/', a leading '.').
  static std::string PathFor(const std::string& work_dir, const std::string& job_id,
                             const std::string& attempt_id);
  // WORK_DIR/logs/JOB, or "" likewise: remove it to forget the job's logs.
  static std::string JobDir(const std::string& work_dir, const std::string& job_id);

 private:
  // Keeps the last cap_ bytes. REQUIRES: mu_ held.
  void CutLocked();

  const std::string path_;
  const size_t cap_;
  std::mutex mu_;
  int fd_ = -1;        // guarded by mu_; opened by the first line
  size_t size_ = 0;    // guarded by mu_
  bool failed_ = false;  // guarded by mu_
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_STDERR_LOG_H_
