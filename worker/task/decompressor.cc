#include "worker/task/decompressor.h"

#include <bzlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ampmr::worker {
namespace {

constexpr size_t kInputBlock = size_t{1} << 20;

// The compressed file, read a block at a time; the codecs below take their
// input from `next`/`avail`.
class CompressedFile {
 public:
  CompressedFile(std::string path, int fd)
      : path_(std::move(path)), fd_(fd), block_(new char[kInputBlock]) {}
  ~CompressedFile() { ::close(fd_); }

  // Reads more when everything read has been consumed; false at end of file.
  absl::StatusOr<bool> Refill() {
    if (avail > 0) return true;
    while (true) {
      ssize_t n = ::read(fd_, block_.get(), kInputBlock);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::ErrnoToStatus(errno, absl::StrCat("read ", path_));
      }
      next = block_.get();
      avail = static_cast<size_t>(n);
      return n > 0;
    }
  }
  absl::Status Corrupt(Codec codec, absl::string_view why) const {
    return absl::DataLossError(
        absl::StrCat("read ", path_, ": corrupt ", CodecName(codec), " data (", why, ")"));
  }
  absl::Status Truncated(Codec codec) const {
    return absl::DataLossError(absl::StrCat("read ", path_, ": truncated ", CodecName(codec),
                                            " data (the file ends inside a stream)"));
  }

  const char* next = nullptr;
  size_t avail = 0;

 private:
  const std::string path_;
  const int fd_;
  std::unique_ptr<char[]> block_;
};

// The loop all three codecs share: feed input until some output comes,
// the file ends (cleanly between streams, or truncated inside one) or the
// data is found corrupt. `Step` decompresses from the file's pending input
// into out[0, n), returning how much it produced and whether a stream ended.
template <typename Codecs>
class StreamDecompressor final : public Decompressor {
 public:
  explicit StreamDecompressor(std::unique_ptr<CompressedFile> file) : file_(std::move(file)) {}

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    size_t produced = 0;
    while (produced == 0 && !done_) {
      absl::StatusOr<bool> more = file_->Refill();
      if (!more.ok()) return more.status();
      if (!*more) {
        if (in_stream_) return file_->Truncated(Codecs::kCodec);
        done_ = true;
        break;
      }
      in_stream_ = true;
      bool stream_end = false;
      absl::Status s = codec_.Step(file_.get(), buf + produced, n - produced, &produced, &stream_end);
      if (!s.ok()) return s;
      if (stream_end) in_stream_ = false;
    }
    return produced;
  }

 private:
  std::unique_ptr<CompressedFile> file_;
  Codecs codec_;
  bool in_stream_ = false;  // inside a stream: the file may not end here
  bool done_ = false;
};

struct Gzip {
  static constexpr Codec kCodec = Codec::kGzip;
  Gzip() { inflateInit2(&z, 15 + 32); }  // 15 + 32: a zlib or gzip header, detected
  ~Gzip() { inflateEnd(&z); }
  absl::Status Step(CompressedFile* file, char* out, size_t n, size_t* produced, bool* end) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(file->next));
    z.avail_in = static_cast<uInt>(std::min<size_t>(file->avail, UINT32_MAX));
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = static_cast<uInt>(std::min<size_t>(n, UINT32_MAX));
    const uInt in_before = z.avail_in;
    const uInt out_before = z.avail_out;
    int r = inflate(&z, Z_NO_FLUSH);
    file->next += in_before - z.avail_in;
    file->avail -= in_before - z.avail_in;
    *produced += out_before - z.avail_out;
    if (r == Z_STREAM_END) {
      *end = true;
      inflateReset(&z);  // another member may follow
      return absl::OkStatus();
    }
    if (r == Z_OK || r == Z_BUF_ERROR) return absl::OkStatus();
    return file->Corrupt(kCodec, z.msg != nullptr ? z.msg : zError(r));
  }
  z_stream z{};
};

struct Bzip2 {
  static constexpr Codec kCodec = Codec::kBzip2;
  Bzip2() { BZ2_bzDecompressInit(&bz, 0, 0); }
  ~Bzip2() { BZ2_bzDecompressEnd(&bz); }
  absl::Status Step(CompressedFile* file, char* out, size_t n, size_t* produced, bool* end) {
    bz.next_in = const_cast<char*>(file->next);
    bz.avail_in = static_cast<unsigned>(std::min<size_t>(file->avail, UINT32_MAX));
    bz.next_out = out;
    bz.avail_out = static_cast<unsigned>(std::min<size_t>(n, UINT32_MAX));
    const unsigned in_before = bz.avail_in;
    const unsigned out_before = bz.avail_out;
    int r = BZ2_bzDecompress(&bz);
    file->next += in_before - bz.avail_in;
    file->avail -= in_before - bz.avail_in;
    *produced += out_before - bz.avail_out;
    if (r == BZ_STREAM_END) {
      *end = true;
      BZ2_bzDecompressEnd(&bz);  // another stream may follow
      bz = bz_stream{};
      BZ2_bzDecompressInit(&bz, 0, 0);
      return absl::OkStatus();
    }
    if (r == BZ_OK) return absl::OkStatus();
    return file->Corrupt(kCodec, r == BZ_DATA_ERROR_MAGIC ? "not bzip2 data"
                                                         : absl::StrCat("libbz2 error ", r));
  }
  bz_stream bz{};
};

struct Zstd {
  static constexpr Codec kCodec = Codec::kZstd;
  Zstd() : z(ZSTD_createDStream()) { ZSTD_initDStream(z); }
  ~Zstd() { ZSTD_freeDStream(z); }
  absl::Status Step(CompressedFile* file, char* out, size_t n, size_t* produced, bool* end) {
    ZSTD_inBuffer in = {file->next, file->avail, 0};
    ZSTD_outBuffer o = {out, n, 0};
    size_t r = ZSTD_decompressStream(z, &o, &in);
    file->next += in.pos;
    file->avail -= in.pos;
    *produced += o.pos;
    if (ZSTD_isError(r)) return file->Corrupt(kCodec, ZSTD_getErrorName(r));
    *end = r == 0;  // a frame just ended
    return absl::OkStatus();
  }
  ZSTD_DStream* const z;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Decompressor>> Decompressor::Open(const std::string& path,
                                                                 Codec codec) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto file = std::make_unique<CompressedFile>(path, fd);
  switch (codec) {
    case Codec::kGzip:
      return std::make_unique<StreamDecompressor<Gzip>>(std::move(file));
    case Codec::kBzip2:
      return std::make_unique<StreamDecompressor<Bzip2>>(std::move(file));
    case Codec::kZstd:
      return std::make_unique<StreamDecompressor<Zstd>>(std::move(file));
    case Codec::kNone:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat("open ", path, ": not a compressed file"));
}

}  // namespace ampmr::worker
