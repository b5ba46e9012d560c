// LineReader reads a non-blocking descriptor (a child's stdout or stderr) in
// large blocks and hands out whole lines, so the cost per line is a short
// scan for its newline (FindByte) and a call, never a system call.
//
// Not thread-safe; one owner.
#ifndef AMPMR_WORKER_TASK_LINE_READER_H_
#define AMPMR_WORKER_TASK_LINE_READER_H_

#include <unistd.h>

#include <cstring>
#include <memory>

#include "absl/strings/string_view.h"
#include "worker/task/find_byte.h"

namespace ampmr::worker {

class LineReader {
 public:
  // `capacity`: the buffer's initial size. A line longer than `max_line`
  // bytes is handed out in pieces of max_line; below that, the buffer grows
  // to hold the longest line.
  LineReader(size_t capacity, size_t max_line)
      : buffer_(new char[capacity]), capacity_(capacity), max_line_(max_line) {}

  // One read(2) from `fd` into the buffer: what read returned (0 at end of
  // file, -1 with errno set, e.g. EAGAIN).
  ssize_t ReadFrom(int fd) {
    MakeRoom();
    ssize_t n = ::read(fd, buffer_.get() + end_, capacity_ - end_);
    if (n > 0) end_ += static_cast<size_t>(n);
    return n;
  }

  // Calls fn(line) for every complete line buffered, without its '\n'.
  template <typename Fn>
  void ForEachLine(Fn fn) {
    const char* base = buffer_.get();
    while (begin_ < end_) {
      const char* nl = FindByte(base + begin_, base + end_, '\n');
      if (nl == nullptr) {
        if (end_ - begin_ >= max_line_) {
          fn(absl::string_view(base + begin_, max_line_));
          begin_ += max_line_;
          continue;
        }
        break;
      }
      size_t at = nl - base;
      if (at - begin_ > max_line_) {
        fn(absl::string_view(base + begin_, max_line_));
        begin_ += max_line_;
        continue;
      }
      fn(absl::string_view(base + begin_, at - begin_));
      begin_ = at + 1;
    }
  }

  // Calls fn once with every complete line buffered, as one block ending in
  // '\n', for a reader whose lines are never cut (max_line SIZE_MAX).
  template <typename Fn>
  void TakeLines(Fn fn) {
    if (begin_ == end_) return;
    const char* base = buffer_.get();
    const void* last = ::memrchr(base + begin_, '\n', end_ - begin_);
    if (last == nullptr) return;
    const size_t at = static_cast<const char*>(last) - base + 1;
    fn(absl::string_view(base + begin_, at - begin_));
    begin_ = at;
  }

  // At end of file: calls fn with the last line if it had no '\n'.
  template <typename Fn>
  void FlushLast(Fn fn) {
    ForEachLine(fn);
    if (begin_ < end_) fn(absl::string_view(buffer_.get() + begin_, end_ - begin_));
    begin_ = end_ = 0;
  }

 private:
  // Makes free space at the end: moves a partial line to the front, or grows
  // the buffer when a partial line fills it.
  void MakeRoom() {
    if (begin_ == end_) begin_ = end_ = 0;
    if (capacity_ - end_ >= capacity_ / 4) return;
    size_t kept = end_ - begin_;
    if (kept > capacity_ / 2) {
      std::unique_ptr<char[]> bigger(new char[capacity_ * 2]);
      std::memcpy(bigger.get(), buffer_.get() + begin_, kept);
      buffer_ = std::move(bigger);
      capacity_ *= 2;
    } else {
      std::memmove(buffer_.get(), buffer_.get() + begin_, kept);
    }
    begin_ = 0;
    end_ = kept;
  }

  std::unique_ptr<char[]> buffer_;
  size_t capacity_;
  const size_t max_line_;
  size_t begin_ = 0;  // start of the first line not handed out
  size_t end_ = 0;    // end of the data read
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_LINE_READER_H_
