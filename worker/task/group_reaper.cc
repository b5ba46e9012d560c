#include "worker/task/group_reaper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>

namespace ampmr::worker {
namespace {

// The write end of the pipe to the reaper; -1 without one.
int g_reaper_fd = -1;
pid_t g_reaper_pid = -1;

// One record per message: '+' or '-' and a group id. Shorter than PIPE_BUF,
// so writes from several threads never interleave.
struct Record {
  char op;
  int32_t pgid;
} __attribute__((packed));

void Send(char op, pid_t pgid) {
  if (g_reaper_fd < 0 || pgid <= 0) return;
  Record r{op, static_cast<int32_t>(pgid)};
  while (::write(g_reaper_fd, &r, sizeof(r)) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void RunReaper(int fd) {
  // Not stopped by the signals meant for the worker (a terminal's Ctrl-C,
  // supervisord stopping the group): it goes when the worker does.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::prctl(PR_SET_NAME, "ampmr-reaper");
  std::set<pid_t> groups;
  Record r;
  size_t have = 0;
  for (;;) {
    ssize_t n = ::read(fd, reinterpret_cast<char*>(&r) + have, sizeof(r) - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    if (have < sizeof(r)) continue;
    have = 0;
    if (r.op == '+') {
      groups.insert(r.pgid);
    } else {
      groups.erase(r.pgid);
    }
  }
  for (pid_t pgid : groups) ::kill(-pgid, SIGKILL);
  ::_exit(0);
}

}  // namespace

absl::Status GroupReaper::Start() {
  if (g_reaper_fd >= 0) return absl::OkStatus();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "reaper pipe");
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return absl::ErrnoToStatus(err, "fork the reaper");
  }
  if (pid == 0) {
    ::close(fds[1]);
    // Its own process group, so that signals to the worker's group (Ctrl-C)
    // pass it by.
    ::setpgid(0, 0);
    for (int fd = 3; fd < 1024; ++fd) {
      if (fd != fds[0]) ::close(fd);
    }
    RunReaper(fds[0]);
  }
  ::close(fds[0]);
  g_reaper_fd = fds[1];
  g_reaper_pid = pid;
  return absl::OkStatus();
}

void GroupReaper::Stop() {
  if (g_reaper_fd < 0) return;
  ::close(g_reaper_fd);
  g_reaper_fd = -1;
  while (::waitpid(g_reaper_pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void GroupReaper::Add(pid_t pgid) { Send('+', pgid); }
void GroupReaper::Remove(pid_t pgid) { Send('-', pgid); }

ProcessGroupListener* GroupReaper::Listener() {
  class ReaperListener final : public ProcessGroupListener {
   public:
    void GroupStarted(pid_t pgid) override { Add(pgid); }
    void GroupEnding(pid_t pgid) override { Remove(pgid); }
  };
  static ReaperListener listener;
  return &listener;
}

}  // namespace ampmr::worker
