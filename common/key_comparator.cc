#include "common/key_comparator.h"

#include <algorithm>

#include "common/key_prefix.h"

namespace ampmr {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A number as sort -n reads it: sign, integer digits without leading zeros,
// fraction digits without trailing zeros.
struct Number {
  bool negative = false;
  absl::string_view integer;
  absl::string_view fraction;
  bool zero() const { return integer.empty() && fraction.empty(); }
};

Number ReadNumber(absl::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  Number n;
  if (i < s.size() && s[i] == '-') {
    n.negative = true;
    ++i;
  }
  while (i < s.size() && s[i] == '0') ++i;
  size_t start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  n.integer = s.substr(start, i - start);
  if (i < s.size() && s[i] == '.') {
    start = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    size_t end = i;
    while (end > start && s[end - 1] == '0') --end;
    n.fraction = s.substr(start, end - start);
  }
  return n;
}

// Compares magnitudes.
int CompareMagnitude(const Number& a, const Number& b) {
  if (a.integer.size() != b.integer.size()) return a.integer.size() < b.integer.size() ? -1 : 1;
  int c = a.integer.compare(b.integer);
  if (c != 0) return c;
  return a.fraction.compare(b.fraction);
}

int Sign(int c) { return (c > 0) - (c < 0); }

}  // namespace

int CompareNumeric(absl::string_view a, absl::string_view b) {
  Number x = ReadNumber(a);
  Number y = ReadNumber(b);
  const bool xneg = x.negative && !x.zero();
  const bool yneg = y.negative && !y.zero();
  if (xneg != yneg) return xneg ? -1 : 1;
  int c = Sign(CompareMagnitude(x, y));
  return xneg ? -c : c;
}

absl::string_view KeyComparator::Extract(absl::string_view key, const SortKey& k) const {
  const char tab = spec_.separator;
  const size_t lim = key.size();
  // begfield: past start_field - 1 fields, then start_char - 1 characters.
  size_t beg = 0;
  for (int skip = k.start_field - 1; beg < lim && skip > 0; --skip) {
    while (beg < lim && key[beg] != tab) ++beg;
    if (beg < lim) ++beg;
  }
  beg = std::min(lim, beg + static_cast<size_t>(k.start_char - 1));
  // limfield: to the end of end_field, or end_char characters into it.
  size_t end = lim;
  if (k.end_field > 0) {
    end = 0;
    int eword = k.end_field - 1;
    if (k.end_char == 0) ++eword;
    while (end < lim && eword-- > 0) {
      while (end < lim && key[end] != tab) ++end;
      if (end < lim && (eword > 0 || k.end_char != 0)) ++end;
    }
    if (k.end_char != 0) end = std::min(lim, end + static_cast<size_t>(k.end_char));
  }
  if (end <= beg) return absl::string_view();
  return key.substr(beg, end - beg);
}

namespace {

// The first 8 bytes of `s`, big-endian, zero padded: a shorter string pads
// with bytes no real byte is below, so prefixes order as the strings do.
// sort -n's value of `s` truncated toward zero to an integer, saturated at
// +-10^18, with the sign bit flipped so that unsigned order is numeric order.
// Truncation and saturation never reverse an order, so a strictly smaller
// result means a strictly smaller number.
uint64_t NumericPrefix(absl::string_view s) {
  Number n = ReadNumber(s);
  constexpr int64_t kMax = 1000000000000000000;  // 10^18
  int64_t v = 0;
  if (n.integer.size() > 18) {
    v = kMax;
  } else {
    for (char c : n.integer) v = v * 10 + (c - '0');
  }
  if (n.negative) v = -v;
  return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
}

}  // namespace

uint64_t KeyComparator::OrderPrefix(absl::string_view key) const {
  if (spec_.sort_keys.empty()) return KeyPrefix(key);
  const SortKey& k = spec_.sort_keys[0];
  absl::string_view field = Extract(key, k);
  uint64_t prefix = k.numeric ? NumericPrefix(field) : KeyPrefix(field);
  return k.reverse ? ~prefix : prefix;
}

int KeyComparator::Compare(absl::string_view a, absl::string_view b) const {
  if (spec_.sort_keys.empty()) return Sign(a.compare(b));
  for (const SortKey& k : spec_.sort_keys) {
    absl::string_view x = Extract(a, k);
    absl::string_view y = Extract(b, k);
    int c = k.numeric ? CompareNumeric(x, y) : Sign(x.compare(y));
    if (c != 0) return k.reverse ? -c : c;
  }
  int c = Sign(a.compare(b));
  return spec_.reverse_last_resort ? -c : c;
}

}  // namespace ampmr
