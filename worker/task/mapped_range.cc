#include "worker/task/mapped_range.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace ampmr::worker {

absl::StatusOr<std::unique_ptr<MappedRange>> MappedRange::Open(const std::string& path,
                                                               uint64_t offset, uint64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  struct stat st;
  if (::fstat(fd, &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || length > size - offset) {
    return absl::DataLossError(absl::StrCat(path, " is ", size, " bytes; want bytes [", offset,
                                            ", ", offset + length, ")"));
  }
  if (length == 0) {
    return std::unique_ptr<MappedRange>(
        new MappedRange(path, offset, nullptr, 0, absl::string_view()));
  }
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t map_offset = offset - offset % page;
  const size_t map_size = static_cast<size_t>(offset + length - map_offset);
  void* map = ::mmap(nullptr, map_size, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(map_offset));
  if (map == MAP_FAILED) return absl::ErrnoToStatus(errno, absl::StrCat("mmap ", path));
  ::madvise(map, map_size, MADV_SEQUENTIAL);
  absl::string_view data(static_cast<const char*>(map) + (offset - map_offset), length);
  return std::unique_ptr<MappedRange>(new MappedRange(path, offset, map, map_size, data));
}

MappedRange::MappedRange(std::string path, uint64_t offset, void* map, size_t map_size,
                         absl::string_view data)
    : path_(std::move(path)), offset_(offset), map_(map), map_size_(map_size), data_(data) {}

MappedRange::~MappedRange() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

}  // namespace ampmr::worker
