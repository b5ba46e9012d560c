// Byte sizes as people write them on command lines: "1048576", "64K", "64M",
// "1G" (K, M, G are powers of 1024; a trailing "B"/"iB" is accepted).
#ifndef AMPMR_COMMON_SIZE_H_
#define AMPMR_COMMON_SIZE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ampmr {

// INVALID_ARGUMENT naming the text for anything else, zero, or an overflow.
absl::StatusOr<int64_t> ParseSize(absl::string_view text);

// 67108864 -> "64M", 1536 -> "1.5K", 100 -> "100B" (for messages and tables).
std::string FormatSize(int64_t bytes);

}  // namespace ampmr

#endif  // AMPMR_COMMON_SIZE_H_
