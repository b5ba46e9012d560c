// Submit-time checks of a JobSpec (README "Using it"): a job that cannot
// run is refused before it is journaled, with a message that names the field
// or path at fault, and the defaults the proto leaves implicit are made
// explicit so that everything downstream reads one normalized spec.
//
// Input paths are not checked here: the master expands them with
// ExpandInputs (master/planner.h) at submit time, which refuses missing or
// unreadable inputs, so that logic lives in one place.
//
// Stateless; callable from any thread. Looks at the file system (output
// directory, plugin paths), so it blocks briefly.
#ifndef AMPMR_MASTER_JOB_VALIDATION_H_
#define AMPMR_MASTER_JOB_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "ampmr/v1/job.pb.h"

namespace ampmr::master {

inline constexpr char kDefaultReducer[] = "builtin:identity";
inline constexpr int32_t kDefaultReduces = 1;
inline constexpr int32_t kMaxReduces = 100000;
inline constexpr int64_t kDefaultSplitSize = int64_t{64} << 20;
inline constexpr int32_t kDefaultMaxAttempts = 4;
// Bounds on what a spec may hold (every one comes from outside).
inline constexpr int kMaxInputs = 10000;
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxTaskSpecBytes = 64 << 10;  // mapper, reducer, combiner
inline constexpr size_t kMaxNameBytes = 1024;
inline constexpr int kMaxEnvVars = 1000;
inline constexpr size_t kMaxEnvNameBytes = 1024;
inline constexpr size_t kMaxEnvBytes = 256 << 10;  // all names and values together

// Fills defaults (reducer "" -> builtin:identity, reduces 0 -> 1,
// split_size 0 -> 64 MiB, max_attempts 0 -> 4) and checks the spec. Errors,
// the first one found; *spec is left unchanged on error:
//   INVALID_ARGUMENT naming the field: no inputs or an empty one; no output;
//     a path (input, output, plugin) that is not absolute, holds a NUL byte
//     or is longer than kMaxPathBytes; more than kMaxInputs inputs; a
//     mapper, reducer or combiner longer than kMaxTaskSpecBytes, a name
//     longer than kMaxNameBytes, more than kMaxEnvVars env variables, an env
//     name longer than kMaxEnvNameBytes or env larger than kMaxEnvBytes;
//     no mapper; a mapper/reducer/combiner that ParseTaskSpec refuses; a
//     combiner in a map-only job (reducer "none"); reduces outside
//     [0, 100000]; split_size, max_attempts or task_timeout_seconds negative
//     (or a timeout that is not finite); an env name that is empty or holds
//     '=', or an env name or value holding a NUL byte; a plugin path that is
//     not a regular file, or not a shared object exporting the plugin entry
//     symbol (see CheckPluginFile); shipped files past their bounds or with
//     a name that is not a plain file name (common/shipped_files.h).
//   ALREADY_EXISTS "output /x: exists and is not empty" (or "... is not a
//     directory") for an output that would clobber something.
//   NOT_FOUND "output /x/y: parent directory /x does not exist", and
//     NOT_FOUND for a plugin path that does not exist.
//   FAILED_PRECONDITION for an output whose parent is not a directory;
//   PERMISSION_DENIED for an output location the master cannot write or a
//     plugin it cannot read.
absl::Status ValidateAndNormalize(v1::JobSpec* spec);

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_JOB_VALIDATION_H_
