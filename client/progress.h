// The live progress line `ampmr run` and `ampmr submit --wait` draw on a
// terminal while a job runs, fed from WatchJob events. No gRPC in here.
#ifndef AMPMR_CLIENT_PROGRESS_H_
#define AMPMR_CLIENT_PROGRESS_H_

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "ampmr/v1/job.pb.h"

namespace ampmr::client {

// "MAPPING  map 12/40  reduce 0/8  1m05s"; a map-only job has no reduce part.
std::string FormatProgressLine(const v1::JobStatus& status, absl::Duration elapsed);

// Redraws one line on a terminal: on every Update(), and once a second so the
// elapsed time keeps moving between events. Elapsed time is measured on the
// local clock from construction (the master's clock may differ).
//
// Thread-safe: Update() may come from the thread reading the watch stream
// while a ticker thread of its own redraws.
class ProgressDisplay {
 public:
  // Draws on `fd` only when `enabled` (the caller checks isatty); otherwise
  // every call is a no-op and no thread is started.
  ProgressDisplay(int fd, bool enabled);
  ~ProgressDisplay();  // Finish()
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  void Update(const v1::JobStatus& status);

  // Writes `text` (whole lines) on `fd` whether or not the display is
  // enabled, on a line of its own: the progress line is erased first and
  // drawn again below it.
  void Print(const std::string& text);

  // Erases the line and stops the ticker, so what is printed next starts on
  // a clean line. Idempotent; Update() after it does nothing.
  void Finish();

 private:
  void DrawLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Tick();

  // Constant after construction.
  const int fd_;
  const bool enabled_;
  const absl::Time start_;

  std::mutex mu_;
  std::condition_variable wake_;
  v1::JobStatus last_ ABSL_GUARDED_BY(mu_);
  bool have_status_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::thread ticker_;
};

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_PROGRESS_H_
