#include "worker/task/sort_buffer.h"

#include <algorithm>
#include <cstring>

#include "absl/base/attributes.h"
#include "common/key_prefix.h"
#include "worker/task/copy_bytes.h"
#include "worker/task/record_io.h"
#include "worker/task/stable_hash.h"

namespace ampmr::worker {
namespace {

constexpr size_t kBlockSize = size_t{4} << 20;
// How often Add asks whether looking keys up still pays.
constexpr size_t kLookupCheckPairs = size_t{1} << 16;
constexpr size_t kMinSlots = 64;
// A key's first piece of values has room for this many bytes (8 values of
// one byte), and each next one twice the last, up to kMaxPiece.
constexpr size_t kFirstPiece = 16;
constexpr size_t kMaxPiece = size_t{16} << 10;

// A hash of the key, given its prefix: a key of up to 8 bytes is its prefix
// and size, so one multiply mixes it.
inline uint64_t KeyHash(const char* data, size_t size, uint64_t prefix) {
  if (size <= 8) {
    return hash_internal::Mum(prefix ^ hash_internal::kP0, size ^ hash_internal::kP1);
  }
  return StableHash64(absl::string_view(data, size));
}

// Bytes past the 8 of the prefix, which equal prefixes and sizes leave to
// compare.
inline bool SameTail(const char* a, const char* b, size_t size) {
  if (size <= 8) return true;
  if (size <= 16) {  // the last 8 bytes cover the rest
    uint64_t x, y;
    std::memcpy(&x, a + size - 8, 8);
    std::memcpy(&y, b + size - 8, 8);
    return x == y;
  }
  return std::memcmp(a + 8, b + 8, size - 8) == 0;
}

// KeyPrefix of the `size` bytes at p, given that 8 bytes at p may be read:
// one load, no branch on the size.
inline uint64_t PrefixOfReadable(const char* p, size_t size) {
  const uint64_t v = key_prefix_internal::Load64BigEndian(p);
  return size >= 8 ? v : v & ~(~uint64_t{0} >> (8 * size));
}

}  // namespace

SortBuffer::SortBuffer(int partitions)
    : partition_keys_(partitions), next_lookup_check_(kLookupCheckPairs) {}

char* SortBuffer::Allocate(size_t n) {
  while (block_ < blocks_.size() && blocks_[block_].size() - block_used_ < n) {
    ++block_;
    block_used_ = 0;
  }
  if (block_ == blocks_.size()) {
    blocks_.emplace_back(std::max(kBlockSize, n));
    block_used_ = 0;
  }
  char* p = blocks_[block_].get() + block_used_;
  block_used_ += n;
  arena_used_ += n;
  return p;
}

SortBuffer::Values* SortBuffer::NewValues(size_t capacity) {
  // Pieces start 8-byte aligned (blocks are, and pieces are made multiples
  // of 8 long).
  capacity = (capacity + sizeof(Values) + 7) / 8 * 8 - sizeof(Values);
  const size_t pad = (8 - block_used_ % 8) % 8;
  if (pad > 0 && block_ < blocks_.size() && blocks_[block_].size() - block_used_ >= pad) {
    block_used_ += pad;
    arena_used_ += pad;
  }
  auto* v = reinterpret_cast<Values*>(Allocate(sizeof(Values) + capacity));
  *v = Values{nullptr, 0, static_cast<uint32_t>(capacity), 0};
  return v;
}

inline void SortBuffer::AppendValue(Values** last, absl::string_view value) {
  Values* v = *last;
  if (value.size() < 0x7f && v->capacity - v->used > value.size()) {
    // The common case: a short value (one byte of length) that fits.
    char* p = Bytes(v) + v->used;
    *p = static_cast<char>(value.size() + 1);
    CopyBytes(p + 1, value);
    v->used += static_cast<uint32_t>(value.size() + 1);
    ++v->pairs;
    return;
  }
  const size_t need = EncodedValueSize(value);
  if (v->capacity - v->used < need) {
    Values* more = NewValues(std::max(need, std::min<size_t>(2 * v->capacity, kMaxPiece)));
    v->next = more;
    *last = more;
    v = more;
  }
  char* const bytes = Bytes(v);
  v->used = static_cast<uint32_t>(EncodeValue(bytes + v->used, value) - bytes);
  ++v->pairs;
}

uint32_t SortBuffer::AddKey(absl::string_view key, uint64_t prefix, int partition,
                            size_t capacity) {
  char* data = nullptr;
  if (!key.empty()) {
    data = Allocate(key.size());
    std::memcpy(data, key.data(), key.size());
  }
  const auto index = static_cast<uint32_t>(keys_.size());
  keys_.push_back(
      {prefix, data, static_cast<uint32_t>(key.size()), partition, NewValues(capacity)});
  partition_keys_[partition].push_back(index);
  return index;
}

void SortBuffer::Reserve(size_t more) {
  if (4 * (keys_.size() + more) <= 3 * slots_.size()) return;
  size_t size = std::max(kMinSlots, slots_.size());
  while (4 * (keys_.size() + more) > 3 * size) size *= 2;
  std::vector<Slot> old(size, Slot{0, nullptr, 0, 0});
  old.swap(slots_);
  const size_t mask = size - 1;
  for (const Slot& slot : old) {
    if (slot.key == 0) continue;
    const Key& k = keys_[slot.key - 1];
    size_t s = KeyHash(k.data, k.size, k.prefix) & mask;
    while (slots_[s].key != 0) s = (s + 1) & mask;
    slots_[s] = slot;
  }
}

inline size_t SortBuffer::FindOrAddSlot(absl::string_view key, uint64_t prefix, uint64_t hash,
                                        absl::FunctionRef<int(absl::string_view)> partition_of) {
  const size_t mask = slots_.size() - 1;
  size_t s = hash & mask;
  while (true) {
    const Slot& slot = slots_[s];
    if (slot.key == 0) break;
    if (slot.prefix == prefix && slot.size == key.size() &&
        SameTail(keys_[slot.key - 1].data, key.data(), key.size())) {
      return s;
    }
    s = (s + 1) & mask;
  }
  AddSlot(s, key, prefix, partition_of);
  return s;
}

ABSL_ATTRIBUTE_NOINLINE void SortBuffer::AddSlot(
    size_t s, absl::string_view key, uint64_t prefix,
    absl::FunctionRef<int(absl::string_view)> partition_of) {
  const uint32_t index = AddKey(key, prefix, partition_of(key), kFirstPiece);
  slots_[s] = {prefix, keys_[index].values, static_cast<uint32_t>(key.size()), index + 1};
}

void SortBuffer::AddUnshared(absl::string_view key, absl::string_view value,
                             absl::FunctionRef<int(absl::string_view)> partition_of) {
  const uint32_t k = AddKey(key, KeyPrefix(key), partition_of(key), EncodedValueSize(value));
  AppendValue(&keys_[k].values, value);
}

void SortBuffer::Counted(size_t n) {
  pairs_ += n;
  if (pairs_ < next_lookup_check_) return;
  next_lookup_check_ = pairs_ + kLookupCheckPairs;
  // Mostly distinct keys: a lookup per pair finds nothing to share.
  if (find_keys_ && 2 * keys_.size() > pairs_) find_keys_ = false;
}

void SortBuffer::Add(absl::string_view key, absl::string_view value,
                     absl::FunctionRef<int(absl::string_view)> partition_of) {
  if (!find_keys_) {
    AddUnshared(key, value, partition_of);
  } else {
    Reserve(1);
    const uint64_t prefix = KeyPrefix(key);
    const size_t s =
        FindOrAddSlot(key, prefix, KeyHash(key.data(), key.size(), prefix), partition_of);
    AppendValue(&slots_[s].last, value);
  }
  Counted(1);
}

void SortBuffer::AddBatch(const absl::string_view* keys, const absl::string_view* values, int n,
                          absl::FunctionRef<int(absl::string_view)> partition_of,
                          const char* readable_end) {
  if (!find_keys_) {
    for (int i = 0; i < n; ++i) AddUnshared(keys[i], values[i], partition_of);
    Counted(n);
    return;
  }
  // Room for every key to be new, so that no slot moves during the batch.
  Reserve(n);
  const size_t mask = slots_.size() - 1;
  uint64_t prefixes[kMaxBatch];
  uint64_t hashes[kMaxBatch];
  size_t slots[kMaxBatch];
  for (int i = 0; i < n; ++i) {
    const char* const data = keys[i].data();
    prefixes[i] = readable_end != nullptr && readable_end - data >= 8
                      ? PrefixOfReadable(data, keys[i].size())
                      : KeyPrefix(keys[i]);
    hashes[i] = KeyHash(keys[i].data(), keys[i].size(), prefixes[i]);
    __builtin_prefetch(&slots_[hashes[i] & mask]);
  }
  for (int i = 0; i < n; ++i) {
    slots[i] = FindOrAddSlot(keys[i], prefixes[i], hashes[i], partition_of);
    __builtin_prefetch(slots_[slots[i]].last, 1);
  }
  for (int i = 0; i < n; ++i) AppendValue(&slots_[slots[i]].last, values[i]);
  Counted(n);
}

namespace {

// Groups this small are sorted by insertion.
constexpr size_t kInsertionSortMax = 24;

}  // namespace

// Bytewise key order, given the 8-byte zero-padded prefixes: equal prefixes
// mean the first min(size, 8) bytes are equal, so only bytes past 8 can
// differ, and short keys (most words) never need memcmp.
bool SortBuffer::Less(const SortEntry& a, const SortEntry& b) {
  if (a.prefix != b.prefix) return a.prefix < b.prefix;
  size_t n = std::min(a.size, b.size);
  if (n > 8) {
    int c = std::memcmp(a.data + 8, b.data + 8, n - 8);
    if (c != 0) return c < 0;
  }
  return a.size < b.size;
}

void SortBuffer::InsertionSort(SortEntry* a, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    SortEntry e = a[i];
    size_t j = i;
    for (; j > 0 && Less(e, a[j - 1]); --j) a[j] = a[j - 1];
    a[j] = e;
  }
}

