#include "worker/task/aggregate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ampmr::worker {
namespace {

using plugin::Output;
using plugin::Status;
using plugin::Values;

enum class Kind {
  kLongSum,
  kLongMax,
  kLongMin,
  kDoubleSum,
  kStringMax,
  kStringMin,
  kUniqCount,
  kHistogram
};

constexpr std::pair<std::string_view, Kind> kKinds[] = {
    {"LongValueSum", Kind::kLongSum},     {"LongValueMax", Kind::kLongMax},
    {"LongValueMin", Kind::kLongMin},     {"DoubleValueSum", Kind::kDoubleSum},
    {"StringValueMax", Kind::kStringMax}, {"StringValueMin", Kind::kStringMin},
    {"UniqValueCount", Kind::kUniqCount}, {"ValueHistogram", Kind::kHistogram},
};

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = "\"" + absl::CHexEscape(absl::string_view(s.data(), std::min(s.size(), kMax))) + "\"";
  if (s.size() > kMax) absl::StrAppend(&out, "...");
  return out;
}

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

Status Bad(std::string_view key, std::string_view why) {
  return Status::Error(absl::StrCat("aggregate: key ", Quote(key), ": ", Absl(why)));
}

bool ParseLong(std::string_view s, int64_t* out) { return absl::SimpleAtoi(Absl(s), out); }

std::string LongString(int64_t n) { return absl::StrCat(n); }

class AggregateReducer final : public plugin::Reducer {
 public:
  explicit AggregateReducer(const plugin::Task& task) : combiner_(task.is_map()) {}

  Status Reduce(std::string_view key, Values& values, Output& out) override {
    const size_t colon = key.find(':');
    const Kind* kind = nullptr;
    if (colon != std::string_view::npos) {
      for (const auto& [name, k] : kKinds) {
        if (key.substr(0, colon) == name) kind = &k;
      }
    }
    if (kind == nullptr) {
      return Bad(key,
                 "want a prefix LongValueSum:, LongValueMax:, LongValueMin:, DoubleValueSum:, "
                 "StringValueMax:, StringValueMin:, UniqValueCount: or ValueHistogram:");
    }
    // A combiner keeps the prefix, for the reducer.
    const std::string_view out_key = combiner_ ? key : key.substr(colon + 1);
    switch (*kind) {
      case Kind::kLongSum:
      case Kind::kLongMax:
      case Kind::kLongMin:
        return Longs(*kind, key, out_key, values, out);
      case Kind::kDoubleSum:
        return Doubles(key, out_key, values, out);
      case Kind::kStringMax:
      case Kind::kStringMin:
        return Strings(*kind == Kind::kStringMax, out_key, values, out);
      case Kind::kUniqCount:
        return Uniq(out_key, values, out);
      case Kind::kHistogram:
        return Histogram(key, out_key, values, out);
    }
    return Status();
  }

 private:
  static Status Longs(Kind kind, std::string_view key, std::string_view out_key, Values& values,
                      Output& out) {
    int64_t acc = kind == Kind::kLongMax ? INT64_MIN : kind == Kind::kLongMin ? INT64_MAX : 0;
    std::string_view v;
    while (values.Next(&v)) {
      int64_t x;
      if (!ParseLong(v, &x)) return Bad(key, absl::StrCat("value ", Quote(v), " is not a long"));
      if (kind == Kind::kLongSum) {
        if (__builtin_add_overflow(acc, x, &acc)) return Bad(key, "the sum overflows a long");
      } else {
        acc = kind == Kind::kLongMax ? std::max(acc, x) : std::min(acc, x);
      }
    }
    out.Emit(out_key, LongString(acc));
    return Status();
  }

  static Status Doubles(std::string_view key, std::string_view out_key, Values& values,
                        Output& out) {
    double sum = 0;
    std::string_view v;
    while (values.Next(&v)) {
      double x;
      if (!absl::SimpleAtod(Absl(v), &x)) {
        return Bad(key, absl::StrCat("value ", Quote(v), " is not a double"));
      }
      sum += x;
    }
    out.Emit(out_key, JavaDoubleString(sum));
    return Status();
  }

