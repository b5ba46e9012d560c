// Codec: the compression formats ampmr reads and writes, named by file
// suffix as Hadoop does: inputs ending .gz, .bz2 or .zst are decompressed as
// they are read (each is one split), and --compress-output gzip|zstd writes
// part-NNNNN.gz / part-NNNNN.zst. The planner (master) and the task code
// (worker) agree through these functions.
//
// Thread-safe (pure functions).
#ifndef AMPMR_COMMON_CODEC_H_
#define AMPMR_COMMON_CODEC_H_

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace ampmr {

enum class Codec { kNone, kGzip, kBzip2, kZstd };

// The codec an input file's name says it is in.
inline Codec CodecOfPath(absl::string_view path) {
  if (absl::EndsWith(path, ".gz")) return Codec::kGzip;
  if (absl::EndsWith(path, ".bz2")) return Codec::kBzip2;
  if (absl::EndsWith(path, ".zst")) return Codec::kZstd;
  return Codec::kNone;
}

// The codec of a JobSpec's compress_output ("", "gzip", "zstd"); kNone for
// anything else (validated before).
inline Codec CodecOfOutputName(absl::string_view name) {
  if (name == "gzip") return Codec::kGzip;
  if (name == "zstd") return Codec::kZstd;
  return Codec::kNone;
}

// ".gz", ".bz2", ".zst", or "".
inline const char* CodecSuffix(Codec codec) {
  switch (codec) {
    case Codec::kGzip:
      return ".gz";
    case Codec::kBzip2:
      return ".bz2";
    case Codec::kZstd:
      return ".zst";
    case Codec::kNone:
      break;
  }
  return "";
}

inline const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kGzip:
      return "gzip";
    case Codec::kBzip2:
      return "bzip2";
    case Codec::kZstd:
      return "zstd";
    case Codec::kNone:
      break;
  }
  return "none";
}

}  // namespace ampmr

#endif  // AMPMR_COMMON_CODEC_H_
