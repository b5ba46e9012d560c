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

class SortBuffer::PartitionPairs final : public SortedPairs {
 public:
  explicit PartitionPairs(const std::vector<Entry>* entries) : entries_(entries) {}
  bool Next(absl::string_view* key, absl::string_view* value) override {
    if (next_ == entries_->size()) return false;
    const Entry& e = (*entries_)[next_++];
    *key = absl::string_view(e.key, e.key_size);
    *value = absl::string_view(e.key + e.key_size, e.value_size);
    return true;
  }

 private:
  const std::vector<Entry>* entries_;
  size_t next_ = 0;
};

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
  char* p = Allocate(key.size() + value.size());
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  if (!value.empty()) std::memcpy(p + key.size(), value.data(), value.size());
  entries_[partition].push_back({KeyPrefix(key), p, static_cast<uint32_t>(key.size()),
                                 static_cast<uint32_t>(value.size())});
  ++pairs_;
}

std::unique_ptr<SortedPairs> SortBuffer::Sort(int partition) {
  std::vector<Entry>& entries = entries_[partition];
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    // Equal prefixes: compare the whole keys (the first 8 bytes again is
    // cheaper than tracking which bytes the prefix covered).
    size_t n = std::min(a.key_size, b.key_size);
    int c = n == 0 ? 0 : std::memcmp(a.key, b.key, n);
    if (c != 0) return c < 0;
    return a.key_size < b.key_size;
  });
  return std::make_unique<PartitionPairs>(&entries);
}

void SortBuffer::Clear() {
  for (auto& e : entries_) e.clear();
  pairs_ = 0;
  block_ = 0;
  block_used_ = 0;
  arena_used_ = 0;
}

}  // namespace ampmr::worker
