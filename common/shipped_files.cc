#include "common/shipped_files.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace ampmr {

absl::Status CheckShippedFileName(absl::string_view name) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("file name \"", name, "\": ", why));
  };
  if (name.empty()) return refuse("empty");
  if (name.size() > 255) return refuse("longer than 255 bytes");
  if (name == "." || name == "..") return refuse("not a file name");
  if (name.find('/') != absl::string_view::npos) return refuse("must not contain '/'");
  if (name.find('\0') != absl::string_view::npos) return refuse("contains a NUL byte");
  return absl::OkStatus();
}

absl::Status CheckShippedFiles(v1::JobSpec* spec) {
  if (spec->files_size() > kMaxShippedFiles) {
    return absl::InvalidArgumentError(absl::StrCat("files: ", spec->files_size(),
                                                   " files, at most ", kMaxShippedFiles));
  }
  std::set<std::string> names;
  int64_t total = 0;
  for (v1::ShippedFile& file : *spec->mutable_files()) {
    if (absl::Status s = CheckShippedFileName(file.name()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("files: ", s.message()));
    }
    if (!names.insert(file.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("files: \"", file.name(), "\" shipped twice"));
    }
    if (file.mode() > 0777) {
      return absl::InvalidArgumentError(
          absl::StrCat("files: \"", file.name(), "\": mode ", file.mode(), " beyond 0777"));
    }
    file.set_size(static_cast<int64_t>(file.content().size()));
    total += file.size();
    if (total > kMaxShippedBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("files: more than ", kMaxShippedBytes >> 20, " MiB in all (at \"",
                       file.name(), "\")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ampmr