void SortBuffer::SortEqualPrefixes(SortEntry* a, SortEntry* tmp, size_t n) {
  // Keys of up to 8 bytes then differ only in length (padding zeros against
  // real ones): a stable counting sort by length. Longer keys compare.
  size_t count[10] = {0};
  for (size_t i = 0; i < n; ++i) ++count[std::min<uint32_t>(a[i].size, 9)];
  if (count[9] > 0) {
    std::stable_sort(a, a + n, Less);
    return;
  }
  for (size_t c : count) {
    if (c == n) return;  // all the same key
  }
  size_t start[10];
  size_t sum = 0;
  for (int k = 0; k < 10; ++k) {
    start[k] = sum;
    sum += count[k];
  }
  for (size_t i = 0; i < n; ++i) tmp[start[a[i].size]++] = a[i];
  std::copy(tmp, tmp + n, a);
}

// One MSD radix level per call: a stable counting sort of x into y by prefix
// byte `byte`, then each bucket sorted on from y with x as scratch, so the
// data moves once per level (no copying back). into_y says where the result
// must end up.
void SortBuffer::RadixSort(SortEntry* x, SortEntry* y, size_t n, int byte, bool into_y) {
  while (true) {
    if (n <= kInsertionSortMax || byte == 8) {
      if (into_y) {
        std::copy(x, x + n, y);
        std::swap(x, y);
      }
      if (n <= kInsertionSortMax) {
        InsertionSort(x, n);
      } else {
        SortEqualPrefixes(x, y, n);
      }
      return;
    }
    const int shift = 56 - 8 * byte;
    size_t count[256] = {0};
    for (size_t i = 0; i < n; ++i) ++count[(x[i].prefix >> shift) & 0xff];
    if (count[(x[0].prefix >> shift) & 0xff] == n) {  // one bucket: next byte
      ++byte;
      continue;
    }
    size_t next[256];
    size_t sum = 0;
    for (int b = 0; b < 256; ++b) {
      next[b] = sum;
      sum += count[b];
    }
    for (size_t i = 0; i < n; ++i) y[next[(x[i].prefix >> shift) & 0xff]++] = x[i];
    // The buckets are in y now; sorting each from y leaves it in x unless it
    // is to stay in y.
    size_t begin = 0;
    for (int b = 0; b < 256; ++b) {
      if (count[b] > 0) RadixSort(y + begin, x + begin, count[b], byte + 1, !into_y);
      begin += count[b];
    }
    return;
  }
}

