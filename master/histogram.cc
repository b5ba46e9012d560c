#include "master/histogram.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ampmr::master {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

Histogram Histogram::Seconds() {
  std::vector<double> bounds;
  for (double b = 0.001; b < 600; b *= 2) bounds.push_back(b);
  return Histogram(std::move(bounds));
}

void Histogram::Observe(double value) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[i];
  ++count_;
  sum_ += value;
}

double Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(count_);
  int64_t below = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0 || static_cast<double>(below + counts_[i]) < rank) {
      below += counts_[i];
      continue;
    }
    // The +Inf bucket has no upper bound: answer its lower one.
    if (i == bounds_.size()) return bounds_.empty() ? 0 : bounds_.back();
    double lower = i == 0 ? 0 : bounds_[i - 1];
    double frac = (rank - static_cast<double>(below)) / static_cast<double>(counts_[i]);
    return lower + (bounds_[i] - lower) * frac;
  }
  return bounds_.empty() ? 0 : bounds_.back();
}

void Histogram::AppendTo(absl::string_view name, absl::string_view labels,
                         std::string* out) const {
  std::string sep = labels.empty() ? "" : ",";
  int64_t cumulative = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i];
    std::string le = i < bounds_.size() ? absl::StrCat(bounds_[i]) : "+Inf";
    absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"", le, "\"} ", cumulative, "\n");
  }
  std::string braces = labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_sum", braces, " ", sum_, "\n", name, "_count", braces, " ", count_,
                  "\n");
}

}  // namespace ampmr::master
