// StderrReporter interprets a streaming task's stderr lines the way Hadoop
// Streaming does:
//   reporter:counter:GROUP,COUNTER,AMOUNT  adds AMOUNT to the user counter
//                                          "GROUP.COUNTER"
//   reporter:status:MESSAGE                sets the task's status message
// Every other line (and a reporter line that does not parse) is ordinary
// stderr, of which the last lines are kept to explain a failure.
//
// Not thread-safe; one owner.
#ifndef AMPMR_WORKER_TASK_STDERR_REPORTER_H_
#define AMPMR_WORKER_TASK_STDERR_REPORTER_H_

#include <cstddef>
#include <deque>
#include <string>

#include "absl/strings/string_view.h"
#include "worker/task/emitter.h"

namespace ampmr::worker {

class StderrReporter {
 public:
  // The tail keeps at most this many lines and bytes.
  static constexpr size_t kTailLines = 10;
  static constexpr size_t kTailBytes = 2048;

  // Handles one line, without its '\n'. Counters go to out->IncrementCounter.
  void OnLine(absl::string_view line, Emitter* out);

  // The last ordinary stderr lines, made printable and joined with " | "
  // (empty if there were none). A cut first line starts with "...".
  std::string Tail() const;

  // The last reporter:status message ("" if none), made printable.
  const std::string& status() const { return status_; }

 private:
  void Keep(absl::string_view line);

  std::deque<std::string> tail_;
  size_t tail_bytes_ = 0;
  std::string status_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_STDERR_REPORTER_H_
