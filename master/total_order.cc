#include "master/total_order.h"

#include <algorithm>
#include <utility>

namespace ampmr::master {

std::vector<size_t> SampledSplits(size_t splits) {
  std::vector<size_t> picked;
  if (splits <= static_cast<size_t>(kSampledSplits)) {
    for (size_t i = 0; i < splits; ++i) picked.push_back(i);
    return picked;
  }
  for (int i = 0; i < kSampledSplits; ++i) {
    picked.push_back(static_cast<size_t>(i) * (splits - 1) / (kSampledSplits - 1));
  }
  return picked;
}

std::vector<std::string> CutPoints(std::vector<std::string> keys, int reduces,
                                   const KeyComparator& order) {
  if (reduces <= 1) return {};
  if (keys.empty()) return std::vector<std::string>(reduces - 1);
  std::sort(keys.begin(), keys.end(),
            [&order](const std::string& a, const std::string& b) { return order.Less(a, b); });
  std::vector<std::string> cuts;
  cuts.reserve(reduces - 1);
  for (int i = 1; i < reduces; ++i) {
    cuts.push_back(keys[static_cast<size_t>(i) * keys.size() / static_cast<size_t>(reduces)]);
  }
  return cuts;
}

}  // namespace ampmr::master
