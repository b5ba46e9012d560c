// attempt_log_bench [ATTEMPTS]: what the master's attempt records cost on
// its coordinator thread and in memory. Records ATTEMPTS attempts (default
// 20,000, the noop-task job's) the way JobRun does, each started and then
// accepted, best of 5; then 100,000 attempts of which 1% failed, for the
// memory per record. Prints one line per figure; bench/observe.sh sets the
// first beside the 20,000-task job's own time.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "master/attempt_log.h"

namespace {

using ampmr::master::AttemptLog;
using ampmr::master::ClusterMetrics;

// Seconds to record `n` attempts (start, then accept) in a fresh log.
double RecordOnce(int n, std::vector<std::string>* ids) {
  ClusterMetrics metrics;
  AttemptLog log(absl::Now(), &metrics);
  auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    log.Started(false, i, 1, (*ids)[i], "w1", false, absl::Now());
    log.Ended((*ids)[i], ampmr::v1::ATTEMPT_SUCCEEDED, absl::Now());
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::vector<std::string> ids;
  for (int i = 0; i < 100000; ++i) ids.push_back(absl::StrCat("j1-m", i, "-a1"));
  double best = 1e9;
  for (int round = 0; round < 5; ++round) best = std::min(best, RecordOnce(n, &ids));
  std::printf("record_seconds %d %.6f\n", n, best);
  std::printf("record_ns_per_attempt %.0f\n", best * 1e9 / n);

  AttemptLog log(absl::Now(), nullptr);
  for (int i = 0; i < 100000; ++i) {
    log.Started(false, i, 1, ids[i], absl::StrCat("w", i % 8), false, absl::Now());
    bool failed = i % 100 == 0;
    log.Ended(ids[i], failed ? ampmr::v1::ATTEMPT_FAILED : ampmr::v1::ATTEMPT_SUCCEEDED,
              absl::Now(), failed ? "mapper exec:./map.py: exited with status 1; stderr: ..." : "");
  }
  std::printf("bytes_per_attempt %.1f\n", static_cast<double>(log.MemoryBytes()) / 100000);
  return 0;
}
