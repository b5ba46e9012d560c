#include "worker/task/sort_buffer.h"

#include <algorithm>
#include <cstring>

#include "common/key_prefix.h"
#include "worker/task/stable_hash.h"

namespace ampmr::worker {
namespace {

constexpr size_t kBlockSize = size_t{4} << 20;
// How often Add asks whether looking keys up still pays.
constexpr size_t kLookupCheckPairs = size_t{1} << 16;
constexpr size_t kMinSlots = 64;

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
  return size <= 8 || std::memcmp(a + 8, b + 8, size - 8) == 0;
}

}  // namespace

SortBuffer::SortBuffer(int partitions) : partition_keys_(partitions) {}

char* SortBuffer::Allocate(size_t n) {
  while (block_ < blocks_.size() && block_sizes_[block_] - block_used_ < n) {
    ++block_;
    block_used_ = 0;
  }
  if (block_ == blocks_.size()) {
    size_t size = std::max(kBlockSize, n);
    blocks_.emplace_back(new char[size]);
    block_sizes_.push_back(size);
    block_used_ = 0;
  }
  char* p = blocks_[block_].get() + block_used_;
  block_used_ += n;
  arena_used_ += n;
  return p;
}

uint32_t SortBuffer::AddKey(absl::string_view key, uint64_t prefix, int partition) {
  char* data = nullptr;
  if (!key.empty()) {
    data = Allocate(key.size());
    std::memcpy(data, key.data(), key.size());
  }
  const auto index = static_cast<uint32_t>(keys_.size());
  keys_.push_back({prefix, data, static_cast<uint32_t>(key.size()), partition});
  partition_keys_[partition].push_back(index);
  return index;
}

void SortBuffer::GrowSlots() {
  const size_t size = std::max(kMinSlots, 2 * slots_.size());
  slots_.assign(size, Slot{0, 0, 0});
  const size_t mask = size - 1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    const Key& k = keys_[i];
    size_t s = KeyHash(k.data, k.size, k.prefix) & mask;
    while (slots_[s].key != 0) s = (s + 1) & mask;
    slots_[s] = {k.prefix, k.size, static_cast<uint32_t>(i + 1)};
  }
}

uint32_t SortBuffer::FindOrAddKey(absl::string_view key, uint64_t prefix,
                                  absl::FunctionRef<int(absl::string_view)> partition_of) {
  if (4 * (keys_.size() + 1) > 3 * slots_.size()) GrowSlots();
  const size_t mask = slots_.size() - 1;
  size_t s = KeyHash(key.data(), key.size(), prefix) & mask;
  while (true) {
    const Slot& slot = slots_[s];
    if (slot.key == 0) break;
    if (slot.prefix == prefix && slot.size == key.size() &&
        SameTail(keys_[slot.key - 1].data, key.data(), key.size())) {
      return slot.key - 1;
    }
    s = (s + 1) & mask;
  }
  const uint32_t index = AddKey(key, prefix, partition_of(key));
  slots_[s] = {prefix, static_cast<uint32_t>(key.size()), index + 1};
  return index;
}

void SortBuffer::Prefetch(absl::string_view key) const {
  if (!find_keys_ || slots_.empty()) return;
  const size_t s = KeyHash(key.data(), key.size(), KeyPrefix(key)) & (slots_.size() - 1);
  __builtin_prefetch(&slots_[s]);
}

void SortBuffer::Add(absl::string_view key, absl::string_view value,
                     absl::FunctionRef<int(absl::string_view)> partition_of) {
  const uint64_t prefix = KeyPrefix(key);
  const uint32_t k =
      find_keys_ ? FindOrAddKey(key, prefix, partition_of) : AddKey(key, prefix, partition_of(key));
  char* v = nullptr;
  if (!value.empty()) {
    v = Allocate(value.size());
    std::memcpy(v, value.data(), value.size());
  }
  const size_t chunk = pairs_ / kPairChunk;
  if (chunk == pair_chunks_.size()) pair_chunks_.emplace_back(new Pair[kPairChunk]);
  pair_chunks_[chunk][pairs_ % kPairChunk] = {v, k, static_cast<uint32_t>(value.size())};
  ++pairs_;
  // Mostly distinct keys: a lookup per pair finds nothing to share.
  if (pairs_ % kLookupCheckPairs == 0 && find_keys_ && 2 * keys_.size() > pairs_) {
    find_keys_ = false;
  }
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
  // Phases: count each key's pairs; partition by partition, order the
  // distinct keys and give each its place in the output; then deal the
  // pairs out in emit order, which keeps equal keys' pairs in that order.
  // Keys with the same bytes, kept apart once lookups stopped, stay in the
  // order they were added (the key sorts are stable), which is their pairs'
  // emit order: those added after the stop have one pair each, and no pair
  // refers to an earlier key after it.
  if (order != nullptr && order->bytewise()) order = nullptr;
  cursor_.assign(keys_.size(), 0);
  ForEachPair([this](const Pair& p) { ++cursor_[p.key]; });  // counts, for now
  partition_start_.resize(partition_keys_.size() + 1);
  uint32_t at = 0;
  for (size_t partition = 0; partition < partition_keys_.size(); ++partition) {
    partition_start_[partition] = at;
    const std::vector<uint32_t>& keys = partition_keys_[partition];
    sort_keys_.resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const Key& k = keys_[keys[i]];
      const uint64_t prefix =
          order == nullptr ? k.prefix : order->OrderPrefix(absl::string_view(k.data, k.size));
      sort_keys_[i] = {prefix, k.data, k.size, keys[i]};
    }
    SortKeys(order);
    for (const SortEntry& e : sort_keys_) {
      const uint32_t count = cursor_[e.key];
      cursor_[e.key] = at;
      at += count;
    }
  }
  partition_start_.back() = at;
  if (sorted_capacity_ < pairs_) {
    sorted_.reset(new Pair[pairs_]);
    sorted_capacity_ = pairs_;
  }
  Pair* const sorted = sorted_.get();
  ForEachPair([this, sorted](const Pair& p) { sorted[cursor_[p.key]++] = p; });
}

std::unique_ptr<SortBuffer::Partition> SortBuffer::Sorted(int partition) const {
  return std::make_unique<Partition>(sorted_.get() + partition_start_[partition],
                                     sorted_.get() + partition_start_[partition + 1], &keys_);
}

void SortBuffer::Clear() {
  for (std::vector<uint32_t>& keys : partition_keys_) keys.clear();
  keys_.clear();
  pairs_ = 0;
  slots_.clear();
  find_keys_ = true;
  block_ = 0;
  block_used_ = 0;
  arena_used_ = 0;
}

}  // namespace ampmr::worker
