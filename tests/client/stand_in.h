// Test helpers for the process plumbing of `ampmr run`: a scratch directory,
// /bin/sh stand-ins for ampmr-master and ampmr-worker, and a FIFO the
// stand-ins report to ("master PID ARGS...") so tests synchronise on what
// the children did instead of sleeping.
#ifndef AMPMR_TESTS_CLIENT_STAND_IN_H_
#define AMPMR_TESTS_CLIENT_STAND_IN_H_

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ampmr::testing {

// A directory removed with everything in it at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = getenv("TMPDIR");
    std::string templ = absl::StrCat(tmp != nullptr && tmp[0] ? tmp : "/tmp", "/ampmr-test-XXXXXX");
    EXPECT_NE(mkdtemp(templ.data()), nullptr);
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return absl::StrCat(path_, "/", name); }
  // The names in a subdirectory (or here), sorted.
  std::vector<std::string> List(const std::string& sub = "") const {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry :
         std::filesystem::directory_iterator(sub.empty() ? path_ : *this / sub, error)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes an executable /bin/sh script.
inline void WriteScript(const std::string& path, const std::string& body) {
  WriteFile(path, absl::StrCat("#!/bin/sh\n", body));
  chmod(path.c_str(), 0755);
}

// A FIFO stand-ins write one line per event to (`echo ... > PATH`; lines
// shorter than PIPE_BUF arrive whole). The test keeps a writer open itself so
// the read end never reports hang-up between stand-ins.
class EventFifo {
 public:
  explicit EventFifo(std::string path) : path_(std::move(path)) {
    EXPECT_EQ(mkfifo(path_.c_str(), 0600), 0);
    read_fd_ = open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    write_fd_ = open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    EXPECT_GE(read_fd_, 0);
    EXPECT_GE(write_fd_, 0);
  }
  ~EventFifo() {
    close(read_fd_);
    close(write_fd_);
  }
  const std::string& path() const { return path_; }

  // The next line, or nullopt when none came within `timeout`.
  std::optional<std::string> Next(absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      const size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return std::nullopt;
      struct pollfd p = {read_fd_, POLLIN, 0};
      poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left) + 1));
      char chunk[512];
      const ssize_t n = read(read_fd_, chunk, sizeof(chunk));
      if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // The next line split on spaces: {"master", PID, ARGS...}.
  std::vector<std::string> NextFields(absl::Duration timeout = absl::Seconds(10)) {
    std::optional<std::string> line = Next(timeout);
    if (!line.has_value()) return {};
    return absl::StrSplit(*line, ' ', absl::SkipEmpty());
  }

 private:
  std::string path_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::string buffer_;
};

// Waits until process `pid` (any process, not only a child) has exited.
inline bool WaitForProcessExit(pid_t pid, absl::Duration timeout = absl::Seconds(10)) {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;  // gone already
  struct pollfd p = {fd, POLLIN, 0};
  const int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  close(fd);
  // If it was re-parented to us (see BecomeSubreaper), reap the zombie.
  waitpid(pid, nullptr, WNOHANG);
  return n == 1;
}

// True while `pid` exists and is not a zombie.
inline bool ProcessAlive(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (stat.empty()) return false;
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

}  // namespace ampmr::testing

#endif  // AMPMR_TESTS_CLIENT_STAND_IN_H_
