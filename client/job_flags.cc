#include "client/job_flags.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/key_spec.h"
#include "common/shipped_files.h"
#include "common/size.h"
#include "common/status_macros.h"
#include "common/task_spec.h"

namespace ampmr::client {
namespace {

absl::Status MustBeAtLeastOne(absl::string_view flag, int64_t value) {
  if (value >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": must be >= 1, got ", value));
}

// ParseTaskSpec names the role ("mapper \"x\": ..."); the user typed the
// flag, so say "--mapper \"x\": ...".
// The spec as the master should get it: a plugin path made absolute from
// `cwd`, since workers load it from theirs.
absl::StatusOr<std::string> CheckSpec(TaskRole role, absl::string_view text,
                                      absl::string_view cwd) {
  absl::StatusOr<TaskSpec> spec = ParseTaskSpec(role, text);
  if (spec.ok() && spec->kind == TaskSpec::Kind::kPlugin) {
    return absl::StrCat("plugin:", MakeAbsolute(cwd, spec->arg));
  }
  if (spec.ok()) return std::string(text);
  absl::string_view message = spec.status().message();
  if (absl::StartsWith(message, TaskRoleName(role))) {
    return absl::InvalidArgumentError(absl::StrCat("--", message));
  }
  return absl::InvalidArgumentError(absl::StrCat("--", TaskRoleName(role), ": ", message));
}

bool IsEnvName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

absl::Status AddEnv(const std::vector<std::string>& assignments, v1::JobSpec* spec) {
  for (const std::string& assignment : assignments) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--env \"", assignment, "\": want NAME=VALUE"));
    }
    std::string name = assignment.substr(0, eq);
    if (!IsEnvName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--env \"", assignment,
                       "\": NAME must be letters, digits and _, not starting with a digit"));
    }
    auto [it, inserted] = spec->mutable_env()->insert({name, assignment.substr(eq + 1)});
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("--env: ", name, " given more than once"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckPath(absl::string_view flag, absl::string_view cwd,
                                      absl::string_view path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": empty path"));
  }
  return MakeAbsolute(cwd, path);
}

absl::Status FileError(absl::string_view flag_value, absl::string_view path, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat("--file ", flag_value, ": ", path, ": ", strerror(err)));
}

// Reads one --file PATH[#NAME] (NAME defaults to PATH's last component).
absl::StatusOr<v1::ShippedFile> ReadShippedFile(absl::string_view cwd,
                                                const std::string& flag_value) {
  absl::string_view path_part = flag_value;
  std::string name;
  if (size_t hash = flag_value.rfind('#'); hash != std::string::npos) {
    path_part = absl::string_view(flag_value).substr(0, hash);
    name = flag_value.substr(hash + 1);
  }
  if (path_part.empty()) return absl::InvalidArgumentError("--file: empty path");
  std::string path = MakeAbsolute(cwd, path_part);
  if (name.empty()) name = path.substr(path.rfind('/') + 1);
  if (absl::Status s = CheckShippedFileName(name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--file ", flag_value, ": ", s.message()));
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FileError(flag_value, path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return FileError(flag_value, path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("--file ", flag_value, ": ", path, ": not a regular file"));
  }
  if (st.st_size > kMaxShippedBytes) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat("--file ", flag_value, ": ", path, ": ",
                                                   st.st_size, " bytes, more than the ",
                                                   kMaxShippedBytes >> 20, " MiB a job may ship"));
  }
  v1::ShippedFile file;
  file.set_name(name);
  file.set_mode(st.st_mode & 0777);
  std::string* content = file.mutable_content();
  content->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < content->size()) {
    ssize_t n = ::read(fd, content->data() + done, content->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  int err = errno;
  ::close(fd);
  if (done != content->size()) return FileError(flag_value, path, err != 0 ? err : EIO);
  return file;
}

// Reads every --file; the bounds over all of them are CheckShippedFiles'.
absl::Status AddFiles(absl::string_view cwd, const std::vector<std::string>& flags,
                      v1::JobSpec* spec) {
  for (const std::string& flag : flags) {
    AMPMR_ASSIGN_OR_RETURN(*spec->add_files(), ReadShippedFile(cwd, flag));
  }
  absl::Status checked = CheckShippedFiles(spec);
  if (!checked.ok()) return absl::InvalidArgumentError(absl::StrCat("--", checked.message()));
  return absl::OkStatus();
}

}  // namespace

