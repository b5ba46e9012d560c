#include "master/split_plan.h"

namespace ampmr::master {

void SplitPlan::Add(const std::string& path, int64_t start, int64_t length) {
  if (files_.empty() || files_.back() != path) files_.push_back(path);
  ranges_.push_back({start, length, static_cast<int32_t>(files_.size() - 1)});
}

v1::Split SplitPlan::ToSplit(const std::vector<std::string>& files, const SplitRange& range) {
  v1::Split split;
  split.set_path(files[range.file]);
  split.set_start(range.start);
  split.set_length(range.length);
  return split;
}

}  // namespace ampmr::master
