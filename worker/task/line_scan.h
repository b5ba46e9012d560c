// ForEachLine: the lines of a block of streaming output and the first
// separator in each, found 64 bytes at a time: each 64 bytes are compared
// with '\n' and with the separator at once (SSE2, four 16-byte compares
// each), which gives two bit masks, and lines and separators are read off
// the masks' bits. A mapper's lines are a few bytes long (word count's
// "word<TAB>1" is 7), so this costs a few instructions a line where a scan
// for each line's newline and then for its separator would cost a call and
// a short loop each.
//
// Thread-safe (a pure function).
#ifndef AMPMR_WORKER_TASK_LINE_SCAN_H_
#define AMPMR_WORKER_TASK_LINE_SCAN_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ampmr::worker {
namespace line_scan_internal {

// Bit i of *newlines / *separators: whether p[i] is '\n' / `separator`, for
// i < n <= 64; no bits at or past n. Reads no byte outside [p, p + n).
inline void Masks(const char* p, size_t n, char separator, uint64_t* newlines,
                  uint64_t* separators) {
#if defined(__SSE2__)
  alignas(16) char tail[64];
  if (n < 64) {  // the block's end: work on a copy, never past the end
    std::memset(tail, 0, sizeof(tail));
    std::memcpy(tail, p, n);
    p = tail;
  }
  const __m128i nl = _mm_set1_epi8('\n');
  const __m128i sep = _mm_set1_epi8(separator);
  uint64_t a = 0;
  uint64_t b = 0;
  for (int i = 0; i < 4; ++i) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
    a |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, nl)))} << (16 * i);
    b |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, sep)))} << (16 * i);
  }
#else
  uint64_t a = 0;
  uint64_t b = 0;
  for (size_t i = 0; i < n; ++i) {
    a |= uint64_t{p[i] == '\n'} << i;
    b |= uint64_t{p[i] == separator} << i;
  }
#endif
  const uint64_t valid = n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
  *newlines = a & valid;
  *separators = b & valid;
}

}  // namespace line_scan_internal

// Calls fn(line, separator, end) for every line of [p, end) in order: the
// line is [line, end) without its '\n' (the last one may have none; an
// empty block has no lines, and a block ending in '\n' no empty line after
// it), separator the first `separator` in it or null.
template <typename Fn>
inline void ForEachLine(const char* p, const char* end, char separator, Fn fn) {
  const char* line = p;
  const char* sep = nullptr;  // the first separator of `line`, once seen
  for (const char* base = p; base < end; base += 64) {
    const size_t n = static_cast<size_t>(end - base) < 64 ? static_cast<size_t>(end - base) : 64;
    uint64_t newlines;
    uint64_t separators;
    line_scan_internal::Masks(base, n, separator, &newlines, &separators);
    while (true) {
      if (sep == nullptr && separators != 0) {
        const int s = __builtin_ctzll(separators);
        if (newlines == 0 || s < __builtin_ctzll(newlines)) sep = base + s;
      }
      if (newlines == 0) break;
      const int e = __builtin_ctzll(newlines);
      newlines &= newlines - 1;
      fn(line, sep, base + e);
      line = base + e + 1;
      sep = nullptr;
      separators = e == 63 ? 0 : separators & (~uint64_t{0} << (e + 1));
    }
  }
  if (line < end) fn(line, sep, end);
}

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_LINE_SCAN_H_
