// KeyComparator orders map output keys as a KeySpec says: bytewise on the
// whole key when it has no sort keys, else key by key as sort(1) does with
// -t SEPARATOR in the C locale (the field and character positions of GNU
// sort's -k, n as sort -n, r reversing), and when every key ties, bytewise on
// the whole key (reversed under a global -r), so that equal keys, and only
// they, compare equal and a reducer sees each key's records together.
//
// Thread-safe (const after construction).
#ifndef AMPMR_COMMON_KEY_COMPARATOR_H_
#define AMPMR_COMMON_KEY_COMPARATOR_H_

#include <cstdint>
#include <utility>

#include "absl/strings/string_view.h"
#include "common/key_spec.h"

namespace ampmr {

class KeyComparator {
 public:
  explicit KeyComparator(KeySpec spec) : spec_(std::move(spec)) {}

  // Negative, zero or positive as a sorts before, with or after b.
  int Compare(absl::string_view a, absl::string_view b) const;
  bool Less(absl::string_view a, absl::string_view b) const { return Compare(a, b) < 0; }

  // An 8-byte summary of `key` in this order, so that most comparisons are
  // one integer compare: if OrderPrefix(a) < OrderPrefix(b) then
  // Compare(a, b) < 0 (and > likewise); equal prefixes decide nothing. It
  // summarises the first sort key only: its first 8 bytes (zero padded), or
  // for -n its integer part (truncated, saturated past 18 digits), inverted
  // under r. Bytewise: the key's first 8 bytes (KeyPrefix).
  uint64_t OrderPrefix(absl::string_view key) const;
  // Compare, given both keys' OrderPrefix.
  int ComparePrefixed(uint64_t prefix_a, absl::string_view a, uint64_t prefix_b,
                      absl::string_view b) const {
    if (prefix_a != prefix_b) return prefix_a < prefix_b ? -1 : 1;
    return Compare(a, b);
  }

  // True if Compare is plain bytewise comparison.
  bool bytewise() const { return spec_.sort_keys.empty(); }
  const KeySpec& spec() const { return spec_; }

  // The part of `key` that sort key `k` looks at (GNU sort's begfield and
  // limfield). Exposed for tests.
  absl::string_view Extract(absl::string_view key, const SortKey& k) const;

 private:
  const KeySpec spec_;
};

// sort -n's comparison of two numbers as text (C locale): leading blanks
// skipped, an optional '-', digits, an optional '.' and digits; anything
// after is ignored and text without digits is 0; -0 equals 0.
int CompareNumeric(absl::string_view a, absl::string_view b);

}  // namespace ampmr

#endif  // AMPMR_COMMON_KEY_COMPARATOR_H_
