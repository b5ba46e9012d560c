#include "master/job_validation.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/shipped_files.h"
#include "common/status_macros.h"
#include "common/key_spec.h"
#include "common/task_spec.h"
#include "master/plugin_file.h"

namespace ampmr::master {
namespace {

// "WHAT PATH: no such file or directory", with the code errno implies.
absl::Status PathError(absl::string_view what, absl::string_view path, int err) {
  char buf[256];
  std::string why = strerror_r(err, buf, sizeof(buf));  // GNU: returns the message
  if (!why.empty()) why[0] = absl::ascii_tolower(why[0]);
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(what, " ", path, ": ", why));
}

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// "a/b/" -> "a", "b" -> ".", "/b" -> "/".
std::string ParentDir(absl::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

absl::StatusOr<bool> IsEmptyDir(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return PathError("output", path, errno);
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

// Paths are read and written by every worker, whatever its working
// directory: absolute, and nothing a C string cannot carry.
absl::Status CheckPath(absl::string_view field, absl::string_view path) {
  if (path.size() > kMaxPathBytes) {
    return Invalid(field, absl::StrCat("path longer than ", kMaxPathBytes, " bytes"));
  }
  if (path.find('\0') != absl::string_view::npos) return Invalid(field, "path holds a NUL byte");
  if (path.empty() || path[0] != '/') {
    return Invalid(field, absl::StrCat("\"", path, "\" is not an absolute path"));
  }
  return absl::OkStatus();
}

absl::Status CheckInputsAndOutput(const v1::JobSpec& spec) {
  if (spec.inputs().empty()) return Invalid("inputs", "at least one input is required");
  if (spec.inputs_size() > kMaxInputs) {
    return Invalid("inputs",
                   absl::StrCat("at most ", kMaxInputs, " per job, got ", spec.inputs_size()));
  }
  for (int i = 0; i < spec.inputs_size(); ++i) {
    const std::string field = absl::StrCat("inputs[", i, "]");
    if (spec.inputs(i).empty()) return Invalid(field, "empty path");
    AMPMR_RETURN_IF_ERROR(CheckPath(field, spec.inputs(i)));
  }
  if (spec.output().empty()) return Invalid("output", "required");
  AMPMR_RETURN_IF_ERROR(CheckPath("output", spec.output()));
  if (spec.name().size() > kMaxNameBytes) {
    return Invalid("name", absl::StrCat("longer than ", kMaxNameBytes, " bytes"));
  }
  for (const auto& [field, text] :
       {std::pair<const char*, const std::string&>{"mapper", spec.mapper()},
        {"reducer", spec.reducer()},
        {"combiner", spec.combiner()}}) {
    if (text.size() > kMaxTaskSpecBytes) {
      return Invalid(field, absl::StrCat("longer than ", kMaxTaskSpecBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

// Parses the three task specs; fills the default reducer into *spec.
absl::Status CheckTaskSpecs(v1::JobSpec* spec) {
  if (spec->mapper().empty()) return Invalid("mapper", "required");
  AMPMR_RETURN_IF_ERROR(ParseTaskSpec(TaskRole::kMapper, spec->mapper()).status());
  if (spec->reducer().empty()) spec->set_reducer(kDefaultReducer);
  AMPMR_ASSIGN_OR_RETURN(TaskSpec reducer, ParseTaskSpec(TaskRole::kReducer, spec->reducer()));
  if (spec->combiner().empty()) return absl::OkStatus();
  AMPMR_RETURN_IF_ERROR(ParseTaskSpec(TaskRole::kCombiner, spec->combiner()).status());
  if (reducer.kind == TaskSpec::Kind::kNone) {
    return Invalid(absl::StrCat("combiner \"", spec->combiner(), "\""),
                   "a map-only job (reducer \"none\") has no output to combine");
  }
  return absl::OkStatus();
}

// Checks the numeric fields and fills their defaults into *spec.
absl::Status CheckNumbers(v1::JobSpec* spec) {
  if (spec->reduces() < 0) {
    return Invalid("reduces", absl::StrCat("must be >= 1, got ", spec->reduces()));
  }
  if (spec->reduces() > kMaxReduces) {
    return Invalid("reduces", absl::StrCat("must be <= ", kMaxReduces, ", got ", spec->reduces()));
  }
  if (spec->split_size() < 0) {
    return Invalid("split_size", absl::StrCat("must be > 0, got ", spec->split_size()));
  }
  if (spec->max_attempts() < 0) {
    return Invalid("max_attempts", absl::StrCat("must be >= 1, got ", spec->max_attempts()));
  }
  double timeout = spec->task_timeout_seconds();
  if (!std::isfinite(timeout) || timeout < 0) {
    return Invalid("task_timeout_seconds",
                   absl::StrCat("must be a finite number >= 0 (0: no timeout), got ", timeout));
  }
  if (spec->has_reduce_slowstart() &&
      !(spec->reduce_slowstart() >= 0 && spec->reduce_slowstart() <= 1)) {
    return Invalid("reduce_slowstart",
                   absl::StrCat("must be a fraction between 0 and 1, got ", spec->reduce_slowstart()));
  }
  if (spec->reduces() == 0) spec->set_reduces(kDefaultReduces);
  if (spec->split_size() == 0) spec->set_split_size(kDefaultSplitSize);
  if (spec->max_attempts() == 0) spec->set_max_attempts(kDefaultMaxAttempts);
  return absl::OkStatus();
}

// Keys, partitions and order; compression of the output.
absl::Status CheckKeysAndOutputFormat(const v1::JobSpec& spec) {
  absl::StatusOr<KeySpec> keys = MakeKeySpec(spec.key_fields(), spec.field_separator(),
                                             spec.partition_fields(), spec.sort_key());
  if (!keys.ok()) return keys.status();
  if (spec.total_order() && spec.reducer() == "none") {
    return Invalid("total_order", "a map-only job (reducer \"none\") has no partitions to order");
  }
  const std::string& codec = spec.compress_output();
  if (!codec.empty() && codec != "gzip" && codec != "zstd") {
    return Invalid("compress_output", absl::StrCat("want gzip or zstd, got \"", codec, "\""));
  }
  return absl::OkStatus();
}

// Names become environment variables of exec tasks (setenv/execve rules).
absl::Status CheckEnv(const v1::JobSpec& spec) {
  if (spec.env_size() > kMaxEnvVars) {
    return Invalid("env",
                   absl::StrCat("at most ", kMaxEnvVars, " variables, got ", spec.env_size()));
  }
  std::vector<std::pair<std::string, std::string>> env(spec.env().begin(), spec.env().end());
  std::sort(env.begin(), env.end());  // the same spec always reports the same error
  size_t bytes = 0;
  for (const auto& [name, value] : env) {
    bytes += name.size() + value.size();
    if (name.size() > kMaxEnvNameBytes) {
      return Invalid("env",
                     absl::StrCat("a variable name is longer than ", kMaxEnvNameBytes, " bytes"));
    }
    std::string field = absl::StrCat("env \"", name, "\"");
    if (name.empty()) return Invalid("env", "empty variable name");
    if (name.find('=') != std::string::npos) return Invalid(field, "name must not contain '='");
    if (name.find('\0') != std::string::npos) return Invalid(field, "name contains a NUL byte");
    if (value.find('\0') != std::string::npos) return Invalid(field, "value contains a NUL byte");
  }
  if (bytes > kMaxEnvBytes) {
    return Invalid("env",
                   absl::StrCat("names and values add up to more than ", kMaxEnvBytes, " bytes"));
  }
  return absl::OkStatus();
}

// The output must not exist, or be an empty directory, in a writable place.
absl::Status CheckOutputPath(const std::string& output) {
  struct stat st;
  if (stat(output.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::AlreadyExistsError(
          absl::StrCat("output ", output, ": exists and is not a directory"));
    }
    AMPMR_ASSIGN_OR_RETURN(bool empty, IsEmptyDir(output));
    if (!empty) {
      return absl::AlreadyExistsError(absl::StrCat("output ", output, ": exists and is not empty"));
    }
    if (access(output.c_str(), W_OK | X_OK) != 0) return PathError("output", output, errno);
    return absl::OkStatus();
  }
  if (errno != ENOENT && errno != ENOTDIR) return PathError("output", output, errno);
  std::string parent = ParentDir(output);
  if (stat(parent.c_str(), &st) != 0) {
    if (errno != ENOENT) return PathError("output", output, errno);
    return absl::NotFoundError(
        absl::StrCat("output ", output, ": parent directory ", parent, " does not exist"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("output ", output, ": parent ", parent, " is not a directory"));
  }
  if (access(parent.c_str(), W_OK | X_OK) != 0) {
    return Annotate(PathError("parent directory", parent, errno), absl::StrCat("output ", output));
  }
  return absl::OkStatus();
}

// Plugins are loaded by workers; refusing a missing one here fails the job
// at submit time rather than after every map attempt has failed.
absl::Status CheckPlugin(TaskRole role, const std::string& text) {
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<TaskSpec> task = ParseTaskSpec(role, text);
  if (!task.ok() || task->kind != TaskSpec::Kind::kPlugin) return absl::OkStatus();
  std::string field = absl::StrCat(TaskRoleName(role), " \"", text, "\"");
  const std::string& path = task->arg;
  AMPMR_RETURN_IF_ERROR(CheckPath(field, path));
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || access(path.c_str(), R_OK) != 0) {
    return Annotate(PathError("plugin", path, errno), field);
  }
  if (!S_ISREG(st.st_mode)) return Invalid(field, absl::StrCat(path, ": not a regular file"));
  return Annotate(CheckPluginFile(path), field);
}

}  // namespace

absl::Status ValidateAndNormalize(v1::JobSpec* spec) {
  // Work on a copy so that a refused spec is left as the caller sent it.
  v1::JobSpec job = *spec;
  AMPMR_RETURN_IF_ERROR(CheckInputsAndOutput(job));
  AMPMR_RETURN_IF_ERROR(CheckTaskSpecs(&job));
  AMPMR_RETURN_IF_ERROR(CheckNumbers(&job));
  AMPMR_RETURN_IF_ERROR(CheckEnv(job));
  AMPMR_RETURN_IF_ERROR(CheckKeysAndOutputFormat(job));
  AMPMR_RETURN_IF_ERROR(CheckShippedFiles(&job));
  AMPMR_RETURN_IF_ERROR(CheckOutputPath(job.output()));
  AMPMR_RETURN_IF_ERROR(CheckPlugin(TaskRole::kMapper, job.mapper()));
  AMPMR_RETURN_IF_ERROR(CheckPlugin(TaskRole::kReducer, job.reducer()));
  AMPMR_RETURN_IF_ERROR(CheckPlugin(TaskRole::kCombiner, job.combiner()));
  *spec = std::move(job);
  return absl::OkStatus();
}

}  // namespace ampmr::master