void SortBuffer::SortKeys(const KeyComparator* order) {
  const size_t n = sort_keys_.size();
  if (order == nullptr) {
    sort_scratch_.resize(n);
    if (n > 0) RadixSort(sort_keys_.data(), sort_scratch_.data(), n, 0, /*into_y=*/false);
    return;
  }
  std::stable_sort(sort_keys_.begin(), sort_keys_.end(),
                   [order](const SortEntry& a, const SortEntry& b) {
                     return order->ComparePrefixed(a.prefix, absl::string_view(a.data, a.size),
                                                   b.prefix, absl::string_view(b.data, b.size)) < 0;
                   });
}

void SortBuffer::Sort(const KeyComparator* order) {
  // Each partition's distinct keys are ordered; a key's values are already
  // in emit order. Keys with the same bytes, kept apart once lookups
  // stopped, stay in the order they were added (the key sorts are stable),
  // which is their pairs' emit order: those added after the stop have one
  // pair each, and no pair went to an earlier key after it.
  if (order != nullptr && order->bytewise()) order = nullptr;
  for (std::vector<uint32_t>& keys : partition_keys_) {
    sort_keys_.resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const Key& k = keys_[keys[i]];
      const uint64_t prefix =
          order == nullptr ? k.prefix : order->OrderPrefix(absl::string_view(k.data, k.size));
      sort_keys_[i] = {prefix, k.data, k.size, keys[i]};
    }
    SortKeys(order);
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = sort_keys_[i].key;
  }
}

