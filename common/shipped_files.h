// Files shipped with a job (--file PATH[#NAME], README "How it works"): the bounds and
// name rules the client, the master and the workers all apply, so a file
// accepted by one is accepted by all, and a name can never reach outside the
// attempt directory it is written into.
//
// Stateless; callable from any thread.
#ifndef AMPMR_COMMON_SHIPPED_FILES_H_
#define AMPMR_COMMON_SHIPPED_FILES_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ampmr/v1/job.pb.h"

namespace ampmr {

inline constexpr int kMaxShippedFiles = 100;
inline constexpr int64_t kMaxShippedBytes = int64_t{64} << 20;  // all of a job's files

// INVALID_ARGUMENT unless `name` is a plain file name: not empty, at most 255
// bytes, no '/' or NUL, not "." or "..".
absl::Status CheckShippedFileName(absl::string_view name);

// Checks a job's files (names, no name twice, at most kMaxShippedFiles and
// kMaxShippedBytes in all, mode within 0777) and sets each one's size.
// INVALID_ARGUMENT naming the file and the bound.
absl::Status CheckShippedFiles(v1::JobSpec* spec);

}  // namespace ampmr

#endif  // AMPMR_COMMON_SHIPPED_FILES_H_
