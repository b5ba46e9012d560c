#include "worker/task/stderr_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace ampmr::worker {
namespace {

constexpr absl::string_view kCutMarker = "[ampmr: earlier stderr cut to keep the cap]\n";

bool PlainName(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos;
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return absl::InternalError(absl::StrCat(path, ": ", strerror(errno)));
  }
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  int err = errno;
  ::close(fd);
  if (n < 0) return absl::InternalError(absl::StrCat(path, ": ", strerror(err)));
  return out;
}

}  // namespace

StderrLog::StderrLog(std::string path, size_t cap) : path_(std::move(path)), cap_(cap) {}

StderrLog::~StderrLog() {
  if (fd_ >= 0) ::close(fd_);
}

void StderrLog::Append(absl::string_view line) {
  if (path_.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_) return;
  if (fd_ < 0) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      failed_ = true;
      AMPMR_LOG(WARNING) << "cannot keep stderr in " << path_ << ": " << strerror(errno);
      return;
    }
  }
  if (!WriteAll(fd_, line) || !WriteAll(fd_, "\n")) {
    failed_ = true;
    AMPMR_LOG(WARNING) << "cannot keep stderr in " << path_ << ": " << strerror(errno);
    return;
  }
  size_ += line.size() + 1;
  if (size_ > 2 * cap_) CutLocked();
}

void StderrLog::CutLocked() {
  absl::StatusOr<std::string> whole = ReadWhole(path_);
  if (!whole.ok()) {
    failed_ = true;
    AMPMR_LOG(WARNING) << "cannot cut stderr log: " << whole.status().message();
    return;
  }
  absl::string_view text = *whole;
  if (absl::StartsWith(text, kCutMarker)) text.remove_prefix(kCutMarker.size());
  if (text.size() > cap_) {
    text.remove_prefix(text.size() - cap_);
    size_t newline = text.find('\n');
    if (newline != absl::string_view::npos && newline + 1 < text.size()) {
      text.remove_prefix(newline + 1);
    }
  }
  std::string tmp = path_ + ".cut";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0 || !WriteAll(fd, kCutMarker) || !WriteAll(fd, text) ||
      ::rename(tmp.c_str(), path_.c_str()) != 0) {
    failed_ = true;
    AMPMR_LOG(WARNING) << "cannot cut stderr log " << path_ << ": " << strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return;
  }
  ::close(fd_);
  fd_ = fd;
  size_ = kCutMarker.size() + text.size();
}

absl::StatusOr<StderrLog::Kept> StderrLog::Read(const std::string& path) {
  absl::StatusOr<std::string> whole = ReadWhole(path);
  if (!whole.ok()) return whole.status();
  Kept kept;
  kept.truncated = absl::StartsWith(*whole, kCutMarker);
  kept.text = kept.truncated ? whole->substr(kCutMarker.size()) : *std::move(whole);
  return kept;
}

std::string StderrLog::PathFor(const std::string& work_dir, const std::string& job_id,
                               const std::string& attempt_id) {
  std::string dir = JobDir(work_dir, job_id);
  if (dir.empty() || !PlainName(attempt_id)) return "";
  return absl::StrCat(dir, "/", attempt_id, ".stderr");
}

std::string StderrLog::JobDir(const std::string& work_dir, const std::string& job_id) {
  if (!PlainName(job_id)) return "";
  return absl::StrCat(work_dir, "/logs/", job_id);
}

}  // namespace ampmr::worker
