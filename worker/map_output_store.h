// MapOutputStore: the map outputs this worker holds, by attempt id, so the
// ShuffleService can serve them and local reducers can read them directly.
// Outputs are deleted when the master says their job is over (ForgetJob).
//
// Thread-safe.
#ifndef AMPMR_WORKER_MAP_OUTPUT_STORE_H_
#define AMPMR_WORKER_MAP_OUTPUT_STORE_H_

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace ampmr::worker {

class MapOutputStore {
 public:
  // Keeps an attempt's output; one of a job already forgotten (an attempt that
  // finished after its job was cancelled) is deleted at once.
  void Add(const std::string& attempt_id, const std::string& job_id, const std::string& path);
  // The file holding attempt `attempt_id`'s output, if this worker has it.
  std::optional<std::string> Find(const std::string& attempt_id) const;
  // Deletes every output of `job_id`. Returns how many.
  int ForgetJob(const std::string& job_id);
  // Forgets which jobs were forgotten (a new master may reuse their ids).
  void ClearForgottenJobs();
  size_t size() const;

  struct Held {
    std::string attempt_id;
    std::string job_id;
    std::string path;
  };
  // Every output held now (reported to a master in Hello).
  std::vector<Held> List() const;

 private:
  struct Output {
    std::string job_id;
    std::string path;
  };
  mutable std::mutex mu_;
  std::map<std::string, Output> outputs_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> forgotten_jobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_MAP_OUTPUT_STORE_H_
