// InputFileCache: the input files a worker's map attempts read, kept open
// across the attempts of a job, so a job of many small splits of one file
// opens it once per worker instead of once per attempt. Entries are keyed by
// (job id, path): a file is opened again for another job, and the job's
// entries are closed when it is forgotten (ForgetJob: the job is over) or
// every job is (ForgetAll: a new session, whose master may reuse job ids).
//
// At most `max_open` files are kept; opening one more closes the least
// recently used. An attempt holds its file while it reads (the handle is
// shared), so a file closed by the cache meanwhile stays open until that
// attempt is done: the worker has at most max_open + slots input files open.
// Compressed inputs are not kept (each is one split, read through its
// decompressor).
//
// Thread-safe.
#ifndef AMPMR_WORKER_TASK_INPUT_FILE_CACHE_H_
#define AMPMR_WORKER_TASK_INPUT_FILE_CACHE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace ampmr::worker {

// One open, read-only file descriptor, closed when the last holder lets go.
class InputFile {
 public:
  // Opens `path` read-only. Errors name it: "open /x/y: No such file or directory".
  static absl::StatusOr<std::shared_ptr<const InputFile>> Open(const std::string& path);
  explicit InputFile(int fd) : fd_(fd) {}
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int fd() const { return fd_; }

 private:
  const int fd_;
};

class InputFileCache {
 public:
  static constexpr size_t kDefaultMaxOpen = 64;

  explicit InputFileCache(size_t max_open = kDefaultMaxOpen) : max_open_(max_open) {}

  // The open file `path` of job `job_id`: the kept one, or opened now (and
  // kept, if max_open > 0).
  absl::StatusOr<std::shared_ptr<const InputFile>> Open(const std::string& job_id,
                                                        const std::string& path);
  // Closes the job's files (those attempts still read stay open until they are done).
  void ForgetJob(const std::string& job_id);
  void ForgetAll();

  // Files kept open now.
  size_t size() const;

 private:
  struct Entry {
    std::string path;
    std::shared_ptr<const InputFile> file;
    uint64_t last_used;
  };
  // Closes the least recently used kept file.
  void EvictOne() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_open_;
  mutable std::mutex mu_;
  // By job; a job's few files are looked up by a scan, which allocates nothing.
  absl::flat_hash_map<std::string, std::vector<Entry>> jobs_ ABSL_GUARDED_BY(mu_);
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_INPUT_FILE_CACHE_H_
