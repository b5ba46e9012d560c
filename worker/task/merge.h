// MergingPairs: a k-way merge of sorted runs in record format (record_io.h),
// exposed as one SortedPairs stream. It is how the map side merges its spill
// runs and how a reduce task merges partition r of every map output.
//
// Keys come out in the runs' order (bytewise, or a --sort-key comparator).
// Equal keys come out in run order (all of run 0's, then run 1's, ...), and
// in their order within a run, so the merge is stable. A corrupt run ends the
// stream and status() reports DATA_LOSS naming the run and offset.
//
// Runs hold each key's records together, in groups (record_io.h), so most
// records follow one of the same key from the same run: such a record comes
// next with no comparison at all (it still goes first), and the heap works
// once per group, on 8-byte key prefixes, comparing bytes only when those
// tie.
//
// The views Next returns point into the runs' bytes, so they stay valid as
// long as the runs do (longer than SortedPairs promises).
//
// Not thread-safe.
#ifndef AMPMR_WORKER_TASK_MERGE_H_
#define AMPMR_WORKER_TASK_MERGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/key_comparator.h"
#include "common/key_prefix.h"
#include "worker/task/record_io.h"
#include "worker/task/reducer.h"

namespace ampmr::worker {

// One sorted run: its bytes, and what names them in errors.
struct RunInput {
  absl::string_view data;
  std::string name;          // a path
  uint64_t base_offset = 0;  // file offset of data[0]
};

class MergingPairs final : public SortedPairs {
 public:
  // The runs' bytes must outlive the merge. Runs may be empty. The runs are
  // sorted by `order` (null: bytewise), which must outlive the merge.
  explicit MergingPairs(const std::vector<RunInput>& runs, const KeyComparator* order = nullptr);
  MergingPairs(const MergingPairs&) = delete;
  MergingPairs& operator=(const MergingPairs&) = delete;

  bool Next(absl::string_view* key, absl::string_view* value) override;
  absl::Status status() const override { return status_; }

  // Whether the pair Next last returned has the same key as the one before
  // it. REQUIRES: the last Next returned true.
  bool same_key() const { return same_key_; }

 private:
  struct Cursor {
    RecordReader reader;
    absl::string_view key;
    absl::string_view value;
    size_t run;           // breaks ties between equal keys
    uint64_t prefix = 0;  // KeyPrefix of key, or its OrderPrefix with an order
  };

  // True if a's record goes first.
  bool Before(const Cursor* a, const Cursor* b) const {
    int c = order_ == nullptr ? CompareGivenPrefixes(a->prefix, a->key, b->prefix, b->key)
                              : order_->ComparePrefixed(a->prefix, a->key, b->prefix, b->key);
    return c < 0 || (c == 0 && a->run < b->run);
  }
  // Whether c's key is `key`, whose prefix is `prefix`. An order's prefixes
  // may tie for different bytes, so with one all the bytes compare.
  bool HasKey(const Cursor* c, uint64_t prefix, absl::string_view key) const {
    if (c->prefix != prefix) return false;
    return order_ == nullptr ? SameKeyGivenPrefix(c->key, key) : c->key == key;
  }
  // Moves c to its run's first record; false if it has none or on error.
  bool Start(Cursor* c);
  // Sets c's prefix for its key.
  void SetPrefix(Cursor* c) {
    c->prefix = order_ == nullptr ? KeyPrefix(c->key) : order_->OrderPrefix(c->key);
  }
  void SiftDown(size_t i);

  const KeyComparator* const order_;  // null: bytewise
  std::vector<Cursor> cursors_;
  std::vector<Cursor*> heap_;  // min-heap by Before; heap_[0] comes next
  bool started_ = false;       // the heap has been built
  bool top_taken_ = false;     // heap_[0]'s record was returned by Next
  bool same_key_ = false;
  absl::Status status_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_MERGE_H_
