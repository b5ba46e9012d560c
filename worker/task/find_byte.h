// FindByte: memchr for the short distances of streaming output, where the
// byte looked for (a line's newline, a key's tab) is usually within a few
// bytes: up to 32 bytes are scanned 8 at a time in registers, and only
// longer distances call memchr, whose call and setup would otherwise cost
// more than the scan.
//
// Thread-safe (a pure function).
#ifndef AMPMR_WORKER_TASK_FIND_BYTE_H_
#define AMPMR_WORKER_TASK_FIND_BYTE_H_

#include <cstdint>
#include <cstring>

namespace ampmr::worker {

// The first c in [p, end), or null. Reads no byte outside [p, end).
inline const char* FindByte(const char* p, const char* end, char c) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const uint64_t pattern = kOnes * static_cast<unsigned char>(c);
  for (int words = 0; end - p >= 8; ++words, p += 8) {
    if (words == 4) return static_cast<const char*>(std::memchr(p, c, end - p));
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    v ^= pattern;  // the bytes equal to c are now zero
    // The lowest set high bit marks the first zero byte (higher ones may be
    // borrows from it).
    const uint64_t zeros = (v - kOnes) & ~v & kHighs;
    if (zeros != 0) return p + (__builtin_ctzll(zeros) >> 3);
  }
  for (; p < end; ++p) {
    if (*p == c) return p;
  }
  return nullptr;
#else
  return p == end ? nullptr : static_cast<const char*>(std::memchr(p, c, end - p));
#endif
}

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_FIND_BYTE_H_
