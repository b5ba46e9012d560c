#include "worker/task/utf8.h"

#include <cstdint>

#include "absl/strings/str_format.h"

namespace ampmr::worker {
namespace {

// Length of the valid UTF-8 sequence of 2 to 4 bytes at s[i], or 0.
size_t MultibyteLength(absl::string_view s, size_t i) {
  auto byte = [&s](size_t j) { return static_cast<uint8_t>(s[j]); };
  uint8_t c = byte(i);
  size_t n;
  uint32_t min;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80, cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, min = 0x800, cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

std::string ToPrintableUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c == '\t' || (c >= 0x20 && c < 0x7f)) {
      out += static_cast<char>(c);
      ++i;
    } else if (size_t n = c >= 0x80 ? MultibyteLength(s, i) : 0; n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out += absl::StrFormat("\\x%02x", c);
      ++i;
    }
  }
  return out;
}

}  // namespace ampmr::worker
