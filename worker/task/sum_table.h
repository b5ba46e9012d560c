// SumTable is the map-side fast path for the built-in sum combiner: instead
// of buffering every emitted pair and summing after a sort, it adds each
// value into a hash table keyed by the pair's key. Looking up an existing key
// allocates nothing (heterogeneous string_view lookup), which is what makes
// word count fast. The result is what sorting the pairs and running the sum
// combiner would give.
//
// Not thread-safe; owned by one MapOutputCollector.
#ifndef AMPMR_WORKER_TASK_SUM_TABLE_H_
#define AMPMR_WORKER_TASK_SUM_TABLE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/key_comparator.h"
#include "worker/task/key_partitioner.h"

namespace ampmr::worker {

class SumTable {
 public:
  using Entry = std::pair<const std::string, int64_t>;

  // Adds `x` to key's sum. Fails (INVALID_ARGUMENT naming the key) on int64
  // overflow; the table is unchanged then.
  absl::Status Add(absl::string_view key, int64_t x) {
    auto [it, inserted] = sums_.try_emplace(key, 0);
    if (inserted && key.size() >= sizeof(std::string)) key_bytes_ += key.size() + 1;
    int64_t sum;
    if (__builtin_add_overflow(it->second, x, &sum)) return Overflow(key, x, it->second);
    it->second = sum;
    return absl::OkStatus();
  }

  size_t keys() const { return sums_.size(); }
  // Approximate bytes held: table slots plus out-of-line key bytes.
  size_t memory_usage() const { return sums_.capacity() * (sizeof(Entry) + 1) + key_bytes_; }

  // The entries of each of the partitioner's partitions, each sorted by
  // `order`. The pointers are valid until the next Add/Clear.
  std::vector<std::vector<const Entry*>> SortedByPartition(const KeyPartitioner& partitioner,
                                                           const KeyComparator& order) const;

  void Clear();

 private:
  static absl::Status Overflow(absl::string_view key, int64_t x, int64_t sum);

  absl::flat_hash_map<std::string, int64_t> sums_;
  size_t key_bytes_ = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_SUM_TABLE_H_
