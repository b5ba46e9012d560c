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
  entries_[partition].push_back({KeyPrefix(key), p, static_cast<uint32_t>(key.size()),
                                 static_cast<uint32_t>(value.size())});
  ++pairs_;
}

std::unique_ptr<SortBuffer::Partition> SortBuffer::Sort(int partition) {
  std::vector<Entry>& entries = entries_[partition];
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    // Equal prefixes: the first min(size, 8) bytes are equal, so only bytes
    // past 8 can differ, and short keys (most words) never need memcmp.
    size_t n = std::min(a.key_size, b.key_size);
    if (n > 8) {
      int c = std::memcmp(a.key + 8, b.key + 8, n - 8);
      if (c != 0) return c < 0;
    }
    return a.key_size < b.key_size;
  });
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
