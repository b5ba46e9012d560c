// SpareBuffer: a large byte buffer that its thread keeps when it is dropped
// and hands to the next one asked for there, so that a slot's tasks reuse
// their buffers (split reads, the sort buffer's arena, file buffers) instead
// of faulting fresh pages in for each task: a new 4 MiB buffer costs 1,024
// page faults when it is first written, a kept one none.
//
// A thread keeps at most kKeptBytes of dropped buffers of at least
// kMinKeptSize bytes each (smaller ones come from malloc's caches anyway);
// a buffer asked for gets a kept one at least as large and at most twice
// as large, else a new one. The bytes of a buffer are not cleared.
//
// A SpareBuffer is used by one thread at a time; it may be dropped on
// another than the one that made it (that one keeps it then).
#ifndef AMPMR_WORKER_TASK_SPARE_BUFFER_H_
#define AMPMR_WORKER_TASK_SPARE_BUFFER_H_

#include <cstddef>
#include <memory>
#include <utility>

namespace ampmr::worker {

class SpareBuffer {
 public:
  static constexpr size_t kMinKeptSize = size_t{256} << 10;
  static constexpr size_t kKeptBytes = size_t{32} << 20;

  SpareBuffer() = default;
  // At least `size` bytes.
  explicit SpareBuffer(size_t size);
  SpareBuffer(SpareBuffer&& other) noexcept
      : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
  SpareBuffer& operator=(SpareBuffer&& other) noexcept {
    if (this != &other) {
      Drop();
      data_ = std::move(other.data_);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~SpareBuffer() { Drop(); }

  char* get() const { return data_.get(); }
  // Bytes usable: at least the size asked for.
  size_t size() const { return size_; }

  // Bytes of buffers the calling thread keeps now.
  static size_t KeptBytesOfThisThread();
  // Frees the buffers the calling thread keeps.
  static void FreeKeptOfThisThread();

 private:
  void Drop();

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_SPARE_BUFFER_H_
