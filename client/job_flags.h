// JobFlags: the job-describing flags shared by `ampmr run` and `ampmr submit`
// (README "Using it"), and the local checks that turn them into a v1::JobSpec.
//
// Only what can be judged without the master is checked here: flag shapes,
// numbers in range, SIZE and SPEC syntax. Whether inputs exist and the output
// directory is free is the master's call at SubmitJob, because the master may
// see a different file system. No gRPC in here.
#ifndef AMPMR_CLIENT_JOB_FLAGS_H_
#define AMPMR_CLIENT_JOB_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ampmr/v1/job.pb.h"
#include "common/cli_flags.h"

namespace ampmr::client {

// The job flags as typed; the initial values are the defaults --help shows.
struct JobFlags {
  std::vector<std::string> inputs;  // paths, directories or globs
  std::string output;
  std::string mapper;
  std::string reducer = "builtin:identity";  // "none": a map-only job
  std::string combiner;                      // empty: no combiner
  int32_t reduces = 1;
  std::string split_size = "64M";
  int32_t max_attempts = 4;
  double task_timeout_seconds = 600;  // 0: no timeout (Hadoop's mapreduce.task.timeout)
  std::vector<std::string> env;     // NAME=VALUE each
  std::vector<std::string> files;   // PATH[#NAME] each: shipped with the job
  std::string name;                 // free text shown by `ampmr jobs`
  int32_t priority = 0;             // higher gets slots first among competing jobs
  int32_t key_fields = 1;
  std::string field_separator = "\t";
  int32_t partition_fields = 0;  // 0: the whole key
  std::string sort_key;          // empty: bytewise
  bool total_order = false;
  std::string compress_output;  // "", "gzip" or "zstd"
  std::string reduce_slowstart;  // a fraction; empty: the master's
};

// Declares --input, --output, --mapper, --reducer, --combiner, --reduces,
// --split-size, --max-attempts, --task-timeout, --env, --file, --name, --key-fields,
// --field-separator, --partition-fields, --sort-key, --total-order,
// --compress-output and --reduce-slowstart on `flags`, bound to `job`.
void AddJobFlags(FlagSet* flags, JobFlags* job);

// Checks `job` and builds the spec to submit. Relative --input and --output
// paths are made absolute against `cwd` (an absolute directory), since the
// master may run in another directory. Each --file is read here (relative to
// `cwd`) and its content and mode go with the spec. Errors are
// INVALID_ARGUMENT (NOT_FOUND, PERMISSION_DENIED for a --file that cannot be
// read) and start with the flag, e.g. "--reduces: must be >= 1, got 0".
absl::StatusOr<v1::JobSpec> BuildJobSpec(const JobFlags& job, absl::string_view cwd);

// `ampmr run --workers N`: INVALID_ARGUMENT unless 1 <= N <= kMaxLocalWorkers.
inline constexpr int32_t kMaxLocalWorkers = 1024;
absl::Status CheckLocalWorkers(int32_t workers);

// The current working directory (getcwd), for BuildJobSpec.
absl::StatusOr<std::string> CurrentDir();

// `path` made absolute against `cwd`, with "." components and repeated
// slashes dropped. ".." is kept: without the file system it cannot be
// resolved correctly through symlinks. Glob characters pass through.
std::string MakeAbsolute(absl::string_view cwd, absl::string_view path);

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_JOB_FLAGS_H_
