#include "master/output_committer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ampmr::master {
namespace {

namespace fs = std::filesystem;

absl::Status Rename(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("rename ", from, " -> ", to, ": ", ec.message()));
  }
  return absl::OkStatus();
}

std::string StageFor(const std::string& output, const std::string& job_id) {
  fs::path out = fs::path(output).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "out/" -> "out"
  return (out.parent_path() / absl::StrCat(".", out.filename().string(), ".ampmr-", job_id))
      .string();
}

// Creates `path` empty and makes it durable, so _SUCCESS never outlives a
// crash without the parts it vouches for.
absl::Status WriteEmptyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("create ", path, ": ", std::strerror(errno)));
  int synced = ::fsync(fd);
  int closed = ::close(fd);
  if (synced != 0 || closed != 0) {
    return absl::InternalError(absl::StrCat("write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

OutputCommitter::OutputCommitter(const std::string& output, const std::string& job_id,
                                 const std::string& suffix)
    : output_(output), stage_(StageFor(output, job_id)), suffix_(suffix) {}

std::string OutputCommitter::PartName(int index) const {
  return absl::StrFormat("part-%05d%s", index, suffix_);
}

std::string OutputCommitter::AttemptDir(const std::string& attempt_id) const {
  return absl::StrCat(stage_, "/", attempt_id);
}

std::string OutputCommitter::AttemptPath(const std::string& attempt_id, int index) const {
  return absl::StrCat(AttemptDir(attempt_id), "/", PartName(index));
}

absl::Status OutputCommitter::CommitTask(const std::string& attempt_id, int index) const {
  std::error_code ec;
  fs::create_directories(AssembledDir(), ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", AssembledDir(), ": ", ec.message()));
  absl::Status renamed =
      Rename(AttemptPath(attempt_id, index), absl::StrCat(AssembledDir(), "/", PartName(index)));
  if (!renamed.ok()) return renamed;
  fs::remove_all(AttemptDir(attempt_id), ec);
  return absl::OkStatus();
}

bool OutputCommitter::IsCommitted(int index) const {
  std::error_code ec;
  return fs::exists(absl::StrCat(AssembledDir(), "/", PartName(index)), ec) ||
         fs::exists(absl::StrCat(output_, "/", PartName(index)), ec);
}

absl::Status OutputCommitter::CommitJob(int parts) const {
  std::error_code ec;
  if (!fs::exists(AssembledDir(), ec) && fs::exists(output_ + "/_SUCCESS", ec)) {
    Abort();  // a restart interrupted this after the rename
    return absl::OkStatus();
  }
  for (int index = 0; index < parts; ++index) {
    std::string part = absl::StrCat(AssembledDir(), "/", PartName(index));
    if (!fs::exists(part, ec)) return absl::InternalError(absl::StrCat(part, ": missing"));
  }
  fs::create_directories(AssembledDir(), ec);  // a job with no parts
  absl::Status success = WriteEmptyFile(AssembledDir() + "/_SUCCESS");
  if (!success.ok()) return success;
  // rename(2) replaces an empty directory and refuses a non-empty one.
  absl::Status renamed = Rename(AssembledDir(), output_);
  if (!renamed.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(renamed.message(), " (the output must be absent or empty)"));
  }
  Abort();
  return absl::OkStatus();
}

void OutputCommitter::Abort() const {
  std::error_code ec;
  fs::remove_all(stage_, ec);
}

}  // namespace ampmr::master
