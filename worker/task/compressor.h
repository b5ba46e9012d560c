// Compressor turns a stream of bytes into one gzip or zstd stream, block by
// block (--compress-output). FileWriter runs its buffer through one when the
// file it writes is to be compressed.
//
// Not thread-safe; one owner.
#ifndef AMPMR_WORKER_TASK_COMPRESSOR_H_
#define AMPMR_WORKER_TASK_COMPRESSOR_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/codec.h"

namespace ampmr::worker {

class Compressor {
 public:
  // For Codec::kGzip or kZstd; null for any other.
  static std::unique_ptr<Compressor> Create(Codec codec);

  virtual ~Compressor() = default;

  // Compresses `in` and appends what comes out to *out; with `finish`, also
  // ends the stream (then the compressor is done). INTERNAL on a library
  // error (out of memory).
  virtual absl::Status Compress(absl::string_view in, bool finish, std::string* out) = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_COMPRESSOR_H_