  static Status Strings(bool max, std::string_view out_key, Values& values, Output& out) {
    std::string best;
    bool any = false;
    std::string_view v;
    while (values.Next(&v)) {
      if (!any || (max ? v > best : v < best)) best.assign(v);
      any = true;
    }
    out.Emit(out_key, best);
    return Status();
  }

  Status Uniq(std::string_view out_key, Values& values, Output& out) const {
    std::set<std::string, std::less<>> seen;
    std::string_view v;
    while (values.Next(&v)) {
      if (seen.find(v) == seen.end()) seen.emplace(v);
    }
    if (combiner_) {
      for (const std::string& s : seen) out.Emit(out_key, s);
    } else {
      out.Emit(out_key, LongString(static_cast<int64_t>(seen.size())));
    }
    return Status();
  }

  Status Histogram(std::string_view key, std::string_view out_key, Values& values,
                   Output& out) const {
    std::map<std::string, int64_t, std::less<>> items;
    std::string_view v;
    while (values.Next(&v)) {
      std::string_view item = v;
      int64_t count = 1;
      const size_t tab = v.rfind('\t');
      if (tab != std::string_view::npos) {
        item = v.substr(0, tab);
        if (!ParseLong(v.substr(tab + 1), &count)) {
          return Bad(key, absl::StrCat("value ", Quote(v), ": the count after the tab is not a long"));
        }
      }
      auto it = items.find(item);
      if (it == items.end()) it = items.emplace(std::string(item), 0).first;
      it->second += count;
    }
    if (combiner_) {
      for (const auto& [item, count] : items) out.Emit(out_key, absl::StrCat(item, "\t", count));
      return Status();
    }
    out.Emit(out_key, HistogramReport(items));
    return Status();
  }

  // ValueHistogram.getReport().
  static std::string HistogramReport(const std::map<std::string, int64_t, std::less<>>& items) {
    std::vector<int64_t> counts;
    counts.reserve(items.size());
    for (const auto& [item, count] : items) counts.push_back(count);
    std::sort(counts.begin(), counts.end());
    std::string report = LongString(static_cast<int64_t>(counts.size()));
    if (counts.empty()) return report;
    double acc = 0;
    for (int64_t c : counts) acc += static_cast<double>(c);
    const double average = acc / static_cast<double>(counts.size());
    double sd = 0;
    for (int64_t c : counts) sd += (static_cast<double>(c) - average) * (static_cast<double>(c) - average);
    sd = std::sqrt(sd / static_cast<double>(counts.size()));
    absl::StrAppend(&report, "\t", counts.front(), "\t", counts[counts.size() / 2], "\t",
                    counts.back(), "\t", JavaDoubleString(average), "\t", JavaDoubleString(sd));
    return report;
  }

  const bool combiner_;
};

}  // namespace

plugin::Reducer* NewAggregateReducer(const plugin::Task* task) {
  return new AggregateReducer(*task);
}

std::string JavaDoubleString(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // The shortest digits that round-trip, as d.ddde[+-]X.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, 1) + (e > 1 ? sci.substr(2, e - 2) : "");
  const int exponent = std::atoi(sci.c_str() + e + 1);
  const double magnitude = std::fabs(d);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    // Plain notation with at least one digit after the point.
    std::string out;
    if (exponent >= 0) {
      std::string integer = digits.substr(0, std::min<size_t>(digits.size(), exponent + 1));
      integer.append(exponent + 1 - integer.size(), '0');
      std::string fraction = digits.size() > static_cast<size_t>(exponent + 1)
                                 ? digits.substr(exponent + 1)
                                 : "0";
      out = integer + "." + fraction;
    } else {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    }
    return sign + out;
  }
  std::string mantissa = digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0");
  return absl::StrCat(sign, mantissa, "E", exponent);
}

}  // namespace ampmr::worker
