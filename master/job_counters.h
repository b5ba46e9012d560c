// JobCounters: a job's counters ("GROUP.NAME" -> value) summed over its
// accepted attempts only (README "Counters"). A map task whose output is lost and
// made again must count once, so each map task's accepted counters are kept
// (compactly: names are interned once per job) and taken back when its output
// is lost; reduce tasks are never taken back and keep nothing.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_JOB_COUNTERS_H_
#define AMPMR_MASTER_JOB_COUNTERS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace ampmr::master {

class JobCounters {
 public:
  explicit JobCounters(int maps) : maps_(maps) {}

  // The accepted attempt of map task `index` counted `values` (a map of
  // name -> value); replaces what an earlier accepted attempt of it counted.
  template <typename Values>
  void SetMap(int index, const Values& values) {
    if (index < 0 || index >= static_cast<int>(maps_.size())) return;
    TakeBackMap(index);
    maps_[index].reserve(values.size());
    for (const auto& [name, value] : values) {
      int id = Intern(name);
      sums_[id] += value;
      maps_[index].emplace_back(id, value);
    }
  }
  // Map task `index`'s output is lost: its counts no longer count.
  void TakeBackMap(int index);
  // An accepted reduce attempt, or a map whose output can never be lost.
  template <typename Values>
  void Add(const Values& values) {
    for (const auto& [name, value] : values) sums_[Intern(name)] += value;
  }

  // Every counter ever counted, with its sum now.
  std::map<std::string, int64_t> Sums() const;

 private:
  int Intern(const std::string& name);

  std::vector<std::string> names_;
  // name -> index in names_ and sums_: hashed, as every accepted attempt
  // looks up each of its counters (names that share long prefixes).
  absl::flat_hash_map<std::string, int> ids_;
  std::vector<int64_t> sums_;
  std::vector<std::vector<std::pair<int, int64_t>>> maps_;  // per map task: (id, value)
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_JOB_COUNTERS_H_
