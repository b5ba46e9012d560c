// JobCounters: a job's counters ("GROUP.NAME" -> value) summed over its
// accepted attempts only (README "Counters"). A map task whose output is lost and
// made again must count once, so each map task's accepted counters are kept
// (compactly: names are interned once per job, and zeros are not kept) and
// taken back when its output is lost; reduce tasks are never taken back and
// keep nothing. An attempt's framework counters come as numbers
// (v1::FrameworkCounters) or, from older workers and the journal, by name.
//
// Thread-safety: coordinator thread only.
#ifndef AMPMR_MASTER_JOB_COUNTERS_H_
#define AMPMR_MASTER_JOB_COUNTERS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ampmr/v1/session.pb.h"
#include "common/framework_counters.h"

namespace ampmr::master {

class JobCounters {
 public:
  explicit JobCounters(int maps) : maps_(maps) { framework_ids_.fill(-1); }

  // The accepted attempt of map task `index` counted `framework` (its
  // ampmr.* counters as numbers) and `named` (a map of name -> value);
  // replaces what an earlier accepted attempt of it counted.
  template <typename Named>
  void SetMap(int index, const v1::FrameworkCounters& framework, const Named& named) {
    if (index < 0 || index >= static_cast<int>(maps_.size())) return;
    TakeBackMap(index);
    // Only what is not zero is kept to be taken back: exactly, so a task of
    // a million-task job that counted two things keeps two.
    size_t nonzero = 0;
    ForEachFrameworkCounter(framework,
                            [&nonzero](int, const char*, int64_t value) { nonzero += value != 0; });
    for (const auto& [name, value] : named) nonzero += value != 0;
    std::vector<std::pair<int, int64_t>>& kept = maps_[index];
    kept.reserve(nonzero);
    ForEachFrameworkCounter(framework, [this, &kept](int i, const char* name, int64_t value) {
      Count(FrameworkId(i, name), value, &kept);
    });
    for (const auto& [name, value] : named) Count(Intern(name), value, &kept);
  }
  template <typename Named>
  void SetMap(int index, const Named& named) {
    SetMap(index, v1::FrameworkCounters::default_instance(), named);
  }
  // Map task `index`'s output is lost: its counts no longer count.
  void TakeBackMap(int index);
  // An accepted reduce attempt, or a map whose output can never be lost.
  template <typename Named>
  void Add(const v1::FrameworkCounters& framework, const Named& named) {
    ForEachFrameworkCounter(framework, [this](int i, const char* name, int64_t value) {
      Count(FrameworkId(i, name), value, nullptr);
    });
    for (const auto& [name, value] : named) Count(Intern(name), value, nullptr);
  }
  template <typename Named>
  void Add(const Named& named) {
    Add(v1::FrameworkCounters::default_instance(), named);
  }

  // Every counter ever counted (zero or not), with its sum now.
  std::map<std::string, int64_t> Sums() const;

 private:
  int Intern(const std::string& name);
  // The id of framework counter `index` (FrameworkCounterFields), `name`.
  int FrameworkId(int index, const char* name) {
    int& id = framework_ids_[index];
    if (id < 0) id = Intern(name);
    return id;
  }
  // Adds `value` to counter `id`; remembers it in `kept`, if any, unless zero.
  void Count(int id, int64_t value, std::vector<std::pair<int, int64_t>>* kept) {
    sums_[id] += value;
    if (kept != nullptr && value != 0) kept->emplace_back(id, value);
  }

  std::vector<std::string> names_;
  // name -> index in names_ and sums_: hashed, as every accepted attempt
  // looks up each of its named counters (names that share long prefixes).
  absl::flat_hash_map<std::string, int> ids_;
  std::array<int, kFrameworkCounterCount> framework_ids_;  // -1: not interned yet
  std::vector<int64_t> sums_;
  std::vector<std::vector<std::pair<int, int64_t>>> maps_;  // per map task: (id, value) not zero
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_JOB_COUNTERS_H_
