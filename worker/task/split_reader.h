// SplitReader reads one input split, bytes [start, start + length) of a
// file, with pread in large blocks (one read into a buffer of its size, for a
// split shorter than a block) and hands it out as chunks of whole lines.
// The planner aligned the split to line starts, so the split ends after a
// newline or at end of file; a line longer than a block grows the buffer.
//
// A file named *.gz, *.bz2 or *.zst (common/codec.h) is one split, read
// whole through a Decompressor: the chunks are its decompressed lines, their
// offsets count decompressed bytes, and a corrupt or truncated file fails
// with DATA_LOSS naming it.
//
// Not thread-safe; one map task owns it.
#ifndef AMPMR_WORKER_TASK_SPLIT_READER_H_
#define AMPMR_WORKER_TASK_SPLIT_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/task/decompressor.h"
#include "worker/task/input_file_cache.h"
#include "worker/task/spare_buffer.h"

namespace ampmr::worker {

class SplitReader {
 public:
  static constexpr size_t kDefaultBlockSize = size_t{4} << 20;

  // Opens `path`. Errors name it: "open /x/y: No such file or directory".
  static absl::StatusOr<std::unique_ptr<SplitReader>> Open(const std::string& path, int64_t start,
                                                           int64_t length,
                                                           size_t block_size = kDefaultBlockSize);
  // Reads `path`'s split from `files` (its open file kept for job `job_id`);
  // a compressed file is opened here as above.
  static absl::StatusOr<std::unique_ptr<SplitReader>> Open(InputFileCache* files,
                                                           const std::string& job_id,
                                                           const std::string& path, int64_t start,
                                                           int64_t length,
                                                           size_t block_size = kDefaultBlockSize);

  SplitReader(const SplitReader&) = delete;
  SplitReader& operator=(const SplitReader&) = delete;
  ~SplitReader();

  // Sets *chunk to the next whole lines of the split (valid until the next
  // call) and *offset to its file offset; an empty chunk means the split is
  // done. FAILED_PRECONDITION if the file ends before the split does (it
  // changed since planning).
  absl::Status Next(absl::string_view* chunk, int64_t* offset);

 private:
  // Checks the range; opens a compressed file. OK with null: a plain file.
  static absl::StatusOr<std::unique_ptr<SplitReader>> OpenCompressed(const std::string& path,
                                                                     int64_t start, int64_t length,
                                                                     size_t block_size);
  // A plain file's split.
  static std::unique_ptr<SplitReader> ForFile(const std::string& path,
                                              std::shared_ptr<const InputFile> file,
                                              int64_t start, int64_t length, size_t block_size);
  SplitReader(std::string path, std::shared_ptr<const InputFile> file,
              std::unique_ptr<Decompressor> decompressor, int64_t start, int64_t length,
              size_t block_size);
  // Reads more of the split after the `kept` bytes at the buffer's start.
  absl::Status Fill(size_t kept);
  // Whether the split's data ends `upto` bytes into the buffer.
  bool AtEnd(size_t upto) const;

  // Constant after construction.
  const std::string path_;
  const std::shared_ptr<const InputFile> file_;       // plain files; else null
  const std::unique_ptr<Decompressor> decompressor_;  // compressed files; else null
  const int64_t end_;                                 // file offset where a plain split ends

  bool eof_ = false;  // the decompressor has given everything

  SpareBuffer buffer_;  // a slot's next task reads into it again
  size_t capacity_;
  size_t filled_ = 0;      // bytes of buffer_ holding split data
  size_t consumed_ = 0;    // bytes of those already returned
  int64_t buffer_offset_;  // file offset of buffer_[0]
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_SPLIT_READER_H_
