#include "worker/job_file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/shipped_files.h"
#include "common/status_macros.h"

namespace ampmr::worker {
namespace {

namespace fs = std::filesystem;

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Ids come from the master; they become path components here, so they must
// be plain names like the files' own.
absl::Status CheckId(const char* what, const std::string& id) {
  if (CheckShippedFileName(id).ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " \"", id, "\" is not a plain name"));
}

// A directory with exactly `mode`, whatever the umask or an earlier worker left.
absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return Errno("create", path);
  if (::chmod(path.c_str(), mode) != 0) return Errno("chmod", path);
  return absl::OkStatus();
}

// Writes `file` at `path` with its mode, owned by `owner` if set.
absl::Status WriteFile(const std::string& path, const v1::ShippedFile& file,
                       const std::optional<RunAs>& owner) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", path);
  const std::string& data = file.content();
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status failed = Errno("write", path);
      ::close(fd);
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  if (owner.has_value() && ::fchown(fd, owner->uid, owner->gid) != 0) {
    absl::Status failed = Errno("chown", path);
    ::close(fd);
    return failed;
  }
  // The mode exactly as shipped, whatever this process's umask.
  if (::fchmod(fd, file.mode() & 0777) != 0) {
    absl::Status failed = Errno("chmod", path);
    ::close(fd);
    return failed;
  }
  if (::close(fd) != 0) return Errno("close", path);
  return absl::OkStatus();
}

// `to` as a hard link of `from`, or a copy (mode and owner included) where
// the file system has no hard links.
absl::Status LinkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return absl::OkStatus();
  if (errno == ENOENT) {
    return absl::FailedPreconditionError(absl::StrCat("shipped file ", from, " is gone"));
  }
  std::error_code ec;
  fs::copy_file(from, to, ec);
  if (ec) return absl::InternalError(absl::StrCat("copy ", from, " to ", to, ": ", ec.message()));
  struct stat st;
  if (::stat(from.c_str(), &st) != 0) return Errno("stat", from);
  if (::chown(to.c_str(), st.st_uid, st.st_gid) != 0) return Errno("chown", to);
  return absl::OkStatus();
}

}  // namespace

JobFileStore::JobFileStore(std::string work_dir, std::optional<RunAs> run_as)
    : work_dir_(std::move(work_dir)), run_as_(std::move(run_as)) {
  std::error_code ec;
  fs::remove_all(absl::StrCat(work_dir_, "/files"), ec);
  fs::remove_all(absl::StrCat(work_dir_, "/attempts"), ec);
}

std::string JobFileStore::JobDir(const std::string& job_id) const {
  return absl::StrCat(work_dir_, "/files/", job_id);
}

bool JobFileStore::Has(const std::string& job_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.count(job_id) > 0;
}

absl::Status JobFileStore::Put(const std::string& job_id, const v1::JobFiles& files) {
  AMPMR_RETURN_IF_ERROR(CheckId("job id", job_id));
  for (const v1::ShippedFile& file : files.files()) {
    if (absl::Status s = CheckShippedFileName(file.name()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("job=", job_id, ": ", s.message()));
    }
  }
  // Written beside the final place and renamed into it, so an attempt never
  // sees half of a job's files.
  const std::string dir = JobDir(job_id);
  const std::string staging = absl::StrCat(dir, ".new");
  std::error_code ec;
  fs::remove_all(staging, ec);
  AMPMR_RETURN_IF_ERROR(MakeDir(absl::StrCat(work_dir_, "/files"), 0700));
  AMPMR_RETURN_IF_ERROR(MakeDir(staging, 0700));
  for (const v1::ShippedFile& file : files.files()) {
    if (absl::Status s = WriteFile(absl::StrCat(staging, "/", file.name()), file, run_as_);
        !s.ok()) {
      fs::remove_all(staging, ec);
      return s;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  fs::remove_all(dir, ec);
  if (::rename(staging.c_str(), dir.c_str()) != 0) {
    absl::Status failed = Errno("rename into place", dir);
    fs::remove_all(staging, ec);
    return failed;
  }
  jobs_.insert(job_id);
  return absl::OkStatus();
}

void JobFileStore::ForgetJob(const std::string& job_id) {
  if (!CheckId("job id", job_id).ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (jobs_.erase(job_id) == 0) return;
  std::error_code ec;
  fs::remove_all(JobDir(job_id), ec);
}

void JobFileStore::ForgetAll() {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.clear();
  std::error_code ec;
  fs::remove_all(absl::StrCat(work_dir_, "/files"), ec);
}

absl::StatusOr<std::string> JobFileStore::MakeAttemptDir(const v1::TaskContext& task) const {
  AMPMR_RETURN_IF_ERROR(CheckId("attempt id", task.attempt_id()));
  AMPMR_RETURN_IF_ERROR(CheckId("job id", task.job_id()));
  const std::string dir = absl::StrCat(work_dir_, "/attempts/", task.attempt_id());
  std::error_code ec;
  fs::remove_all(dir, ec);  // left by a worker that was killed
  AMPMR_RETURN_IF_ERROR(
      MakeDir(absl::StrCat(work_dir_, "/attempts"), run_as_.has_value() ? 0711 : 0700));
  AMPMR_RETURN_IF_ERROR(MakeDir(dir, 0700));
  if (run_as_.has_value() && ::chown(dir.c_str(), run_as_->uid, run_as_->gid) != 0) {
    absl::Status failed = Errno("chown", dir);
    RemoveAttemptDir(dir);
    return failed;
  }
  for (const std::string& name : task.files()) {
    absl::Status s = CheckShippedFileName(name);
    if (s.ok()) s = LinkOrCopy(absl::StrCat(JobDir(task.job_id()), "/", name),
                               absl::StrCat(dir, "/", name));
    if (!s.ok()) {
      RemoveAttemptDir(dir);
      return absl::Status(s.code(), absl::StrCat("attempt=", task.attempt_id(), ": ", s.message()));
    }
  }
  return dir;
}

void JobFileStore::RemoveAttemptDir(const std::string& dir) const {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace ampmr::worker
