// RunWriter writes one sorted run to a file: the pairs of partition 0, then
// of partition 1, ... each in record format (record_io.h), and remembers
// where each partition lies. Spill runs and the final map output file are
// both runs. It is an Emitter so a combiner can write into it directly;
// pairs emitted one by one are grouped by key as they come, and a sort
// buffer hands over whole groups whose values it has encoded already.
//
// Not thread-safe; one owner.
#ifndef AMPMR_WORKER_TASK_RUN_WRITER_H_
#define AMPMR_WORKER_TASK_RUN_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/task/counters.h"
#include "worker/task/emitter.h"
#include "worker/task/record_io.h"

namespace ampmr::worker {

// Where one partition lies in a run file. Empty partitions have length 0.
struct PartitionExtent {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t records = 0;
};

class RunWriter final : public Emitter {
 public:
  // Creates (or truncates) `path` for a run of `partitions` partitions and
  // starts partition 0. User counters the combiner increments go to
  // *user_counters, which must outlive the writer.
  static absl::StatusOr<std::unique_ptr<RunWriter>> Create(std::string path, int partitions,
                                                           Counters* user_counters);

  // Ends the current partition and starts `partition`; partitions in between
  // are empty. REQUIRES: current partition < partition < partitions.
  void StartPartition(int partition);

  // Appends to the current partition. Keys must arrive in sorted order; the
  // writer does not check.
  void Emit(absl::string_view key, absl::string_view value) override;
  // Starts a group of `key` in the current partition, whose values follow
  // by EmitEncodedValues.
  void StartGroup(absl::string_view key) {
    if (status_.ok()) status_ = writer_->StartGroup(key);
  }
  // Appends `records` values encoded by EncodeValue (record_io.h) to the
  // group StartGroup opened.
  void EmitEncodedValues(absl::string_view values, uint64_t records) {
    if (!status_.ok()) return;
    status_ = writer_->AddEncodedValues(values);
    extents_[current_].records += records;
  }
  void IncrementCounter(absl::string_view name, int64_t amount) override;

  // The first write error, if any; Emit does nothing after one.
  const absl::Status& status() const { return status_; }

  // Ends all partitions, flushes and closes the file, and returns one extent
  // per partition. REQUIRES: called once.
  absl::StatusOr<std::vector<PartitionExtent>> Finish();

  uint64_t bytes() const { return writer_->offset(); }
  uint64_t records(int partition) const { return extents_[partition].records; }
  const std::string& path() const { return writer_->path(); }

 private:
  RunWriter(std::unique_ptr<RecordWriter> writer, int partitions, Counters* user_counters);

  std::unique_ptr<RecordWriter> writer_;
  Counters* const user_counters_;
  std::vector<PartitionExtent> extents_;
  int current_ = 0;
  absl::Status status_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_RUN_WRITER_H_
