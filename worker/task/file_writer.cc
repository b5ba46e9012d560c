#include "worker/task/file_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ampmr::worker {

absl::StatusOr<std::unique_ptr<FileWriter>> FileWriter::Create(std::string path, size_t buffer_size,
                                                               Codec codec) {
  std::unique_ptr<Compressor> compressor = Compressor::Create(codec);
  if (codec != Codec::kNone && compressor == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("create ", path, ": cannot write ", CodecName(codec)));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  if (buffer_size == 0) buffer_size = 1;
  return std::unique_ptr<FileWriter>(
      new FileWriter(std::move(path), fd, buffer_size, std::move(compressor)));
}

FileWriter::FileWriter(std::string path, int fd, size_t buffer_size,
                       std::unique_ptr<Compressor> compressor)
    : path_(std::move(path)),
      capacity_(buffer_size),
      buffer_(buffer_size),
      compressor_(std::move(compressor)),
      fd_(fd) {}

absl::Status FileWriter::WriteOut(const char* data, size_t n, bool finish) {
  if (compressor_ == nullptr) return WriteAll(data, n);
  compressed_.clear();
  absl::Status s = compressor_->Compress(absl::string_view(data, n), finish, &compressed_);
  if (!s.ok()) return absl::InternalError(absl::StrCat("write ", path_, ": ", s.message()));
  return WriteAll(compressed_.data(), compressed_.size());
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status FileWriter::AppendSlow(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("write ", path_, ": closed"));
  // Fill the buffer, flush it, then either buffer the rest or, if the rest is
  // at least a whole buffer, write it straight through.
  size_t fill = capacity_ - used_;
  std::memcpy(buffer_.get() + used_, data.data(), fill);
  used_ += fill;
  data.remove_prefix(fill);
  absl::Status s = Flush(/*finish=*/false);
  if (!s.ok()) return s;
  if (data.size() >= capacity_) {
    s = WriteOut(data.data(), data.size(), /*finish=*/false);
    if (s.ok()) flushed_ += data.size();
    return s;
  }
  std::memcpy(buffer_.get(), data.data(), data.size());
  used_ = data.size();
  return absl::OkStatus();
}

absl::Status FileWriter::WriteAll(const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("write ", path_));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status FileWriter::Flush(bool finish) {
  absl::Status s = WriteOut(buffer_.get(), used_, finish);
  if (!s.ok()) return s;
  flushed_ += used_;
  used_ = 0;
  return absl::OkStatus();
}

absl::Status FileWriter::Close() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("close ", path_, ": closed"));
  absl::Status s = Flush(/*finish=*/true);
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && s.ok()) s = absl::ErrnoToStatus(errno, absl::StrCat("close ", path_));
  return s;
}

}  // namespace ampmr::worker