std::unique_ptr<SortBuffer::Partition> SortBuffer::Sorted(int partition) const {
  const std::vector<uint32_t>& keys = partition_keys_[partition];
  return std::make_unique<Partition>(keys.data(), keys.data() + keys.size(), &keys_);
}

void SortBuffer::WriteSorted(int partition, RunWriter* out) const {
  for (uint32_t index : partition_keys_[partition]) {
    const Key& k = keys_[index];
    out->StartGroup(absl::string_view(k.data, k.size));
    for (const Values* v = k.values; v != nullptr; v = v->next) {
      out->EmitEncodedValues(absl::string_view(Bytes(v), v->used), v->pairs);
    }
  }
}

void SortBuffer::Clear() {
  for (std::vector<uint32_t>& keys : partition_keys_) keys.clear();
  keys_.clear();
  pairs_ = 0;
  next_lookup_check_ = kLookupCheckPairs;
  slots_.clear();
  find_keys_ = true;
  block_ = 0;
  block_used_ = 0;
  arena_used_ = 0;
}

SortBuffer::Partition::Partition(const uint32_t* begin, const uint32_t* end,
                                 const std::vector<Key>* keys)
    : next_key_(begin), keys_end_(end), keys_(keys) {
  for (const uint32_t* k = begin; k != end; ++k) {
    for (const Values* v = (*keys)[*k].values; v != nullptr; v = v->next) left_ += v->pairs;
  }
}

}  // namespace ampmr::worker
