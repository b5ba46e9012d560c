#include "master/planner.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/codec.h"
#include "common/status_macros.h"

namespace ampmr::master {
namespace {

// Boundary lookups read at most this much per pread.
constexpr int64_t kWindow = 64 * 1024;

// "input PATH: no such file or directory", with the code errno implies.
absl::Status InputError(absl::string_view path, int err) {
  char buf[256];
  std::string why = strerror_r(err, buf, sizeof(buf));  // GNU: returns the message
  if (!why.empty()) why[0] = absl::ascii_tolower(why[0]);
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat("input ", path, ": ", why));
}

// Hadoop's hiddenFileFilter: such names are metadata (_SUCCESS, .crc), not data.
bool IsHidden(absl::string_view name) {
  return !name.empty() && (name[0] == '.' || name[0] == '_');
}

absl::string_view BaseName(absl::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (dir == "/") return absl::StrCat("/", name);
  return absl::StrCat(dir, "/", name);
}

bool IsGlob(absl::string_view input) {
  return input.find_first_of("*?[{") != absl::string_view::npos;
}

// glob(3)'s error callback takes no context; the calling thread's last
// failure is kept here until Expander::AddGlob reads it.
thread_local std::string glob_error_path;
thread_local int glob_error_errno = 0;

int OnGlobError(const char* path, int err) {
  // A missing directory on the way just means "no match" for that branch.
  if (err == ENOENT) return 0;
  glob_error_path = path;
  glob_error_errno = err;
  return 1;
}

// Accumulates the files of several inputs.
class Expander {
 public:
  absl::Status AddInput(const std::string& input);
  std::vector<std::string> Finish() &&;

 private:
  // `path` was named by the user or matched a glob: a file is taken, a
  // directory listed. Other kinds are refused only when `named`.
  absl::Status AddExisting(const std::string& path, const struct stat& st, bool named);
  absl::Status AddGlob(const std::string& pattern);
  absl::Status AddFile(const std::string& path);
  absl::Status AddTree(const std::string& root, const struct stat& st);
  // Adds the visible files in `dir` and appends its visible subdirectories
  // not listed before to `dirs`.
  absl::Status ListDir(const std::string& dir, std::vector<std::string>* dirs);

  std::vector<std::string> files_;
  std::set<std::pair<dev_t, ino_t>> dirs_seen_;  // symlink cycles end here
};

absl::Status Expander::AddInput(const std::string& input) {
  if (input.empty()) return absl::InvalidArgumentError("input \"\": empty path");
  struct stat st;
  if (stat(input.c_str(), &st) == 0) return AddExisting(input, st, /*named=*/true);
  int err = errno;
  if (err == ENOENT && IsGlob(input)) return AddGlob(input);
  return InputError(input, err);
}

absl::Status Expander::AddExisting(const std::string& path, const struct stat& st, bool named) {
  if (S_ISREG(st.st_mode)) return AddFile(path);
  if (S_ISDIR(st.st_mode)) return AddTree(path, st);
  if (!named) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("input ", path, ": not a regular file or directory"));
}

absl::Status Expander::AddFile(const std::string& path) {
  if (access(path.c_str(), R_OK) != 0) return InputError(path, errno);
  files_.push_back(path);
  return absl::OkStatus();
}

absl::Status Expander::AddGlob(const std::string& pattern) {
  glob_t g = {};
  glob_error_errno = 0;
  int rc = glob(pattern.c_str(), GLOB_BRACE, &OnGlobError, &g);
  std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
  globfree(&g);
  if (rc == GLOB_ABORTED && glob_error_errno != 0) {
    return Annotate(InputError(glob_error_path, glob_error_errno), absl::StrCat("input ", pattern));
  }
  if (rc == GLOB_NOSPACE) {
    return absl::ResourceExhaustedError(absl::StrCat("input ", pattern, ": out of memory"));
  }
  matches.erase(std::remove_if(matches.begin(), matches.end(),
                               [](const std::string& m) { return IsHidden(BaseName(m)); }),
                matches.end());
  if (rc != 0 || matches.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("input ", pattern, ": matches no files"));
  }
  for (const std::string& match : matches) {
    struct stat st;
    if (stat(match.c_str(), &st) != 0) return InputError(match, errno);
    AMPMR_RETURN_IF_ERROR(AddExisting(match, st, /*named=*/false));
  }
  return absl::OkStatus();
}

