// The framework's own counters as v1::FrameworkCounters carries them between
// worker and master: field F is the counter named "ampmr.F" (README
// "Counters"), so an attempt reports them as numbers, not as named entries.
// Both ends go through this table: the worker to fill the map of a master
// that predates the message (WithNamedFrameworkCounters), the master to sum
// them by index (JobCounters), the journal to read them back by name.
#ifndef AMPMR_COMMON_FRAMEWORK_COUNTERS_H_
#define AMPMR_COMMON_FRAMEWORK_COUNTERS_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "ampmr/v1/session.pb.h"

namespace ampmr {

struct FrameworkCounterField {
  const char* name;  // "ampmr.map_input_records"
  bool (v1::FrameworkCounters::*has)() const;
  int64_t (v1::FrameworkCounters::*get)() const;
};

inline constexpr int kFrameworkCounterCount = 10;
// Every field of v1::FrameworkCounters, in field-number order.
const std::array<FrameworkCounterField, kFrameworkCounterCount>& FrameworkCounterFields();

// Calls f(index, name, value) for each counter set in `counters`, in order.
template <typename F>
void ForEachFrameworkCounter(const v1::FrameworkCounters& counters, F f) {
  const auto& fields = FrameworkCounterFields();
  for (int i = 0; i < kFrameworkCounterCount; ++i) {
    if ((counters.*fields[i].has)()) f(i, fields[i].name, (counters.*fields[i].get)());
  }
}

// Moves `done`'s framework_counters into its `counters` map by name (added
// to what the map holds under the same names), for a master that does not
// read framework_counters. `Done` is v1::MapDone or v1::ReduceDone.
template <typename Done>
void WithNamedFrameworkCounters(Done* done) {
  if (!done->has_framework_counters()) return;
  auto& named = *done->mutable_counters();
  ForEachFrameworkCounter(done->framework_counters(),
                          [&named](int, const char* name, int64_t value) { named[name] += value; });
  done->clear_framework_counters();
}

}  // namespace ampmr

#endif  // AMPMR_COMMON_FRAMEWORK_COUNTERS_H_
