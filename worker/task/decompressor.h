// Decompressor reads a whole .gz, .bz2 or .zst file as a stream of its
// decompressed bytes, a block at a time (never the whole file in memory).
// Concatenated streams (gzip members, bzip2 streams, zstd frames) are read
// one after another, as gzip -d, bzip2 -d and zstd -d do.
//
// Errors are DATA_LOSS and name the file and what is wrong with it, e.g.
//   read /in/a.gz: corrupt gzip data (invalid block type)
//   read /in/a.gz: truncated gzip data (the file ends inside a stream)
// I/O errors are errno-derived and name the file too.
//
// Not thread-safe; one map task owns it.
#ifndef AMPMR_WORKER_TASK_DECOMPRESSOR_H_
#define AMPMR_WORKER_TASK_DECOMPRESSOR_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/codec.h"

namespace ampmr::worker {

class Decompressor {
 public:
  // Opens `path`, which is in `codec` (not kNone).
  static absl::StatusOr<std::unique_ptr<Decompressor>> Open(const std::string& path, Codec codec);

  virtual ~Decompressor() = default;

  // Decompresses into buf[0, n) and returns how many bytes it wrote there,
  // at least 1 unless the file has been read to its end (then 0).
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_DECOMPRESSOR_H_
