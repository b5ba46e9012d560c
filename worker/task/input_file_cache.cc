#include "worker/task/input_file_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ampmr::worker {

absl::StatusOr<std::shared_ptr<const InputFile>> InputFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  return std::make_shared<const InputFile>(fd);
}

InputFile::~InputFile() { ::close(fd_); }

absl::StatusOr<std::shared_ptr<const InputFile>> InputFileCache::Open(const std::string& job_id,
                                                                      const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto job = jobs_.find(job_id);
    if (job != jobs_.end()) {
      for (Entry& entry : job->second) {
        if (entry.path != path) continue;
        entry.last_used = ++clock_;
        return entry.file;
      }
    }
  }
  // Opened outside the lock: a slow open (a network filesystem) holds up no
  // other slot. Two attempts that open the same file at once keep one.
  absl::StatusOr<std::shared_ptr<const InputFile>> file = InputFile::Open(path);
  if (!file.ok() || max_open_ == 0) return file;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry>& entries = jobs_[job_id];
  for (Entry& entry : entries) {
    if (entry.path == path) return entry.file;
  }
  if (open_ >= max_open_) EvictOne();
  jobs_[job_id].push_back(Entry{path, *file, ++clock_});  // EvictOne may have erased the job
  ++open_;
  return file;
}

void InputFileCache::EvictOne() {
  auto oldest_job = jobs_.end();
  size_t oldest = 0;
  for (auto job = jobs_.begin(); job != jobs_.end(); ++job) {
    for (size_t i = 0; i < job->second.size(); ++i) {
      if (oldest_job == jobs_.end() ||
          job->second[i].last_used < oldest_job->second[oldest].last_used) {
        oldest_job = job;
        oldest = i;
      }
    }
  }
  if (oldest_job == jobs_.end()) return;
  std::vector<Entry>& entries = oldest_job->second;
  entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(oldest));
  --open_;
  if (entries.empty()) jobs_.erase(oldest_job);
}

void InputFileCache::ForgetJob(const std::string& job_id) {
  std::vector<Entry> closing;  // closed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto job = jobs_.find(job_id);
  if (job == jobs_.end()) return;
  open_ -= job->second.size();
  closing = std::move(job->second);
  jobs_.erase(job);
}

void InputFileCache::ForgetAll() {
  absl::flat_hash_map<std::string, std::vector<Entry>> closing;
  std::lock_guard<std::mutex> lock(mu_);
  closing.swap(jobs_);
  open_ = 0;
}

size_t InputFileCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

}  // namespace ampmr::worker
