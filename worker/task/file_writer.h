// FileWriter appends bytes to a new file through a large buffer, so a stream
// of small appends (records, output lines) costs few write(2) calls. Given a
// codec (--compress-output), it writes the bytes as one gzip or zstd stream.
//
// Not thread-safe: one owner appends and closes. Errors name the path, e.g.
//   write /w/j1-m3-a1.out: No space left on device
#ifndef AMPMR_WORKER_TASK_FILE_WRITER_H_
#define AMPMR_WORKER_TASK_FILE_WRITER_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/codec.h"
#include "worker/task/compressor.h"
#include "worker/task/spare_buffer.h"

namespace ampmr::worker {

class FileWriter {
 public:
  static constexpr size_t kDefaultBufferSize = size_t{1} << 20;

  // Creates (or truncates) `path`. Its parent directory must exist.
  static absl::StatusOr<std::unique_ptr<FileWriter>> Create(std::string path,
                                                            size_t buffer_size = kDefaultBufferSize,
                                                            Codec codec = Codec::kNone);

  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  // Closes the file if Close() was not called; unflushed bytes are dropped and
  // the file is left in place (the owner decides whether to remove it).
  ~FileWriter();

  absl::Status Append(absl::string_view data) {
    if (data.size() <= capacity_ - used_) {
      if (data.empty()) return absl::OkStatus();  // data() may be null
      std::memcpy(buffer_.get() + used_, data.data(), data.size());
      used_ += data.size();
      return absl::OkStatus();
    }
    return AppendSlow(data);
  }

  // Where the next n bytes would go in the buffer, for a caller that formats
  // them in place and then calls Commit(n); null when the buffer lacks the
  // room (then Append).
  char* Room(size_t n) { return capacity_ - used_ >= n ? buffer_.get() + used_ : nullptr; }
  // Adds the n bytes written at Room(n). REQUIRES: Room(n) was not null.
  void Commit(size_t n) { used_ += n; }

  // Flushes the buffer and closes the file. REQUIRES: not closed yet.
  absl::Status Close();

  // Bytes appended so far, flushed or not (before compression).
  uint64_t size() const { return flushed_ + used_; }
  const std::string& path() const { return path_; }

 private:
  FileWriter(std::string path, int fd, size_t buffer_size, std::unique_ptr<Compressor> compressor);
  // Writes buffer_[0, used_) out, compressed if so; `finish` ends the stream.
  absl::Status WriteOut(const char* data, size_t n, bool finish);
  absl::Status AppendSlow(absl::string_view data);
  absl::Status WriteAll(const char* data, size_t n);
  absl::Status Flush(bool finish);

  // Constant after construction.
  const std::string path_;
  const size_t capacity_;
  SpareBuffer buffer_;                            // a slot's next task writes through it again
  const std::unique_ptr<Compressor> compressor_;  // null: plain
  std::string compressed_;                        // compressor_'s output, reused

  int fd_;
  size_t used_ = 0;       // bytes in buffer_
  uint64_t flushed_ = 0;  // bytes written to fd_
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_FILE_WRITER_H_
