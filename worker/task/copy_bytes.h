// CopyBytes: memcpy for the few bytes of a typical key, value or line,
// where calling memcpy costs more than the copy itself; the hot loops that
// format records and lines (record_io.h, the exec reducer's input) use it.
//
// Thread-safe (a pure function).
#ifndef AMPMR_WORKER_TASK_COPY_BYTES_H_
#define AMPMR_WORKER_TASK_COPY_BYTES_H_

#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace ampmr::worker {

// Copies `bytes` to dst (which has room for them) and returns the end.
inline char* CopyBytes(char* dst, absl::string_view bytes) {
  const char* src = bytes.data();
  const size_t n = bytes.size();
  if (n <= 16) {
    // Two overlapping moves cover every size from 4 to 16.
    if (n >= 8) {
      uint64_t a, b;
      std::memcpy(&a, src, 8);
      std::memcpy(&b, src + n - 8, 8);
      std::memcpy(dst, &a, 8);
      std::memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, src, 4);
      std::memcpy(&b, src + n - 4, 4);
      std::memcpy(dst, &a, 4);
      std::memcpy(dst + n - 4, &b, 4);
    } else if (n > 0) {
      dst[0] = src[0];
      dst[n >> 1] = src[n >> 1];
      dst[n - 1] = src[n - 1];
    }
    return dst + n;
  }
  std::memcpy(dst, src, n);
  return dst + n;
}

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_COPY_BYTES_H_