void AddJobFlags(FlagSet* flags, JobFlags* job) {
  flags
      ->Repeated("input", &job->inputs, "PATH...",
                 "input files, directories or globs (every argument up to the next flag); "
                 "may be repeated")
      .Required()
      .Several();
  flags->String("output", &job->output, "DIR", "output directory; must be absent or empty")
      .Required();
  flags
      ->String("mapper", &job->mapper, "SPEC", "builtin:NAME, exec:SHELL COMMAND or plugin:PATH.so")
      .Required();
  flags->String("reducer", &job->reducer, "SPEC", "like --mapper; \"none\" makes a map-only job");
  flags
      ->String("combiner", &job->combiner, "SPEC",
               "run on each map output partition before the shuffle")
      .DefaultText("none");
  flags->Int32("reduces", &job->reduces, "R", "number of reduce tasks");
  flags->String("split-size", &job->split_size, "SIZE",
                "largest map split; K, M, G suffixes are powers of 1024");
  flags->Int32("max-attempts", &job->max_attempts, "K", "attempts per task before the job fails");
  flags
      ->Double("task-timeout", &job->task_timeout_seconds, "SECS",
               "fail an attempt that shows no progress (input taken, output or a "
               "reporter:status line) for this long")
      .DefaultText("600; 0 = no timeout");
  flags->Repeated("env", &job->env, "K=V", "environment for exec tasks");
  flags->Repeated("file", &job->files, "PATH[#NAME]",
                  "ship a file with the job as NAME (default: its file name), mode kept; "
                  "repeatable, at most 100 files and 64M in all; exec tasks run in a "
                  "directory of their own where the files are");
  flags->String("name", &job->name, "TEXT", "a name for the job, shown by `ampmr jobs`");
  flags->Int32("priority", &job->priority, "P",
               "among jobs competing for slots, higher priorities get them first; equal "
               "priorities share the slots fairly");
  flags->Int32("key-fields", &job->key_fields, "N",
               "the first N fields of a map output line are its key, the rest its value");
  flags->String("field-separator", &job->field_separator, "C", "what separates fields: one byte")
      .DefaultText("TAB");
  flags
      ->Int32("partition-fields", &job->partition_fields, "K",
              "pick reduces by the first K key fields only (K <= --key-fields)")
      .DefaultText("the whole key");
  flags
      ->String("sort-key", &job->sort_key, "KEYDEF",
               "order keys like sort(1) -k over key fields, e.g. \"-k1,1 -k2,2nr\" "
               "(n numeric, r reverse)")
      .DefaultText("bytewise");
  flags->Bool("total-order", &job->total_order,
              "sample the keys and range-partition them, so the parts in order are one "
              "sorted file");
  flags
      ->String("compress-output", &job->compress_output, "gzip|zstd",
               "write part-NNNNN.gz or part-NNNNN.zst")
      .DefaultText("none");
  flags
      ->String("reduce-slowstart", &job->reduce_slowstart, "F",
               "reduces may start once this fraction of the maps are done, fetching map outputs "
               "while the rest run (Hadoop's mapreduce.job.reduce.slowstart.completedmaps); 1: "
               "once every map is done")
      .DefaultText("the master's --reduce-slowstart, 0.05 unless set");
}

