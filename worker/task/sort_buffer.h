// SortBuffer holds a map task's emitted pairs in memory, partitioned by
// reduce, until the collector spills them: each pair goes to arena blocks
// already encoded as a record (record_io.h), so a spill copies it out whole,
// and each partition keeps a small index entry per pair (with the key's
// first 8 bytes inline, so most comparisons never touch the arena).
//
// Not thread-safe; owned by one MapOutputCollector.
#ifndef AMPMR_WORKER_TASK_SORT_BUFFER_H_
#define AMPMR_WORKER_TASK_SORT_BUFFER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/key_comparator.h"
#include "worker/task/record_io.h"
#include "worker/task/reducer.h"

namespace ampmr::worker {

class SortBuffer {
 public:
  // The largest key or value Add accepts.
  static constexpr size_t kMaxFieldSize = UINT32_MAX;

  explicit SortBuffer(int partitions);
  SortBuffer(const SortBuffer&) = delete;
  SortBuffer& operator=(const SortBuffer&) = delete;

  // Copies the pair into the buffer. REQUIRES: 0 <= partition < partitions,
  // key.size() and value.size() <= kMaxFieldSize.
  void Add(int partition, absl::string_view key, absl::string_view value);

  // Bytes held: arena bytes in use plus index entries.
  size_t memory_usage() const { return arena_used_ + pairs_ * sizeof(Entry); }
  size_t pairs() const { return pairs_; }
  size_t pairs(int partition) const { return entries_[partition].size(); }

  // One sorted partition: its pairs, or their encoded records, in order.
  class Partition;

  // Sorts `partition` by key, keeping emit order among equal keys, and
  // returns its pairs in that order: bytewise (a stable MSD radix sort on
  // the 8-byte key prefixes, comparisons only for small groups and keys that
  // agree on all 8) unless `order` is given and not bytewise (--sort-key),
  // then a stable comparison sort by it (on its OrderPrefix first, which
  // replaces the byte prefixes). The stream is valid until the next
  // Add or Clear. `order` need only live for the call.
  std::unique_ptr<Partition> Sort(int partition, const KeyComparator* order = nullptr);

  // Drops every pair; keeps the arena blocks for reuse.
  void Clear();

 private:
  struct Entry {
    uint64_t prefix;  // first 8 key bytes, big-endian, zero padded
    const char* key;  // key bytes, then value bytes, in the arena, after the
                      // record header (the two varint lengths)
    uint32_t key_size;
    uint32_t value_size;
  };

  char* Allocate(size_t n);
  static bool Less(const Entry& a, const Entry& b);
  static void InsertionSort(Entry* a, size_t n);
  // Sorts x[0, n) by prefix byte `byte` (0 = most significant) and beyond,
  // using y[0, n) as scratch; the result ends up in y if into_y, else in x.
  static void RadixSort(Entry* x, Entry* y, size_t n, int byte, bool into_y);
  // Sorts entries whose prefixes are all equal.
  static void SortEqualPrefixes(Entry* a, Entry* tmp, size_t n);

  std::vector<std::vector<Entry>> entries_;  // by partition
  std::vector<Entry> scratch_;               // Sort's temporary space
  size_t pairs_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<size_t> block_sizes_;
  size_t block_ = 0;       // index of the block being filled
  size_t block_used_ = 0;  // bytes used in blocks_[block_]
  size_t arena_used_ = 0;  // bytes used over all blocks
};

class SortBuffer::Partition final : public SortedPairs {
 public:
  explicit Partition(const std::vector<Entry>* entries) : entries_(entries) {}

  bool Next(absl::string_view* key, absl::string_view* value) override {
    if (next_ == entries_->size()) return false;
    const Entry& e = (*entries_)[next_++];
    *key = absl::string_view(e.key, e.key_size);
    *value = absl::string_view(e.key + e.key_size, e.value_size);
    return true;
  }

  // Like Next, but yields the pair's encoded record.
  bool NextRecord(absl::string_view* record) {
    if (next_ == entries_->size()) return false;
    const Entry& e = (*entries_)[next_++];
    const size_t header = VarintLength(e.key_size) + VarintLength(e.value_size);
    *record = absl::string_view(e.key - header, header + e.key_size + e.value_size);
    return true;
  }

 private:
  const std::vector<Entry>* entries_;
  size_t next_ = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_SORT_BUFFER_H_
