// KeySpec: how a map output line becomes a key and a value, which part of the
// key picks its reduce partition, and how keys are ordered; Hadoop's
// KeyFieldBased* semantics (README "Using it"):
//
//   key_fields N        the first N fields of a line (split at `separator`)
//                       are the key, the rest the value; a line with fewer
//                       fields is all key, with an empty value
//   partition_fields K  reduces are picked by a hash of the first K key
//                       fields only (K <= N); 0: the whole key
//   sort_keys           sort(1)'s -k syntax over the key's fields, e.g.
//                       "-k1,1 -k2,2nr": POS1[,POS2] with POS = F[.C], options
//                       n (numeric, as sort -n in the C locale) and r
//                       (reverse), global -n / -r / -nr for keys without
//                       options of their own; empty: bytewise on the key
//
// The same spec is parsed by the client (to refuse a bad flag early), the
// master (to validate a JobSpec and order sampled keys) and the workers.
// A plain value; thread-compatible.
#ifndef AMPMR_COMMON_KEY_SPEC_H_
#define AMPMR_COMMON_KEY_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ampmr {

// One -k key: fields and characters are 1-based as in sort(1).
struct SortKey {
  int start_field = 1;
  int start_char = 1;
  int end_field = 0;  // 0: to the end of the key
  int end_char = 0;   // 0: to the end of end_field
  bool numeric = false;
  bool reverse = false;
};

struct KeySpec {
  // Largest key_fields / partition_fields accepted.
  static constexpr int kMaxFields = 1000;

  int key_fields = 1;
  char separator = '\t';
  int partition_fields = 0;
  std::vector<SortKey> sort_keys;
  // A global -r: the last-resort comparison (whole keys, bytewise, when
  // every -k key ties) is reversed too, as in sort(1).
  bool reverse_last_resort = false;

  // Lines split at the first tab, whole keys hashed and compared bytewise.
  bool IsDefault() const {
    return key_fields == 1 && separator == '\t' && !PartitionsByFields() && sort_keys.empty();
  }
  // Partitions by fewer fields than the whole key.
  bool PartitionsByFields() const { return partition_fields > 0 && partition_fields < key_fields; }
};

// Parses sort(1)-style key options ("-k1,1 -k2,2nr", "-k 2n", "-nr").
// INVALID_ARGUMENT naming the bad part, e.g. `"-k0": field numbers start at 1`,
// `"-k1b": option b is not supported (only n and r)`.
absl::StatusOr<KeySpec> ParseSortKeys(absl::string_view text);

// Builds and checks a whole spec from the JobSpec / flag values: key_fields
// 0 means 1; separator "" means TAB, else exactly one byte, not '\n';
// 1 <= partition_fields <= key_fields (0: all). Errors are INVALID_ARGUMENT
// and start with the field's name as given in `names` (flag or proto names).
struct KeySpecNames {
  std::string key_fields = "key_fields";
  std::string separator = "field_separator";
  std::string partition_fields = "partition_fields";
  std::string sort_key = "sort_key";
};
absl::StatusOr<KeySpec> MakeKeySpec(int64_t key_fields, absl::string_view separator,
                                    int64_t partition_fields, absl::string_view sort_key,
                                    const KeySpecNames& names = {});

}  // namespace ampmr

#endif  // AMPMR_COMMON_KEY_SPEC_H_
