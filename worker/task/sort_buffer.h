// SortBuffer holds a map task's emitted pairs in memory, partitioned by
// reduce, until the collector spills them.
//
// Map output keys repeat (a word, a user id, a date), so the buffer keeps
// each distinct key once, in an arena, with a small entry (its first 8 bytes
// inline, its size, its partition), and each pair, in emit order, as a
// 16-byte entry naming its key and pointing at its value's bytes. Keys are
// found again through a hash table whose slots hold the 8-byte prefix, so a
// pair whose key has at most 8 bytes costs one slot read and two appends,
// and the partitioner runs once per distinct key rather than once per pair.
// Sorting sorts each partition's distinct keys only, then deals the pairs
// out in key order with one stable counting pass.
//
// Looking keys up pays while they repeat: once the buffer's keys are mostly
// distinct (more than half as many keys as pairs, checked every 64K pairs),
// later pairs get a key entry each without a lookup, and the sort is a radix
// sort of them all, as it would be anyway.
//
// Not thread-safe; owned by one MapOutputCollector.
#ifndef AMPMR_WORKER_TASK_SORT_BUFFER_H_
#define AMPMR_WORKER_TASK_SORT_BUFFER_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "common/key_comparator.h"
#include "worker/task/reducer.h"

namespace ampmr::worker {

class SortBuffer {
 public:
  // The largest key or value Add accepts.
  static constexpr size_t kMaxFieldSize = UINT32_MAX;

  explicit SortBuffer(int partitions);
  SortBuffer(const SortBuffer&) = delete;
  SortBuffer& operator=(const SortBuffer&) = delete;

  // Copies the pair into the buffer, in partition partition_of(key); the
  // buffer calls partition_of once per distinct key while it looks keys up
  // (see the top), which therefore must give a key the same partition every
  // time. REQUIRES: 0 <= partition_of(key) < partitions, key.size() and
  // value.size() <= kMaxFieldSize, fewer than 2^32 pairs since the last
  // Clear (the collector's buffer limit keeps far below).
  void Add(absl::string_view key, absl::string_view value,
           absl::FunctionRef<int(absl::string_view)> partition_of);

  // A hint that `key` will be added soon: fetches its hash table slot into
  // the cache.
  void Prefetch(absl::string_view key) const;

  // Bytes held: arena bytes in use plus key, pair and hash table entries.
  size_t memory_usage() const {
    return arena_used_ + keys_.size() * (sizeof(Key) + sizeof(uint32_t)) + pairs_ * sizeof(Pair) +
           slots_.size() * sizeof(Slot);
  }
  size_t pairs() const { return pairs_; }

  // One sorted partition: its pairs in order.
  class Partition;

  // Sorts every partition by key, keeping emit order among equal keys:
  // bytewise (each partition's distinct keys by a stable MSD radix sort on
  // their 8-byte prefixes, comparisons only for small groups and keys that
  // agree on all 8) unless `order` is given and not bytewise (--sort-key),
  // then by it (on its OrderPrefix first). `order` need only live for the
  // call.
  void Sort(const KeyComparator* order = nullptr);

  // Partition `partition`'s pairs in sorted order, valid until the next Add,
  // Sort or Clear. REQUIRES: Sort since the last Add.
  std::unique_ptr<Partition> Sorted(int partition) const;

  // Drops every pair; keeps the arena blocks for reuse.
  void Clear();

 private:
  // A distinct key.
  struct Key {
    uint64_t prefix;   // first 8 bytes, big-endian, zero padded
    const char* data;  // in the arena
    uint32_t size;
    int partition;
  };
  // A pair: its key (an index into keys_) and value.
  struct Pair {
    const char* value;  // in the arena
    uint32_t key;
    uint32_t value_size;
  };
  // A hash table slot: the key's index + 1 (0: empty), with its prefix and
  // size, which are the whole key when it has at most 8 bytes.
  struct Slot {
    uint64_t prefix;
    uint32_t size;
    uint32_t key;
  };
  // What Sort orders: a key's prefix (or OrderPrefix), bytes and index.
  struct SortEntry {
    uint64_t prefix;
    const char* data;
    uint32_t size;
    uint32_t key;
  };

