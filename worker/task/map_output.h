// MapOutputCollector is the Emitter a mapper writes to. It splits streaming
// lines into key and value by the job's KeySpec, partitions pairs with a
// KeyPartitioner (a hash of the key or of its first fields, or total-order
// cut points), buffers them in memory, and whenever the buffer passes its
// limit spills a sorted run to disk: each partition sorted by key (stable;
// bytewise, or by --sort-key) and passed through the combiner, if any. Finish()
// merges the runs into ONE map output file, partitions concatenated in order
// (record_io.h format), written under a temporary name and renamed into
// place, and reports where each partition lies.
//
// The combiner runs exactly once on every pair, when its buffer is spilled, so
// a combiner need not be idempotent (builtin:count feeding a sum reducer is
// right). Only builtin:sum, whose result does not depend on grouping, runs
// again while merging runs, to shrink the output. Built-in combiners keep key
// order; the output of exec and plugin combiners, which need not, is sorted
// again (stably) before it is written.
//
// Fast path: when the combiner is builtin:sum, pairs are not buffered at all
// but summed in a hash table as they arrive (sum_table.h), which gives the
// same output for much less work.
//
// Not thread-safe: the map task thread owns it.
#ifndef AMPMR_WORKER_TASK_MAP_OUTPUT_H_
#define AMPMR_WORKER_TASK_MAP_OUTPUT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/key_comparator.h"
#include "common/key_spec.h"
#include "common/task_spec.h"
#include "worker/task/attempt_context.h"
#include "worker/task/counters.h"
#include "worker/task/emitter.h"
#include "worker/task/key_partitioner.h"
#include "worker/task/merge.h"
#include "worker/task/reducer.h"
#include "worker/task/run_writer.h"
#include "worker/task/sort_buffer.h"
#include "worker/task/sum_table.h"

namespace ampmr::worker {

struct MapOutputOptions {
  static constexpr size_t kDefaultBufferLimit = size_t{256} << 20;

  // Number of reduce partitions, R >= 1.
  int partitions = 1;

  // How lines split into key and value, and how keys are partitioned and
  // ordered; the default is the first tab, a hash of the key, bytewise.
  KeySpec keys;
  // --total-order: R-1 cut points sorted by `keys`' order; empty: hash.
  std::vector<std::string> cut_points;

  // The combiner; Kind::kNone for none.
  TaskSpec combiner;
  // The attempt, for an exec or plugin combiner.
  AttemptContext combiner_context;

  // Bytes of buffered pairs (or of the sum table) that trigger a spill.
  size_t buffer_limit = kDefaultBufferLimit;

  // Spill runs are written to "<spill_prefix>.spill-<n>" and removed by
  // Finish() or the destructor; the directory is made, if missing, by the
  // first file written (an attempt with no output touches no directory).
  std::string spill_prefix;

  // If non-null and set, spilling and Finish() stop with CANCELLED.
  const std::atomic<bool>* cancelled = nullptr;
};

class MapOutputCollector final : public Emitter {
 public:
  // Fails if the combiner cannot be made (see MakeReducer) or R < 1.
  static absl::StatusOr<std::unique_ptr<MapOutputCollector>> Create(MapOutputOptions options);

  MapOutputCollector(const MapOutputCollector&) = delete;
  MapOutputCollector& operator=(const MapOutputCollector&) = delete;
  // Removes spill runs and any unfinished output file.
  ~MapOutputCollector() override;

  void Emit(absl::string_view key, absl::string_view value) override;
  void EmitLine(absl::string_view line) override;
  // Lines in batches whose keys' hash table slots are fetched ahead, so that
  // the cache misses of a batch overlap rather than come one by one.
  void EmitLines(absl::string_view lines) override;
  void IncrementCounter(absl::string_view name, int64_t amount) override;

  // The first error (a failed spill, a non-integer value for the sum
  // combiner, a combiner error); Emit drops pairs once there is one.
  const absl::Status& status() const { return status_; }

  // Writes the map output to `path` (via "<path>.tmp" and a rename) and
  // returns one extent per partition; empty partitions take 0 bytes. On
  // failure nothing is left at either name. With no pairs at all, no file is
  // written and every extent is empty. REQUIRES: called at most once.
  absl::StatusOr<std::vector<PartitionExtent>> Finish(const std::string& path);

  // Sets map_output_records, combine_input_records, combine_output_records
  // and spilled_bytes in `framework`, and adds the user counters to `user`.
  void AddCountersTo(v1::FrameworkCounters* framework, Counters* user) const;

  // Spill runs written so far (not counting a single run written as the
  // output itself).
  int spills() const { return static_cast<int>(runs_.size()); }

 private:
  struct Run {
    std::string path;
    uint64_t size = 0;
    std::vector<PartitionExtent> extents;
  };

  MapOutputCollector(MapOutputOptions options, std::unique_ptr<Reducer> combiner);

  void EmitToSums(absl::string_view key, absl::string_view value);
  bool Cancelled() const;
  bool HasBuffered() const;
  // A run writer for `path`, after making the spill directory if missing.
  absl::StatusOr<std::unique_ptr<RunWriter>> CreateRun(const std::string& path);
  absl::Status Spill();
  // Writes what is buffered, sorted and combined, to `out`, then clears it.
  absl::Status WriteBuffered(RunWriter* out);
  absl::Status WriteSums(RunWriter* out);
  // Runs the combiner over one sorted partition into `out`.
  absl::Status Combine(SortedPairs* in, RunWriter* out);
  absl::StatusOr<std::vector<PartitionExtent>> MergeRuns(const std::string& path);
  absl::Status MergePartition(int partition, const std::vector<RunInput>& inputs, uint64_t records,
                              RunWriter* out);
  void RemoveFiles();

  // Constant after construction.
  const MapOutputOptions options_;
  const KeyComparator order_;
  const KeyPartitioner partitioner_;
  const std::unique_ptr<Reducer> combiner_;   // null if none
  const bool combine_merges_;                 // run combiner_ again when merging runs
  const bool resort_combined_;                // combiner_'s output may be out of order
  const std::unique_ptr<SumTable> sums_;      // the builtin sum fast path, else null
  const std::unique_ptr<SortBuffer> buffer_;  // null on the fast path

  std::unique_ptr<SortBuffer> combined_;  // resort_combined_: one partition's output
  std::vector<Run> runs_;
  bool made_dir_ = false;        // the spill directory is known to exist
  std::string unfinished_path_;  // a file being written that Finish has not renamed
  absl::Status status_;
  Counters user_counters_;
  int64_t output_records_ = 0;
  int64_t combine_input_records_ = 0;
  int64_t combine_output_records_ = 0;
  int64_t spilled_bytes_ = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_MAP_OUTPUT_H_