absl::StatusOr<v1::JobSpec> BuildJobSpec(const JobFlags& job, absl::string_view cwd) {
  v1::JobSpec spec;
  for (const std::string& input : job.inputs) {
    AMPMR_ASSIGN_OR_RETURN(*spec.add_inputs(), CheckPath("input", cwd, input));
  }
  AMPMR_ASSIGN_OR_RETURN(*spec.mutable_output(), CheckPath("output", cwd, job.output));
  AMPMR_ASSIGN_OR_RETURN(*spec.mutable_mapper(), CheckSpec(TaskRole::kMapper, job.mapper, cwd));
  AMPMR_ASSIGN_OR_RETURN(*spec.mutable_reducer(), CheckSpec(TaskRole::kReducer, job.reducer, cwd));
  if (!job.combiner.empty()) {
    AMPMR_ASSIGN_OR_RETURN(*spec.mutable_combiner(),
                           CheckSpec(TaskRole::kCombiner, job.combiner, cwd));
  }
  AMPMR_RETURN_IF_ERROR(MustBeAtLeastOne("reduces", job.reduces));
  spec.set_reduces(job.reduces);
  absl::StatusOr<int64_t> split_size = ParseSize(job.split_size);
  if (!split_size.ok()) return Annotate(split_size.status(), "--split-size");
  spec.set_split_size(*split_size);
  AMPMR_RETURN_IF_ERROR(MustBeAtLeastOne("max-attempts", job.max_attempts));
  spec.set_max_attempts(job.max_attempts);
  if (!std::isfinite(job.task_timeout_seconds) || job.task_timeout_seconds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--task-timeout: must be >= 0 seconds, got ", job.task_timeout_seconds));
  }
  spec.set_task_timeout_seconds(job.task_timeout_seconds);
  AMPMR_RETURN_IF_ERROR(AddEnv(job.env, &spec));
  AMPMR_RETURN_IF_ERROR(AddFiles(cwd, job.files, &spec));
  spec.set_name(job.name);
  spec.set_priority(job.priority);
  KeySpecNames names;
  names.key_fields = "--key-fields";
  names.separator = "--field-separator";
  names.partition_fields = "--partition-fields";
  names.sort_key = "--sort-key";
  AMPMR_RETURN_IF_ERROR(
      MakeKeySpec(job.key_fields, job.field_separator, job.partition_fields, job.sort_key, names)
          .status());
  if (job.key_fields < 1) return MustBeAtLeastOne("key-fields", job.key_fields);
  spec.set_key_fields(job.key_fields);
  spec.set_field_separator(job.field_separator);
  spec.set_partition_fields(job.partition_fields);
  spec.set_sort_key(job.sort_key);
  if (job.total_order && job.reducer == "none") {
    return absl::InvalidArgumentError("--total-order: a map-only job (--reducer none) has no "
                                      "partitions to order");
  }
  spec.set_total_order(job.total_order);
  if (!job.reduce_slowstart.empty()) {
    double fraction = 0;
    if (!absl::SimpleAtod(job.reduce_slowstart, &fraction) || !(fraction >= 0 && fraction <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--reduce-slowstart: must be a fraction between 0 and 1, got \"", job.reduce_slowstart,
          "\""));
    }
    spec.set_reduce_slowstart(fraction);
  }
  if (!job.compress_output.empty() && job.compress_output != "gzip" &&
      job.compress_output != "zstd") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--compress-output: want gzip or zstd, got \"", job.compress_output, "\""));
  }
  spec.set_compress_output(job.compress_output);
  return spec;
}

absl::Status CheckLocalWorkers(int32_t workers) {
  AMPMR_RETURN_IF_ERROR(MustBeAtLeastOne("workers", workers));
  if (workers > kMaxLocalWorkers) {
    return absl::InvalidArgumentError(
        absl::StrCat("--workers: must be <= ", kMaxLocalWorkers, ", got ", workers));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CurrentDir() {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof(buf)) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot get the current directory: ", strerror(errno)));
  }
  return std::string(buf);
}

std::string MakeAbsolute(absl::string_view cwd, absl::string_view path) {
  std::string joined =
      absl::StartsWith(path, "/") ? std::string(path) : absl::StrCat(cwd, "/", path);
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(joined, '/')) {
    if (part.empty() || part == ".") continue;
    parts.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

}  // namespace ampmr::client