  char* Allocate(size_t n);
  // The index of `key` in keys_, added (in partition_of(key)) if it is new.
  uint32_t FindOrAddKey(absl::string_view key, uint64_t prefix,
                        absl::FunctionRef<int(absl::string_view)> partition_of);
  uint32_t AddKey(absl::string_view key, uint64_t prefix, int partition);
  void GrowSlots();
  // Calls fn(pair) for every pair in emit order.
  template <typename Fn>
  void ForEachPair(Fn fn) const {
    for (size_t start = 0; start < pairs_; start += kPairChunk) {
      const Pair* chunk = pair_chunks_[start / kPairChunk].get();
      const size_t n = std::min(kPairChunk, pairs_ - start);
      for (size_t i = 0; i < n; ++i) fn(chunk[i]);
    }
  }
  // Orders sort_keys_ (one partition's keys) stably by `order`, null:
  // bytewise.
  void SortKeys(const KeyComparator* order);

  static bool Less(const SortEntry& a, const SortEntry& b);
  static void InsertionSort(SortEntry* a, size_t n);
  // Sorts x[0, n) by prefix byte `byte` (0 = most significant) and beyond,
  // using y[0, n) as scratch; the result ends up in y if into_y, else in x.
  static void RadixSort(SortEntry* x, SortEntry* y, size_t n, int byte, bool into_y);
  // Sorts entries whose prefixes are all equal.
  static void SortEqualPrefixes(SortEntry* a, SortEntry* tmp, size_t n);

  std::vector<Key> keys_;
  std::vector<std::vector<uint32_t>> partition_keys_;  // by partition: its keys
  // The pairs in emit order, in chunks of kPairChunk (so that growing
  // never copies them), kept for reuse after Clear.
  static constexpr size_t kPairChunk = size_t{1} << 16;
  std::vector<std::unique_ptr<Pair[]>> pair_chunks_;
  size_t pairs_ = 0;
  // Open addressing over keys_, a power of two long and at most 3/4 full;
  // empty until the first lookup.
  std::vector<Slot> slots_;
  bool find_keys_ = true;  // look keys up (see the top)

  // What Sort makes: the pairs by partition and key, and where each
  // partition starts (partitions + 1 entries).
  std::unique_ptr<Pair[]> sorted_;
  size_t sorted_capacity_ = 0;
  std::vector<size_t> partition_start_;
  // Sort's temporary space, kept for the next Sort.
  std::vector<SortEntry> sort_keys_;
  std::vector<SortEntry> sort_scratch_;
  std::vector<uint32_t> cursor_;  // by key: where its next pair goes

  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<size_t> block_sizes_;
  size_t block_ = 0;       // index of the block being filled
  size_t block_used_ = 0;  // bytes used in blocks_[block_]
  size_t arena_used_ = 0;  // bytes used over all blocks
};

class SortBuffer::Partition final : public SortedPairs {
 public:
  Partition(const Pair* begin, const Pair* end, const std::vector<Key>* keys)
      : next_(begin), end_(end), keys_(keys) {}

  bool Next(absl::string_view* key, absl::string_view* value) override {
    if (next_ == end_) return false;
    const Pair& p = *next_++;
    const Key& k = (*keys_)[p.key];
    *key = absl::string_view(k.data, k.size);
    *value = absl::string_view(p.value, p.value_size);
    return true;
  }

  // Pairs not yet returned.
  size_t size() const { return static_cast<size_t>(end_ - next_); }

 private:
  const Pair* next_;
  const Pair* const end_;
  const std::vector<Key>* const keys_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_SORT_BUFFER_H_
