#include "worker/task/sort_buffer.h"

#include <algorithm>
#include <cstring>

namespace ampmr::worker {
namespace {

constexpr size_t kBlockSize = size_t{4} << 20;

uint64_t KeyPrefix(absl::string_view key) {
  unsigned char bytes[8] = {0};
  if (!key.empty()) std::memcpy(bytes, key.data(), std::min<size_t>(key.size(), 8));
  uint64_t v = 0;
  for (unsigned char b : bytes) v = (v << 8) | b;
  return v;
}

}  // namespace

SortBuffer::SortBuffer(int partitions) : entries_(partitions) {}

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

void SortBuffer::Add(int partition, absl::string_view key, absl::string_view value) {
  const size_t header_size = VarintLength(key.size()) + VarintLength(value.size());
  char* p = Allocate(header_size + key.size() + value.size());
  p = EncodeVarint64(p, key.size());
  p = EncodeVarint64(p, value.size());
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  if (!value.empty()) std::memcpy(p + key.size(), value.data(), value.size());
  entries_[partition].push_back(
      {KeyPrefix(key), p, static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())});
  ++pairs_;
}

namespace {

// Groups this small are sorted by insertion.
constexpr size_t kInsertionSortMax = 24;

}  // namespace

// Bytewise key order, given the 8-byte zero-padded prefixes: equal prefixes
// mean the first min(size, 8) bytes are equal, so only bytes past 8 can
// differ, and short keys (most words) never need memcmp.
bool SortBuffer::Less(const Entry& a, const Entry& b) {
  if (a.prefix != b.prefix) return a.prefix < b.prefix;
  size_t n = std::min(a.key_size, b.key_size);
  if (n > 8) {
    int c = std::memcmp(a.key + 8, b.key + 8, n - 8);
    if (c != 0) return c < 0;
  }
  return a.key_size < b.key_size;
}

void SortBuffer::InsertionSort(Entry* a, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    Entry e = a[i];
    size_t j = i;
    for (; j > 0 && Less(e, a[j - 1]); --j) a[j] = a[j - 1];
    a[j] = e;
  }
}

void SortBuffer::SortEqualPrefixes(Entry* a, Entry* tmp, size_t n) {
  // Keys of up to 8 bytes then differ only in length (padding zeros against
  // real ones): a stable counting sort by length. Longer keys compare.
  size_t count[10] = {0};
  for (size_t i = 0; i < n; ++i) ++count[std::min<uint32_t>(a[i].key_size, 9)];
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
  for (size_t i = 0; i < n; ++i) tmp[start[a[i].key_size]++] = a[i];
  std::copy(tmp, tmp + n, a);
}

// One MSD radix level per call: a stable counting sort of x into y by prefix
// byte `byte`, then each bucket sorted on from y with x as scratch, so the
// data moves once per level (no copying back). into_y says where the result
// must end up.
void SortBuffer::RadixSort(Entry* x, Entry* y, size_t n, int byte, bool into_y) {
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

std::unique_ptr<SortBuffer::Partition> SortBuffer::Sort(int partition, const KeyComparator* order) {
  std::vector<Entry>& entries = entries_[partition];
  if (order != nullptr && !order->bytewise()) {
    // The prefixes become the order's: most comparisons end there.
    for (Entry& e : entries) e.prefix = order->OrderPrefix(absl::string_view(e.key, e.key_size));
    std::stable_sort(entries.begin(), entries.end(), [order](const Entry& a, const Entry& b) {
      return order->ComparePrefixed(a.prefix, absl::string_view(a.key, a.key_size), b.prefix,
                                    absl::string_view(b.key, b.key_size)) < 0;
    });
    return std::make_unique<Partition>(&entries);
  }
  if (scratch_.size() < entries.size()) scratch_.resize(entries.size());
  if (!entries.empty()) {
    RadixSort(entries.data(), scratch_.data(), entries.size(), 0, /*into_y=*/false);
  }
  return std::make_unique<Partition>(&entries);
}

void SortBuffer::Clear() {
  for (auto& e : entries_) e.clear();
  pairs_ = 0;
  block_ = 0;
  block_used_ = 0;
  arena_used_ = 0;
}

}  // namespace ampmr::worker
