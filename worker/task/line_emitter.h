// LineEmitter writes each pair as the text line key<TAB>value\n, the part
// file format (README "Output"), and counts the lines. Lines from a streaming
// task (EmitLine) are written as they are, plus '\n'. Write errors are
// sticky: the first is kept in status() and later pairs are dropped.
//
// Not thread-safe; one owner.
#ifndef AMPMR_WORKER_TASK_LINE_EMITTER_H_
#define AMPMR_WORKER_TASK_LINE_EMITTER_H_

#include <algorithm>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "worker/task/counters.h"
#include "worker/task/emitter.h"
#include "worker/task/file_writer.h"

namespace ampmr::worker {

class LineEmitter final : public Emitter {
 public:
  // `file` and `user_counters` must outlive the emitter.
  LineEmitter(FileWriter* file, Counters* user_counters)
      : file_(file), user_counters_(user_counters) {}

  void Emit(absl::string_view key, absl::string_view value) override {
    if (!status_.ok()) return;
    ++lines_;
    status_ = file_->Append(key);
    if (status_.ok()) status_ = file_->Append("\t");
    if (status_.ok()) status_ = file_->Append(value);
    if (status_.ok()) status_ = file_->Append("\n");
  }

  void EmitLine(absl::string_view line) override {
    if (!status_.ok()) return;
    ++lines_;
    status_ = file_->Append(line);
    if (status_.ok()) status_ = file_->Append("\n");
  }

  // A block of whole lines is written as it is.
  void EmitLines(absl::string_view lines) override {
    if (!status_.ok()) return;
    lines_ += std::count(lines.begin(), lines.end(), '\n');
    status_ = file_->Append(lines);
  }

  void IncrementCounter(absl::string_view name, int64_t amount) override {
    AddCounter(user_counters_, name, amount);
  }

  const absl::Status& status() const { return status_; }
  int64_t lines() const { return lines_; }

 private:
  FileWriter* const file_;
  Counters* const user_counters_;
  int64_t lines_ = 0;
  absl::Status status_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_LINE_EMITTER_H_
