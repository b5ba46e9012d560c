// MappedRange maps bytes [offset, offset + length) of a file read-only into
// memory (mmap), for merging runs without copying them. It checks the file
// is long enough first, so reading the range can never fault.
//
// Thread-compatible: data() may be read from any thread while it lives.
#ifndef AMPMR_WORKER_TASK_MAPPED_RANGE_H_
#define AMPMR_WORKER_TASK_MAPPED_RANGE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ampmr::worker {

class MappedRange {
 public:
  // Errors name the path: the errno of open/mmap (e.g. NOT_FOUND), or
  // DATA_LOSS if the file is shorter than offset + length.
  static absl::StatusOr<std::unique_ptr<MappedRange>> Open(const std::string& path, uint64_t offset,
                                                           uint64_t length);

  MappedRange(const MappedRange&) = delete;
  MappedRange& operator=(const MappedRange&) = delete;
  ~MappedRange();

  absl::string_view data() const { return data_; }
  const std::string& path() const { return path_; }
  uint64_t offset() const { return offset_; }

 private:
  MappedRange(std::string path, uint64_t offset, void* map, size_t map_size,
              absl::string_view data);

  const std::string path_;
  const uint64_t offset_;
  void* const map_;  // nullptr for an empty range
  const size_t map_size_;
  const absl::string_view data_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_MAPPED_RANGE_H_
