// spawn_bench [N] [HEAP_MIB]: what starting an exec task's child costs.
//
// Starts `/bin/sh -c true` N times the way an exec task does (stdin, stdout
// and stderr on non-blocking 1 MiB pipes, its own process group, default
// signals, an explicit environment) through Subprocess, and, as the
// baseline in the same run, through a bare posix_spawn with the same pipes,
// process group and signal reset (the C library's own vfork-and-exec), as
// exec tasks started their children before Subprocess.
// Each start is timed from the call to the child's exit being reaped; the
// two are alternated so that both see the same machine. With HEAP_MIB the
// process first touches that much memory, as a busy worker would, to show
// that neither copies the parent's memory. Prints a markdown row.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/subprocess.h"

extern char** environ;

namespace {

std::vector<std::string> Environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

// One start through Subprocess, as StreamingProcess does it.
void StartWithSubprocess(const std::vector<std::string>& env) {
  ampmr::SubprocessOptions options;
  options.argv = ampmr::ShellCommand("true");
  options.env = env;
  options.inherit_env = false;
  options.fds.emplace(0, ampmr::ChildFd::PipeToChild());
  options.fds.emplace(1, ampmr::ChildFd::PipeFromChild());
  options.fds.emplace(2, ampmr::ChildFd::PipeFromChild());
  options.nonblocking_pipes = true;
  options.pipe_size = 1 << 20;
  auto child = ampmr::Subprocess::Start(options);
  if (!child.ok()) {
    fprintf(stderr, "%s\n", std::string(child.status().message()).c_str());
    exit(1);
  }
  (*child)->WaitUntil(absl::InfiniteFuture());
}

// The baseline: posix_spawn with the same pipes, group and signals.
void StartWithPosixSpawn(const std::vector<std::string>& env) {
  int in[2], out[2], err[2];
  for (int* p : {in, out, err}) {
    if (pipe2(p, O_CLOEXEC) != 0) exit(1);
    fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
  }
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"), const_cast<char*>("true"),
                  nullptr};
  pid_t pid;
  if (posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data()) != 0) exit(1);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  for (int fd : {in[0], out[1], err[1]}) close(fd);
  // Waited for as the exec task did before: poll a pidfd, then kill the
  // group and reap.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  struct pollfd p = {pidfd, POLLIN, 0};
  poll(&p, 1, -1);
  close(pidfd);
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  for (int fd : {in[1], out[0], err[0]}) close(fd);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 2000;
  const size_t heap_mib = argc > 2 ? strtoul(argv[2], nullptr, 10) : 0;
  std::vector<char> heap(heap_mib << 20);
  for (size_t i = 0; i < heap.size(); i += 4096) heap[i] = 1;  // resident
  const std::vector<std::string> env = Environment();
  std::vector<double> ours, baseline;
  for (int i = 0; i < n; ++i) {
    // Every other round the baseline goes first.
    for (int j = 0; j < 2; ++j) {
      const bool subprocess = (i + j) % 2 == 0;
      const absl::Time s = absl::Now();
      subprocess ? StartWithSubprocess(env) : StartWithPosixSpawn(env);
      (subprocess ? ours : baseline).push_back(absl::ToDoubleMicroseconds(absl::Now() - s));
    }
  }
  printf(
      "| %d starts of `sh -c true`, %zu MiB resident | posix_spawn %.0f us | Subprocess %.0f us "
      "| ratio %.2f |\n",
      n, heap_mib, Median(baseline), Median(ours), Median(ours) / Median(baseline));
  return 0;
}
