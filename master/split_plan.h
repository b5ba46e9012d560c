// SplitPlan: a job's map splits, held compactly. Each split is a byte range
// of one of the job's input files, named by index, so a million splits of one
// file hold its name once (24 bytes a split instead of a v1::Split with its
// own copy of the path).
//
// Thread-safety: none; a plan is made on one thread and handed over.
#ifndef AMPMR_MASTER_SPLIT_PLAN_H_
#define AMPMR_MASTER_SPLIT_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ampmr/v1/session.pb.h"

namespace ampmr::master {

// Bytes [start, start + length) of input file `file` of a plan.
struct SplitRange {
  int64_t start = 0;
  int64_t length = 0;
  int32_t file = 0;
};

class SplitPlan {
 public:
  // Appends bytes [start, start + length) of `path`. Consecutive splits of
  // one path share its entry.
  void Add(const std::string& path, int64_t start, int64_t length);

  size_t size() const { return ranges_.size(); }
  bool empty() const { return ranges_.empty(); }
  const std::vector<std::string>& files() const { return files_; }
  const std::vector<SplitRange>& ranges() const { return ranges_; }
  // Split `i` as a worker is sent it. REQUIRES: i < size().
  v1::Split Split(size_t i) const { return ToSplit(files_, ranges_[i]); }

  // `range` with its file named from `files`.
  static v1::Split ToSplit(const std::vector<std::string>& files, const SplitRange& range);

 private:
  std::vector<std::string> files_;
  std::vector<SplitRange> ranges_;
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_SPLIT_PLAN_H_
