// KeyPrefix: the first 8 bytes of a key as a big-endian integer, zero
// padded, so that comparing two prefixes as integers orders the keys
// bytewise as far as their first 8 bytes go (equal prefixes leave the bytes
// past 8, and the sizes, to compare). The sort buffer and the merge keep one
// per key so that most comparisons are one integer compare; KeyComparator's
// OrderPrefix is this for bytewise keys and fields.
//
// Thread-safe (pure functions).
#ifndef AMPMR_COMMON_KEY_PREFIX_H_
#define AMPMR_COMMON_KEY_PREFIX_H_

#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace ampmr {
namespace key_prefix_internal {

inline uint64_t Load64BigEndian(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline uint64_t Load32BigEndian(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

}  // namespace key_prefix_internal

// Reads no byte past the key's end: short keys with overlapping loads.
inline uint64_t KeyPrefix(absl::string_view key) {
  using key_prefix_internal::Load32BigEndian;
  using key_prefix_internal::Load64BigEndian;
  const char* p = key.data();
  const size_t n = key.size();
  if (n >= 8) return Load64BigEndian(p);
  if (n >= 4) return (Load32BigEndian(p) << 32) | (Load32BigEndian(p + n - 4) << (64 - 8 * n));
  if (n == 0) return 0;
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint64_t{u[0]} << 56) | (uint64_t{u[n >> 1]} << (56 - 8 * (n >> 1))) |
         (uint64_t{u[n - 1]} << (56 - 8 * (n - 1)));
}

// Whether keys a and b, whose prefixes are equal, are equal: their sizes
// and the bytes past the first 8.
inline bool SameKeyGivenPrefix(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() &&
         (a.size() <= 8 || std::memcmp(a.data() + 8, b.data() + 8, a.size() - 8) == 0);
}

// Bytewise comparison of a and b given their prefixes: negative, zero or
// positive.
inline int CompareGivenPrefixes(uint64_t prefix_a, absl::string_view a, uint64_t prefix_b,
                                absl::string_view b) {
  if (prefix_a != prefix_b) return prefix_a < prefix_b ? -1 : 1;
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  if (n > 8) {
    int c = std::memcmp(a.data() + 8, b.data() + 8, n - 8);
    if (c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

}  // namespace ampmr

#endif  // AMPMR_COMMON_KEY_PREFIX_H_
