#include "worker/task/spare_buffer.h"

#include <vector>

namespace ampmr::worker {
namespace {

struct Kept {
  size_t size;
  std::unique_ptr<char[]> data;
};

struct Spares {
  std::vector<Kept> kept;
  size_t bytes = 0;
};

Spares& ThisThread() {
  thread_local Spares spares;
  return spares;
}

}  // namespace

SpareBuffer::SpareBuffer(size_t size) {
  if (size == 0) size = 1;
  if (size >= kMinKeptSize) {
    Spares& spares = ThisThread();
    for (size_t i = 0; i < spares.kept.size(); ++i) {
      Kept& k = spares.kept[i];
      if (k.size >= size && k.size / 2 <= size) {
        data_ = std::move(k.data);
        size_ = k.size;
        spares.bytes -= k.size;
        spares.kept.erase(spares.kept.begin() + static_cast<std::ptrdiff_t>(i));
        return;
      }
    }
  }
  data_.reset(new char[size]);
  size_ = size;
}

void SpareBuffer::Drop() {
  if (data_ == nullptr) return;
  if (size_ >= kMinKeptSize) {
    Spares& spares = ThisThread();
    if (spares.bytes + size_ <= kKeptBytes) {
      spares.bytes += size_;
      spares.kept.push_back({size_, std::move(data_)});
    }
  }
  data_.reset();
  size_ = 0;
}

size_t SpareBuffer::KeptBytesOfThisThread() { return ThisThread().bytes; }

void SpareBuffer::FreeKeptOfThisThread() {
  Spares& spares = ThisThread();
  spares.kept.clear();
  spares.bytes = 0;
}

}  // namespace ampmr::worker