// Iterative, so a deep tree cannot exhaust the stack.
absl::Status Expander::AddTree(const std::string& root, const struct stat& st) {
  if (!dirs_seen_.insert({st.st_dev, st.st_ino}).second) return absl::OkStatus();
  std::vector<std::string> pending = {root};
  while (!pending.empty()) {
    std::string dir = std::move(pending.back());
    pending.pop_back();
    AMPMR_RETURN_IF_ERROR(ListDir(dir, &pending));
  }
  return absl::OkStatus();
}

absl::Status Expander::ListDir(const std::string& dir, std::vector<std::string>* dirs) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return InputError(dir, errno);
  std::vector<std::string> children;
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    if (!IsHidden(e->d_name)) children.push_back(JoinPath(dir, e->d_name));
    errno = 0;
  }
  int err = errno;
  closedir(d);
  if (err != 0) return InputError(dir, err);
  for (std::string& child : children) {
    struct stat st;
    if (stat(child.c_str(), &st) != 0) return InputError(child, errno);
    if (S_ISREG(st.st_mode)) {
      AMPMR_RETURN_IF_ERROR(AddFile(child));
    } else if (S_ISDIR(st.st_mode) && dirs_seen_.insert({st.st_dev, st.st_ino}).second) {
      dirs->push_back(std::move(child));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> Expander::Finish() && {
  std::sort(files_.begin(), files_.end());
  files_.erase(std::unique(files_.begin(), files_.end()), files_.end());
  return std::move(files_);
}

// One open input file read through a single cached buffer, so that lookups
// near each other (many small splits) cost one pread between them.
class FileWindow {
 public:
  FileWindow(int fd, const std::string& path, int64_t size, PlanStats* stats)
      : fd_(fd), path_(path), size_(size), stats_(stats) {}

  // Bytes [offset, offset + length) of the file, valid until the next call.
  // A miss reads at least kWindow bytes starting at `offset`.
  // REQUIRES: 0 <= offset, offset + length <= size.
  absl::StatusOr<absl::string_view> Get(int64_t offset, int64_t length);

  // The offset just past the last newline in [lo, hi), or -1 if none.
  absl::StatusOr<int64_t> LastLineEnd(int64_t lo, int64_t hi);
  // The offset just past the first newline at or after `pos`, or the size.
  absl::StatusOr<int64_t> NextLineEnd(int64_t pos);

 private:
  const int fd_;
  const std::string& path_;
  const int64_t size_;
  PlanStats* const stats_;
  std::string buf_;
  int64_t buf_offset_ = 0;
};

absl::StatusOr<absl::string_view> FileWindow::Get(int64_t offset, int64_t length) {
  if (offset >= buf_offset_ && offset + length <= buf_offset_ + static_cast<int64_t>(buf_.size())) {
    return absl::string_view(buf_).substr(offset - buf_offset_, length);
  }
  buf_.resize(std::min(std::max(length, kWindow), size_ - offset));
  buf_offset_ = offset;
  size_t got = 0;
  while (got < buf_.size()) {
    ssize_t n = pread(fd_, &buf_[got], buf_.size() - got, offset + got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return InputError(path_, errno);
    stats_->reads++;
    stats_->bytes_read += n;
    if (n == 0) {
      buf_.clear();
      return absl::FailedPreconditionError(
          absl::StrCat("input ", path_, ": file shrank below ", size_, " bytes while planning"));
    }
    got += n;
  }
  return absl::string_view(buf_).substr(0, length);
}

absl::StatusOr<int64_t> FileWindow::LastLineEnd(int64_t lo, int64_t hi) {
  while (hi > lo) {
    int64_t from = std::max(lo, hi - kWindow);
    AMPMR_ASSIGN_OR_RETURN(absl::string_view bytes, Get(from, hi - from));
    const void* nl = memrchr(bytes.data(), '\n', bytes.size());
    if (nl != nullptr) return from + (static_cast<const char*>(nl) - bytes.data()) + 1;
    hi = from;
  }
  return -1;
}

absl::StatusOr<int64_t> FileWindow::NextLineEnd(int64_t pos) {
  while (pos < size_) {
    // What the buffer holds from `pos` on is searched first; a miss reads a
    // new window from `pos`.
    int64_t buffered = buf_offset_ + static_cast<int64_t>(buf_.size()) - pos;
    int64_t length = pos >= buf_offset_ && buffered > 0 ? buffered : std::min(kWindow, size_ - pos);
    AMPMR_ASSIGN_OR_RETURN(absl::string_view bytes, Get(pos, length));
    const void* nl = memchr(bytes.data(), '\n', bytes.size());
    if (nl != nullptr) return pos + (static_cast<const char*>(nl) - bytes.data()) + 1;
    pos += length;
  }
  return size_;
}

absl::Status TooManySplits(size_t max_splits) {
  return absl::ResourceExhaustedError(absl::StrCat("more than ", max_splits, " splits"));
}

// Appends the splits of one file. Each byte is examined at most once: a
// backward search for split k stops where split k-1's search began, because
// the bytes between its newline and its limit are known to hold none.
absl::Status CutFile(FileWindow* window, const std::string& path, int64_t size, int64_t split_size,
                     size_t max_splits, SplitPlan* splits) {
  int64_t start = 0;
  int64_t clean_end = 0;  // [start, clean_end) is known to hold no newline
  while (start < size) {
    if (splits->size() >= max_splits) return TooManySplits(max_splits);
    int64_t end = size;
    if (size - start > split_size) {
      int64_t limit = start + split_size;
      AMPMR_ASSIGN_OR_RETURN(end, window->LastLineEnd(std::max(start, clean_end), limit));
      if (end > 0) {
        clean_end = limit;
      } else {  // one line longer than split_size: the split is that line
        AMPMR_ASSIGN_OR_RETURN(end, window->NextLineEnd(limit));
        clean_end = end;
      }
    }
    splits->Add(path, start, end - start);
    start = end;
  }
  return absl::OkStatus();
}

absl::Status PlanFile(const std::string& path, int64_t split_size, size_t max_splits,
                      PlanStats* stats, SplitPlan* splits) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return InputError(path, errno);
  struct stat st;
  absl::Status status;
  if (fstat(fd, &st) != 0) {
    status = InputError(path, errno);
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::InvalidArgumentError(absl::StrCat("input ", path, ": not a regular file"));
  } else if (CodecOfPath(path) != Codec::kNone) {
    // A compressed file cannot be entered mid-way: one split, read whole.
    if (st.st_size > 0) splits->Add(path, 0, st.st_size);
  } else {
    FileWindow window(fd, path, st.st_size, stats);
    status = CutFile(&window, path, st.st_size, split_size, max_splits, splits);
  }
  close(fd);
  return status;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ExpandInputs(const std::vector<std::string>& inputs) {
  Expander expander;
  for (const std::string& input : inputs) {
    AMPMR_RETURN_IF_ERROR(expander.AddInput(input));
  }
  return std::move(expander).Finish();
}

absl::StatusOr<SplitPlan> PlanSplits(const std::vector<std::string>& files, int64_t split_size,
                                     PlanStats* stats, size_t max_splits) {
  if (split_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("split_size: must be > 0, got ", split_size));
  }
  PlanStats ignored;
  SplitPlan splits;
  for (const std::string& file : files) {
    AMPMR_RETURN_IF_ERROR(
        PlanFile(file, split_size, max_splits, stats ? stats : &ignored, &splits));
  }
  return splits;
}

}  // namespace ampmr::master
