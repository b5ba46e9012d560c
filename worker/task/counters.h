// Task counters: named int64 sums a task reports with its result. The
// "ampmr.*" names below are a contract (the master sums them over accepted
// attempts and shows them to users); user counters are "GROUP.NAME".
#ifndef AMPMR_WORKER_TASK_COUNTERS_H_
#define AMPMR_WORKER_TASK_COUNTERS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace ampmr::worker {

inline constexpr char kMapInputRecords[] = "ampmr.map_input_records";
inline constexpr char kMapInputBytes[] = "ampmr.map_input_bytes";
inline constexpr char kMapOutputRecords[] = "ampmr.map_output_records";
inline constexpr char kCombineInputRecords[] = "ampmr.combine_input_records";
inline constexpr char kCombineOutputRecords[] = "ampmr.combine_output_records";
// Bytes the map task wrote to local disk for its output: every spill run, and
// the merged output file when there was more than one run. (With a single
// run, the run is the output file and counts once.)
inline constexpr char kSpilledBytes[] = "ampmr.spilled_bytes";
inline constexpr char kReduceInputGroups[] = "ampmr.reduce_input_groups";
inline constexpr char kReduceInputRecords[] = "ampmr.reduce_input_records";
inline constexpr char kReduceOutputRecords[] = "ampmr.reduce_output_records";
// Bytes of the reduce task's inputs (the map output partitions it read).
inline constexpr char kShuffledBytes[] = "ampmr.shuffled_bytes";

// Ordered so reports are stable; std::less<> allows lookup by string_view.
using Counters = std::map<std::string, int64_t, std::less<>>;

inline void AddCounter(Counters* counters, absl::string_view name, int64_t amount) {
  auto it = counters->find(name);
  if (it == counters->end()) it = counters->emplace(std::string(name), 0).first;
  it->second += amount;
}

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_COUNTERS_H_
