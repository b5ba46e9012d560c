#include "common/size.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace ampmr {

absl::StatusOr<int64_t> ParseSize(absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad size \"", text, "\": want a positive number of bytes, e.g. 4096, 64K, 64M, 1G"));
  };
  absl::string_view t = absl::StripAsciiWhitespace(text);
  // NUMBER [UNIT]: the number is digits with at most one '.', the unit one of
  // B, K, M, G, T, each but B optionally followed by "B" or "iB"; any case.
  size_t end = 0;
  bool dot = false;
  while (end < t.size() && (absl::ascii_isdigit(t[end]) || (t[end] == '.' && !dot))) {
    dot = dot || t[end] == '.';
    ++end;
  }
  absl::string_view number = t.substr(0, end);
  std::string unit = absl::AsciiStrToUpper(absl::StripLeadingAsciiWhitespace(t.substr(end)));
  int shift;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else {
    const char kUnits[] = "KMGT";
    const char* found = unit.size() <= 3 ? std::strchr(kUnits, unit[0]) : nullptr;
    absl::string_view tail = absl::string_view(unit).substr(1);
    if (found == nullptr || *found == '\0' || !(tail.empty() || tail == "B" || tail == "IB")) {
      return bad();
    }
    shift = 10 * static_cast<int>(found - kUnits + 1);
  }
  if (!dot) {
    int64_t whole;
    if (!absl::SimpleAtoi(number, &whole) || whole <= 0) return bad();
    if (whole > (std::numeric_limits<int64_t>::max() >> shift)) return bad();
    return whole << shift;
  }
  double value;
  if (number == "." || !absl::SimpleAtod(number, &value)) return bad();
  double bytes = std::ldexp(value, shift);
  if (!(bytes >= 1) || bytes >= static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return bad();
  }
  return static_cast<int64_t>(bytes);
}

std::string FormatSize(int64_t bytes) {
  static const char* kUnits[] = {"B", "K", "M", "G", "T"};
  if (bytes < 1024) return absl::StrCat(bytes, "B");
  // Rounded to one decimal first, so 1048575 shows as "1M", not "1024.0K".
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (unit < 4 && std::round(v * 10) / 10 >= 1024) {
    v /= 1024;
    ++unit;
  }
  double rounded = std::round(v * 10) / 10;
  char buf[32];
  if (rounded == std::floor(rounded)) {
    snprintf(buf, sizeof(buf), "%.0f%s", rounded, kUnits[unit]);
  } else {
    snprintf(buf, sizeof(buf), "%.1f%s", rounded, kUnits[unit]);
  }
  return buf;
}

}  // namespace ampmr
