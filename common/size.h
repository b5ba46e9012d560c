// Byte sizes as people write them on command lines: "1048576", "64K", "64M",
// "1G", "1.5G" (K, M, G, T are powers of 1024, in either case; "64KB",
// "64KiB" and "100B" are accepted too; a fraction of a byte is dropped).
#ifndef AMPMR_COMMON_SIZE_H_
#define AMPMR_COMMON_SIZE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ampmr {

// INVALID_ARGUMENT naming the text for anything else (an unknown unit, a
// sign, an exponent), for less than one byte, and on overflow.
absl::StatusOr<int64_t> ParseSize(absl::string_view text);

// 67108864 -> "64M", 1536 -> "1.5K", 100 -> "100B" (for messages and tables).
std::string FormatSize(int64_t bytes);

}  // namespace ampmr

#endif  // AMPMR_COMMON_SIZE_H_
