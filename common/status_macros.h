// Status helpers that Debian's Abseil (20220623) lacks. Header-only.
#ifndef AMPMR_COMMON_STATUS_MACROS_H_
#define AMPMR_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define AMPMR_CONCAT_INNER_(a, b) a##b
#define AMPMR_CONCAT_(a, b) AMPMR_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK status.
#define AMPMR_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status ampmr_status_ = (expr);         \
    if (!ampmr_status_.ok()) return ampmr_status_; \
  } while (0)

// `lhs` = the value of the StatusOr `rexpr`, or returns its status.
#define AMPMR_ASSIGN_OR_RETURN(lhs, rexpr) \
  AMPMR_ASSIGN_OR_RETURN_IMPL_(AMPMR_CONCAT_(ampmr_statusor_, __LINE__), lhs, rexpr)

#define AMPMR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace ampmr {

// Returns `status` with `prefix: ` prepended to its message, same code.
inline absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, ": ", status.message()));
}

}  // namespace ampmr

#endif  // AMPMR_COMMON_STATUS_MACROS_H_
