#include "worker/task/sum_table.h"

#include <algorithm>

#include "worker/task/builtins.h"

namespace ampmr::worker {

absl::Status SumTable::Overflow(absl::string_view key, int64_t x, int64_t sum) {
  return AddToSum(key, x, &sum);  // fails, with the message sum always gives
}

std::vector<std::vector<const SumTable::Entry*>> SumTable::SortedByPartition(
    const KeyPartitioner& partitioner, const KeyComparator& order) const {
  std::vector<std::vector<const Entry*>> out(partitioner.partitions());
  for (const Entry& e : sums_) out[partitioner.Of(e.first)].push_back(&e);
  for (auto& entries : out) {
    if (order.bytewise()) {
      std::sort(entries.begin(), entries.end(),
                [](const Entry* a, const Entry* b) { return a->first < b->first; });
    } else {
      std::sort(entries.begin(), entries.end(),
                [&order](const Entry* a, const Entry* b) { return order.Less(a->first, b->first); });
    }
  }
  return out;
}

void SumTable::Clear() {
  // Release the slots too: memory_usage() counts capacity, and clear() keeps
  // a small table's capacity.
  absl::flat_hash_map<std::string, int64_t>().swap(sums_);
  key_bytes_ = 0;
}

}  // namespace ampmr::worker
