#include "worker/task/compressor.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace ampmr::worker {
namespace {

constexpr size_t kOutputStep = size_t{256} << 10;

class GzipCompressor final : public Compressor {
 public:
  GzipCompressor() {
    // 15 + 16: a gzip header and trailer, as gzip(1) writes.
    deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  }
  ~GzipCompressor() override { deflateEnd(&z_); }

  absl::Status Compress(absl::string_view in, bool finish, std::string* out) override {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    while (true) {
      const size_t at = out->size();
      out->resize(at + kOutputStep);
      z_.next_out = reinterpret_cast<Bytef*>(out->data() + at);
      z_.avail_out = static_cast<uInt>(kOutputStep);
      int r = deflate(&z_, finish ? Z_FINISH : Z_NO_FLUSH);
      out->resize(at + kOutputStep - z_.avail_out);
      if (r == Z_STREAM_END) return absl::OkStatus();
      if (r != Z_OK && r != Z_BUF_ERROR) {
        return absl::InternalError(absl::StrCat("gzip: deflate error ", r));
      }
      if (!finish && z_.avail_in == 0 && z_.avail_out != 0) return absl::OkStatus();
    }
  }

 private:
  z_stream z_{};
};

class ZstdCompressor final : public Compressor {
 public:
  ZstdCompressor() : z_(ZSTD_createCCtx()) {}
  ~ZstdCompressor() override { ZSTD_freeCCtx(z_); }

  absl::Status Compress(absl::string_view in, bool finish, std::string* out) override {
    ZSTD_inBuffer input = {in.data(), in.size(), 0};
    while (true) {
      const size_t at = out->size();
      out->resize(at + kOutputStep);
      ZSTD_outBuffer output = {out->data() + at, kOutputStep, 0};
      size_t left = ZSTD_compressStream2(z_, &output, &input, finish ? ZSTD_e_end : ZSTD_e_continue);
      out->resize(at + output.pos);
      if (ZSTD_isError(left)) {
        return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(left)));
      }
      if (finish ? left == 0 : input.pos == input.size) return absl::OkStatus();
    }
  }

 private:
  ZSTD_CCtx* const z_;
};

}  // namespace

std::unique_ptr<Compressor> Compressor::Create(Codec codec) {
  if (codec == Codec::kGzip) return std::make_unique<GzipCompressor>();
  if (codec == Codec::kZstd) return std::make_unique<ZstdCompressor>();
  return nullptr;
}

}  // namespace ampmr::worker
