// Histogram: counts of observations in fixed buckets, as Prometheus keeps
// them (cumulative `le` buckets, a sum and a count), and quantiles estimated
// from the buckets the way Prometheus' histogram_quantile does. Fixed memory:
// one counter per bucket, whatever is observed.
//
// Not thread-safe; one owner (the coordinator thread).
#ifndef AMPMR_MASTER_HISTOGRAM_H_
#define AMPMR_MASTER_HISTOGRAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ampmr::master {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, increasing; a +Inf bucket follows.
  explicit Histogram(std::vector<double> bounds);

  // Bounds from 1 ms to about 9 minutes, doubling: for task durations and
  // call latencies alike.
  static Histogram Seconds();

  void Observe(double value);

  // The q-quantile (0 <= q <= 1), interpolated inside its bucket; 0 if empty.
  double Quantile(double q) const;
  int64_t count() const { return count_; }
  double sum() const { return sum_; }

  // Appends NAME_bucket{LABELS,le="..."}, NAME_sum{LABELS} and
  // NAME_count{LABELS} lines. `labels` is `k="v",...` or empty.
  void AppendTo(absl::string_view name, absl::string_view labels, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  int64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_HISTOGRAM_H_
