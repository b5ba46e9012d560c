#include "common/size.h"

#include <cstdio>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ampmr {

absl::StatusOr<int64_t> ParseSize(absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("bad size \"", text, "\": want a positive number of bytes, e.g. 4096, 64K, 64M, 1G"));
  };
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumeSuffix(&t, "iB") && !absl::ConsumeSuffix(&t, "ib")) {
    if (t.size() > 1 && absl::ascii_isalpha(t[t.size() - 2])) {
      absl::ConsumeSuffix(&t, "B") || absl::ConsumeSuffix(&t, "b");
    }
  }
  int64_t multiplier = 1;
  if (!t.empty()) {
    switch (absl::ascii_toupper(t.back())) {
      case 'K': multiplier = int64_t{1} << 10; break;
      case 'M': multiplier = int64_t{1} << 20; break;
      case 'G': multiplier = int64_t{1} << 30; break;
      case 'T': multiplier = int64_t{1} << 40; break;
      case 'B': multiplier = 1; break;
      default: break;
    }
    if (!absl::ascii_isdigit(t.back()) && t.back() != '.') t.remove_suffix(1);
  }
  double value;
  if (t.empty() || !absl::SimpleAtod(t, &value) || !(value > 0)) return bad();
  double bytes = value * static_cast<double>(multiplier);
  if (bytes >= static_cast<double>(std::numeric_limits<int64_t>::max()) || bytes < 1) return bad();
  return static_cast<int64_t>(bytes);
}

std::string FormatSize(int64_t bytes) {
  static const char* kUnits[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(bytes, "B");
  char buf[32];
  if (v == static_cast<int64_t>(v)) {
    snprintf(buf, sizeof(buf), "%lld%s", static_cast<long long>(v), kUnits[unit]);
  } else {
    snprintf(buf, sizeof(buf), "%.1f%s", v, kUnits[unit]);
  }
  return buf;
}

}  // namespace ampmr
