#include "master/output_committer.h"

#include <cstdio>
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

}  // namespace

std::string OutputCommitter::PartName(int index) { return absl::StrFormat("part-%05d", index); }

std::string OutputCommitter::AttemptDir(const std::string& attempt_id) const {
  return absl::StrCat(TempDir(), "/", attempt_id);
}

std::string OutputCommitter::AttemptPath(const std::string& attempt_id, int index) const {
  return absl::StrCat(AttemptDir(attempt_id), "/", PartName(index));
}

absl::Status OutputCommitter::CommitTask(const std::string& attempt_id, int index) const {
  std::string committed_dir = TempDir() + "/committed";
  std::error_code ec;
  fs::create_directories(committed_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", committed_dir, ": ", ec.message()));
  absl::Status renamed =
      Rename(AttemptPath(attempt_id, index), absl::StrCat(committed_dir, "/", PartName(index)));
  if (!renamed.ok()) return renamed;
  fs::remove_all(AttemptDir(attempt_id), ec);
  return absl::OkStatus();
}

bool OutputCommitter::IsCommitted(int index) const {
  std::error_code ec;
  return fs::exists(absl::StrCat(TempDir(), "/committed/", PartName(index)), ec) ||
         fs::exists(absl::StrCat(output_, "/", PartName(index)), ec);
}

absl::Status OutputCommitter::CommitJob(int parts) const {
  for (int index = 0; index < parts; ++index) {
    std::string name = PartName(index);
    std::string from = absl::StrCat(TempDir(), "/committed/", name);
    std::string to = absl::StrCat(output_, "/", name);
    // Redone after a restart, a part moved the first time is fine.
    std::error_code ec;
    if (!fs::exists(from, ec) && fs::exists(to, ec)) continue;
    absl::Status renamed = Rename(from, to);
    if (!renamed.ok()) return renamed;
  }
  Abort();
  std::string success = output_ + "/_SUCCESS";
  FILE* f = std::fopen(success.c_str(), "w");
  if (f == nullptr || std::fclose(f) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", success));
  }
  return absl::OkStatus();
}

void OutputCommitter::Abort() const {
  std::error_code ec;
  fs::remove_all(TempDir(), ec);
}

}  // namespace ampmr::master
