#include "worker/process_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace ampmr::worker {
namespace {

struct Stat {
  pid_t ppid = 0;
  uint64_t ticks = 0;  // utime + stime + cutime + cstime
  int64_t rss_pages = 0;
};

// /proc/PID/stat; false if the process is gone (also between the open and the
// read: ESRCH) or the line is not as expected.
bool ReadStat(const char* pid, Stat* stat) {
  char path[64];
  if (std::snprintf(path, sizeof(path), "/proc/%s/stat", pid) >= static_cast<int>(sizeof(path))) {
    return false;
  }
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  // One read: the kernel makes the whole line at once (52 fields, well
  // under this).
  char buffer[2048];
  ssize_t n;
  do {
    n = ::read(fd, buffer, sizeof(buffer));
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return false;
  absl::string_view line(buffer, static_cast<size_t>(n));
  // The command name (field 2) is in parentheses and may hold spaces or ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::vector<absl::string_view> f =
      absl::StrSplit(line.substr(close + 1), ' ', absl::SkipEmpty());
  // f[0] is field 3 (state): field N is f[N - 3].
  if (f.size() < 22) return false;
  int64_t ppid = 0, utime = 0, stime = 0, cutime = 0, cstime = 0, rss = 0;
  if (!absl::SimpleAtoi(f[1], &ppid) || !absl::SimpleAtoi(f[11], &utime) ||
      !absl::SimpleAtoi(f[12], &stime) || !absl::SimpleAtoi(f[13], &cutime) ||
      !absl::SimpleAtoi(f[14], &cstime) || !absl::SimpleAtoi(f[21], &rss)) {
    return false;
  }
  stat->ppid = static_cast<pid_t>(ppid);
  stat->ticks = static_cast<uint64_t>(utime + stime + cutime + cstime);
  stat->rss_pages = rss;
  return true;
}

}  // namespace

ProcessUsage::ProcessUsage(pid_t root)
    : root_(root),
      ticks_per_second_(sysconf(_SC_CLK_TCK)),
      page_size_(sysconf(_SC_PAGESIZE)),
      last_time_(absl::Now()) {
  int64_t unused = 0;
  ReadTree(&last_ticks_, &unused);
}

void ProcessUsage::ReadTree(uint64_t* ticks, int64_t* rss_pages) const {
  *ticks = 0;
  *rss_pages = 0;
  std::unordered_map<pid_t, Stat> stats;
  std::unordered_map<pid_t, std::vector<pid_t>> children;
  if (DIR* dir = opendir("/proc")) {
    while (dirent* entry = readdir(dir)) {
      int64_t pid = 0;
      if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
      Stat stat;
      if (!ReadStat(entry->d_name, &stat)) continue;
      children[stat.ppid].push_back(static_cast<pid_t>(pid));
      stats.emplace(static_cast<pid_t>(pid), stat);
    }
    closedir(dir);
  }
  std::vector<pid_t> todo = {root_};
  while (!todo.empty()) {
    pid_t pid = todo.back();
    todo.pop_back();
    auto it = stats.find(pid);
    if (it == stats.end()) continue;
    *ticks += it->second.ticks;
    *rss_pages += it->second.rss_pages;
    auto kids = children.find(pid);
    if (kids != children.end()) todo.insert(todo.end(), kids->second.begin(), kids->second.end());
  }
}

UsageSample ProcessUsage::Sample(absl::Time now) {
  uint64_t ticks = 0;
  int64_t rss_pages = 0;
  ReadTree(&ticks, &rss_pages);
  UsageSample sample;
  sample.rss_bytes = rss_pages * page_size_;
  double wall = absl::ToDoubleSeconds(now - last_time_);
  // A subtree reaped outside the tree takes its ticks with it: never negative.
  if (wall > 0 && ticks > last_ticks_ && ticks_per_second_ > 0) {
    sample.cpu_percent =
        100.0 * static_cast<double>(ticks - last_ticks_) / ticks_per_second_ / wall;
  }
  last_ticks_ = ticks;
  last_time_ = now;
  return sample;
}

}  // namespace ampmr::worker
