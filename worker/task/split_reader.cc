#include "worker/task/split_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ampmr::worker {

absl::StatusOr<std::unique_ptr<SplitReader>> SplitReader::OpenCompressed(const std::string& path,
                                                                         int64_t start,
                                                                         int64_t length,
                                                                         size_t block_size) {
  if (start < 0 || length < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("split of ", path, ": bad range start=", start, " length=", length));
  }
  const Codec codec = CodecOfPath(path);
  if (codec == Codec::kNone) return std::unique_ptr<SplitReader>();
  if (start != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "split of ", path, ": a ", CodecName(codec), " file is read whole, from offset 0"));
  }
  AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<Decompressor> decompressor,
                         Decompressor::Open(path, codec));
  return std::unique_ptr<SplitReader>(
      new SplitReader(path, nullptr, std::move(decompressor), 0, length, block_size));
}

std::unique_ptr<SplitReader> SplitReader::ForFile(const std::string& path,
                                                  std::shared_ptr<const InputFile> file,
                                                  int64_t start, int64_t length,
                                                  size_t block_size) {
  // A split that fits one block is one pread into a buffer of its size (a
  // one-line split of a many-task job costs no 4 MiB allocation and no
  // read-ahead advice); a longer one is read block by block, sequentially.
  if (static_cast<uint64_t>(length) > block_size) {
    ::posix_fadvise(file->fd(), start, length, POSIX_FADV_SEQUENTIAL);
  } else {
    block_size = static_cast<size_t>(length);
  }
  return std::unique_ptr<SplitReader>(
      new SplitReader(path, std::move(file), nullptr, start, length, block_size));
}

absl::StatusOr<std::unique_ptr<SplitReader>> SplitReader::Open(const std::string& path,
                                                               int64_t start, int64_t length,
                                                               size_t block_size) {
  AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<SplitReader> compressed,
                         OpenCompressed(path, start, length, block_size));
  if (compressed != nullptr) return compressed;
  AMPMR_ASSIGN_OR_RETURN(std::shared_ptr<const InputFile> file, InputFile::Open(path));
  return ForFile(path, std::move(file), start, length, block_size);
}

absl::StatusOr<std::unique_ptr<SplitReader>> SplitReader::Open(InputFileCache* files,
                                                               const std::string& job_id,
                                                               const std::string& path,
                                                               int64_t start, int64_t length,
                                                               size_t block_size) {
  AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<SplitReader> compressed,
                         OpenCompressed(path, start, length, block_size));
  if (compressed != nullptr) return compressed;
  AMPMR_ASSIGN_OR_RETURN(std::shared_ptr<const InputFile> file, files->Open(job_id, path));
  return ForFile(path, std::move(file), start, length, block_size);
}

SplitReader::SplitReader(std::string path, std::shared_ptr<const InputFile> file,
                         std::unique_ptr<Decompressor> decompressor, int64_t start, int64_t length,
                         size_t block_size)
    : path_(std::move(path)),
      file_(std::move(file)),
      decompressor_(std::move(decompressor)),
      end_(start + length),
      buffer_(block_size == 0 ? 1 : block_size),
      capacity_(block_size == 0 ? 1 : block_size),
      buffer_offset_(start) {}

SplitReader::~SplitReader() = default;

bool SplitReader::AtEnd(size_t upto) const {
  if (decompressor_ != nullptr) return eof_;
  return buffer_offset_ + static_cast<int64_t>(upto) == end_;
}

absl::Status SplitReader::Fill(size_t kept) {
  if (kept == capacity_) {  // one line fills the buffer: grow it
    SpareBuffer bigger(2 * capacity_);
    std::memcpy(bigger.get(), buffer_.get(), kept);
    buffer_ = std::move(bigger);
    capacity_ *= 2;
  }
  if (decompressor_ != nullptr) {  // fill the buffer, or read to the end
    size_t got = 0;
    while (kept + got < capacity_) {
      AMPMR_ASSIGN_OR_RETURN(
          size_t n, decompressor_->Read(buffer_.get() + kept + got, capacity_ - kept - got));
      if (n == 0) {
        eof_ = true;
        break;
      }
      got += n;
    }
    filled_ = kept + got;
    return absl::OkStatus();
  }
  const int64_t read_at = buffer_offset_ + static_cast<int64_t>(kept);
  size_t want = capacity_ - kept;
  if (static_cast<int64_t>(want) > end_ - read_at) want = static_cast<size_t>(end_ - read_at);
  size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(file_->fd(), buffer_.get() + kept + got, want - got,
                        static_cast<off_t>(read_at + static_cast<int64_t>(got)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("read ", path_));
    }
    if (n == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("read ", path_, ": file ends at ", read_at + static_cast<int64_t>(got),
                       ", before the end of its split at ", end_, " (did it change?)"));
    }
    got += static_cast<size_t>(n);
  }
  filled_ = kept + got;
  return absl::OkStatus();
}

absl::Status SplitReader::Next(absl::string_view* chunk, int64_t* offset) {
  // Move the unreturned tail (a partial line) to the front, read more behind
  // it, and return up to the last newline; at the split's end, the rest.
  while (true) {
    const size_t kept = filled_ - consumed_;
    if (consumed_ > 0) {
      std::memmove(buffer_.get(), buffer_.get() + consumed_, kept);
      buffer_offset_ += static_cast<int64_t>(consumed_);
      consumed_ = 0;
      filled_ = kept;
    }
    if (!AtEnd(kept)) {
      absl::Status s = Fill(kept);
      if (!s.ok()) return s;
    }
    size_t take = filled_;
    if (!AtEnd(filled_)) {
      // The kept tail holds no newline, so only the new bytes can.
      const void* nl = ::memrchr(buffer_.get() + kept, '\n', filled_ - kept);
      if (nl == nullptr) continue;  // a line longer than the buffer: grow, read more
      take = static_cast<const char*>(nl) - buffer_.get() + 1;
    }
    *chunk = absl::string_view(buffer_.get(), take);
    *offset = buffer_offset_;
    consumed_ = take;
    return absl::OkStatus();
  }
}

}  // namespace ampmr::worker
