// StableHash64: a fast 64-bit string hash whose value depends only on the
// bytes hashed, so every process on every machine, in every run, agrees on it.
// Map tasks partition their output with it and reduce tasks must agree, which
// is why absl::Hash (seeded per process) and std::hash (unspecified) are out.
//
// The construction is wyhash-like: 16-byte blocks folded with a 64x64->128 bit
// multiply ("mum"), a short tail read with overlapping loads, and a final mum.
// Bytes are read little-endian on every host. Changing anything here changes
// which reduce every key goes to; tests/worker/stable_hash_test.cc pins values.
//
// Thread-safe (pure functions).
#ifndef AMPMR_WORKER_TASK_STABLE_HASH_H_
#define AMPMR_WORKER_TASK_STABLE_HASH_H_

#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace ampmr::worker {
namespace hash_internal {

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

// Multiplies to 128 bits and folds the halves together.
inline uint64_t Mum(uint64_t a, uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

constexpr uint64_t kP0 = 0xa0761d6478bd642fULL;
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbULL;
constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ULL;
constexpr uint64_t kP3 = 0x589965cc75374cc3ULL;

}  // namespace hash_internal

inline uint64_t StableHash64(absl::string_view s) {
  using namespace hash_internal;  // NOLINT(build/namespaces): local to this body
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = kP0 ^ Mum(static_cast<uint64_t>(n) ^ kP1, kP3);
  while (n > 16) {
    h = Mum(Load64(p) ^ kP1, Load64(p + 8) ^ h);
    p += 16;
    n -= 16;
  }
  uint64_t a = 0;
  uint64_t b = 0;
  if (n > 8) {
    a = Load64(p);
    b = Load64(p + n - 8);
  } else if (n >= 4) {
    a = Load32(p);
    b = Load32(p + n - 4);
  } else if (n > 0) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    a = (uint64_t{u[0]} << 16) | (uint64_t{u[n >> 1]} << 8) | u[n - 1];
  }
  return Mum(Mum(a ^ kP1, b ^ h) ^ kP2, static_cast<uint64_t>(s.size()) ^ kP3);
}

// The reduce partition of `key` among `reduces` partitions: StableHash64 mod
// reduces. Returns 0 when reduces <= 1.
inline int PartitionOf(absl::string_view key, int reduces) {
  if (reduces <= 1) return 0;
  return static_cast<int>(StableHash64(key) % static_cast<uint64_t>(reduces));
}

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_STABLE_HASH_H_
