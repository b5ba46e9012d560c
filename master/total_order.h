// --total-order (TeraSort's TotalOrderPartitioner, README "How it works"):
// before the map phase, a few sampling tasks run the job's mapper over the
// first kSampleBytes of up to kSampledSplits splits spread over the input and
// answer with the keys it emitted; the master sorts them in the job's key
// order and takes R-1 evenly spaced ones as cut points, which every map task
// then range-partitions by, so that the reduces' parts, concatenated in
// order, are one sorted file.
//
// Pure functions; JobRun calls them on the coordinator thread.
#ifndef AMPMR_MASTER_TOTAL_ORDER_H_
#define AMPMR_MASTER_TOTAL_ORDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ampmr/v1/session.pb.h"
#include "common/key_comparator.h"

namespace ampmr::master {

inline constexpr int kSampledSplits = 10;
inline constexpr int64_t kSampleBytes = int64_t{1} << 20;

// The indices of the splits to sample among `splits`: all of them if there
// are few, else kSampledSplits spread evenly from the first to the last.
std::vector<size_t> SampledSplits(size_t splits);

// R-1 cut points from the sampled keys: the keys at ranks i*n/R for
// i = 1..R-1 of the keys sorted by `order`. With no keys at all, R-1 empty
// keys (everything goes to the last reduce, still in order).
std::vector<std::string> CutPoints(std::vector<std::string> keys, int reduces,
                                   const KeyComparator& order);

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_TOTAL_ORDER_H_
