// SortBuffer holds a map task's emitted pairs in memory, partitioned by
// reduce, until the collector spills them.
//
// Map output keys repeat (a word, a user id, a date), so the buffer keeps
// each distinct key once, in an arena, with a small entry (its first 8 bytes
// inline, its size, its partition), and the key's values, in emit order, as
// a list of pieces of arena memory holding them already encoded as a run's
// key group holds them (record_io.h). Keys are found again through a hash
// table whose slots hold the 8-byte prefix and the key's last piece, so a
// pair whose key has at most 8 bytes costs one slot read and an append to
// that piece, and the partitioner runs once per distinct key rather than
// once per pair. Sorting sorts each partition's distinct keys only; writing
// a run writes each key once and copies its pieces as they are.
//
// Looking keys up pays while they repeat: once the buffer's keys are mostly
// distinct (more than half as many keys as pairs, checked every 64K pairs),
// later pairs get a key entry each without a lookup, and the sort is a radix
// sort of them all, as it would be anyway.
//
// Not thread-safe; owned by one MapOutputCollector.
#ifndef AMPMR_WORKER_TASK_SORT_BUFFER_H_
#define AMPMR_WORKER_TASK_SORT_BUFFER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "common/key_comparator.h"
#include "worker/task/reducer.h"
#include "worker/task/run_writer.h"
#include "worker/task/spare_buffer.h"

namespace ampmr::worker {

class SortBuffer {
 public:
  // The largest key or value Add accepts (a value's piece, with its length
  // and header, must have a 32-bit size).
  static constexpr size_t kMaxFieldSize = UINT32_MAX - 64;
  // The most pairs AddBatch takes at once.
  static constexpr int kMaxBatch = 16;

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

  // Adds pairs (keys[i], values[i]) for i < n, as n calls of Add in that
  // order would, but with the hash table slots of all n, then the pieces
  // their values go to, fetched into the cache ahead, so that a batch's
  // cache misses overlap rather than come one by one. If readable_end is
  // not null, every byte from a key's start to it may be read (the block
  // the keys were cut from), which lets the 8-byte prefix of most keys be
  // loaded at once. REQUIRES: n <= kMaxBatch, and what Add requires.
  void AddBatch(const absl::string_view* keys, const absl::string_view* values, int n,
                absl::FunctionRef<int(absl::string_view)> partition_of,
                const char* readable_end = nullptr);

  // Bytes held: arena bytes in use plus key and hash table entries.
  size_t memory_usage() const {
    return arena_used_ + keys_.size() * (sizeof(Key) + sizeof(uint32_t)) +
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

  // Writes partition `partition`'s pairs in sorted order to `out`'s current
  // partition, one key group per distinct key, its values copied as they
  // are held. REQUIRES: Sort since the last Add.
  void WriteSorted(int partition, RunWriter* out) const;

  // Drops every pair; keeps the arena blocks for reuse.
  void Clear();

 private:
  // A piece of a key's value list, in the arena: `used` bytes of values
  // encoded by EncodeValue (record_io.h) follow this header.
  struct Values {
    Values* next;  // the key's next piece; null for its last
    uint32_t used;
    uint32_t capacity;
    uint32_t pairs;  // values in this piece
  };
  // A distinct key.
  struct Key {
    uint64_t prefix;   // first 8 bytes, big-endian, zero padded
    const char* data;  // in the arena
    uint32_t size;
    int partition;
    Values* values;  // the first piece
  };
  // A hash table slot: the key's index + 1 (0: empty), with its prefix and
  // size, which are the whole key when it has at most 8 bytes, and its last
  // piece, which the key's next value goes to.
  struct Slot {
    uint64_t prefix;
    Values* last;
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

  static char* Bytes(Values* v) { return reinterpret_cast<char*>(v + 1); }
  static const char* Bytes(const Values* v) { return reinterpret_cast<const char*>(v + 1); }

  char* Allocate(size_t n);
  // A new empty piece with room for `capacity` bytes of values.
  Values* NewValues(size_t capacity);
  // Appends `value` to the list whose last piece is *last, adding a piece
  // (and updating *last) when that one is full.
  void AppendValue(Values** last, absl::string_view value);
  // Adds a key entry, with a first piece of at least `capacity` bytes.
  uint32_t AddKey(absl::string_view key, uint64_t prefix, int partition, size_t capacity);
  // The slot of `key` (hash `hash`), its key added (in partition_of(key))
  // if it is new. REQUIRES: the table has room for one more key.
  size_t FindOrAddSlot(absl::string_view key, uint64_t prefix, uint64_t hash,
                       absl::FunctionRef<int(absl::string_view)> partition_of);
  // Adds `key` as a new key in the empty slot s.
  void AddSlot(size_t s, absl::string_view key, uint64_t prefix,
               absl::FunctionRef<int(absl::string_view)> partition_of);
  // Grows the table until it has room for `more` keys at most 3/4 full.
  void Reserve(size_t more);
  // Adds a pair with a key entry of its own (lookups stopped).
  void AddUnshared(absl::string_view key, absl::string_view value,
                   absl::FunctionRef<int(absl::string_view)> partition_of);
  // Counts `n` pairs added and decides, every kLookupCheckPairs, whether to
  // go on looking keys up.
  void Counted(size_t n);
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
  // By partition: its keys, in the order added until Sort, sorted after.
  std::vector<std::vector<uint32_t>> partition_keys_;
  size_t pairs_ = 0;
  size_t next_lookup_check_;
  // Open addressing over keys_, a power of two long and at most 3/4 full;
  // empty until the first lookup.
  std::vector<Slot> slots_;
  bool find_keys_ = true;  // look keys up (see the top)

  // Sort's temporary space, kept for the next Sort.
  std::vector<SortEntry> sort_keys_;
  std::vector<SortEntry> sort_scratch_;

  // The arena; kept for the same thread's next task when the buffer goes.
  std::vector<SpareBuffer> blocks_;
  size_t block_ = 0;       // index of the block being filled
  size_t block_used_ = 0;  // bytes used in blocks_[block_]
  size_t arena_used_ = 0;  // bytes used over all blocks
};

class SortBuffer::Partition final : public SortedPairs {
 public:
  Partition(const uint32_t* begin, const uint32_t* end, const std::vector<Key>* keys);

  bool Next(absl::string_view* key, absl::string_view* value) override {
    while (at_ == end_) {
      if (piece_ != nullptr && piece_->next != nullptr) {
        Start(piece_->next);
      } else if (next_key_ != keys_end_) {
        const Key& k = (*keys_)[*next_key_++];
        key_ = absl::string_view(k.data, k.size);
        Start(k.values);
      } else {
        return false;
      }
    }
    // Values the buffer encoded itself: no checks.
    uint64_t n;
    DecodeVarint64(&at_, end_, &n);
    *key = key_;
    *value = absl::string_view(at_, n - 1);
    at_ += n - 1;
    --left_;
    return true;
  }

  // Pairs not yet returned.
  size_t size() const { return left_; }

 private:
  void Start(const Values* piece) {
    piece_ = piece;
    at_ = Bytes(piece);
    end_ = at_ + piece->used;
  }

  const uint32_t* next_key_;
  const uint32_t* const keys_end_;
  const std::vector<Key>* const keys_;
  absl::string_view key_;
  const Values* piece_ = nullptr;
  const char* at_ = nullptr;
  const char* end_ = nullptr;
  size_t left_ = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_SORT_BUFFER_H_
