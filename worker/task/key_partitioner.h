// KeyPartitioner picks the reduce partition of a map output key
// (README "How it works"):
//   - with cut points (--total-order): the number of cut points <= key in
//     the job's key order, so partition r holds keys in [cut[r-1], cut[r]);
//   - with --partition-fields K < key fields: StableHash64 of the key's first
//     K fields (KeyFieldBasedPartitioner -k1,K), so keys that agree on them
//     meet in one reduce;
//   - else PartitionOf(key, R), a hash of the whole key.
//
// Also SplitMapOutputLine, how a map output line becomes key and value.
//
// Thread-safe (const after construction).
#ifndef AMPMR_WORKER_TASK_KEY_PARTITIONER_H_
#define AMPMR_WORKER_TASK_KEY_PARTITIONER_H_

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ampmr/v1/session.pb.h"
#include "common/key_comparator.h"
#include "common/key_spec.h"
#include "worker/task/find_byte.h"
#include "worker/task/stable_hash.h"

namespace ampmr::worker {

// The first `fields` fields of `line` (split at `separator`) as *key, the
// rest, after the separator that ends them, as *value; a line with fewer
// fields is all key and an empty value (Hadoop Streaming's
// stream.num.map.output.key.fields).
inline void SplitMapOutputLine(const KeySpec& spec, absl::string_view line, absl::string_view* key,
                               absl::string_view* value) {
  size_t at = 0;
  for (int f = 0; f < spec.key_fields; ++f) {
    const char* sep = FindByte(line.data() + at, line.data() + line.size(), spec.separator);
    if (sep == nullptr) {
      *key = line;
      *value = absl::string_view();
      return;
    }
    at = sep - line.data() + 1;
  }
  *key = line.substr(0, at - 1);
  *value = line.substr(at);
}

// The key spec a task's context carries (validated by the master; an error
// here means a bad request).
absl::StatusOr<KeySpec> TaskKeySpec(const v1::TaskContext& task);

class KeyPartitioner {
 public:
  // `comparator` must outlive the partitioner. REQUIRES: cut_points sorted
  // by `comparator`, and empty or partitions - 1 long.
  KeyPartitioner(int partitions, const KeyComparator* comparator,
                 std::vector<std::string> cut_points)
      : partitions_(partitions), comparator_(comparator), cut_points_(std::move(cut_points)) {}

  int Of(absl::string_view key) const {
    if (!cut_points_.empty()) {
      auto it = std::upper_bound(cut_points_.begin(), cut_points_.end(), key,
                                 [this](absl::string_view k, const std::string& cut) {
                                   return comparator_->Less(k, cut);
                                 });
      return static_cast<int>(it - cut_points_.begin());
    }
    const KeySpec& spec = comparator_->spec();
    if (spec.PartitionsByFields()) key = FirstFields(key, spec.separator, spec.partition_fields);
    return PartitionOf(key, partitions_);
  }

  int partitions() const { return partitions_; }

 private:
  static absl::string_view FirstFields(absl::string_view key, char separator, int fields) {
    size_t at = 0;
    for (int f = 0; f < fields; ++f) {
      size_t sep = key.find(separator, at);
      if (sep == absl::string_view::npos) return key;
      at = sep + 1;
    }
    return key.substr(0, at - 1);
  }

  const int partitions_;
  const KeyComparator* const comparator_;
  const std::vector<std::string> cut_points_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_KEY_PARTITIONER_H_
