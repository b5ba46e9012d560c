#include "tests/integration/process_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;

// $TMPDIR for this test binary and every process it starts: a directory of
// its own, removed when the binary exits, so what its processes leave in the
// temporary directory (the default work dir of a worker that was SIGKILLed)
// goes with it. 0711: a --task-user may pass through to a work dir inside.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ampmr-tests-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr || chmod(tmpl.c_str(), 0711) != 0) return;
    dir_ = tmpl;
    setenv("TMPDIR", dir_.c_str(), 1);
  }
  ~TempDir() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

 private:
  std::string dir_;
};

// Before main(), while there is one thread (setenv is not thread-safe), and
// before the token file, which goes in it.
[[maybe_unused]] const TempDir kTempDir;

// See TestTokenFile().
class TokenFile {
 public:
  TokenFile() {
    std::string tmpl = (fs::temp_directory_path() / "ampmr-token-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    path_ = dir_ + "/token";
    unsigned char bytes[16] = {};
    std::ifstream("/dev/urandom", std::ios::binary).read(reinterpret_cast<char*>(bytes), 16);
    for (unsigned char b : bytes) absl::StrAppend(&token_, absl::Hex(b, absl::kZeroPad2));
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, token_.data(), token_.size()) != static_cast<ssize_t>(token_.size())) {
      path_.clear();
    }
    if (fd >= 0) close(fd);
    if (!path_.empty()) setenv("AMPMR_TOKEN_FILE", path_.c_str(), 1);
  }
  ~TokenFile() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  const std::string& path() const { return path_; }
  const std::string& token() const { return token_; }

 private:
  std::string dir_, path_, token_;
};

const TokenFile& TheTokenFile() {
  static const TokenFile token;
  return token;
}
// Before main(), while there is one thread: setenv is not thread-safe.
[[maybe_unused]] const bool kTokenFileMade = (TheTokenFile(), true);

pid_t SpawnChild(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env, int out_fd, int err_fd) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  setpgid(0, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  int devnull = open("/dev/null", O_RDONLY);
  dup2(devnull, 0);
  for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  dprintf(2, "exec %s: %s\n", args[0], strerror(errno));
  _exit(127);
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, absl::Duration timeout,
                         const std::map<std::string, std::string>& env) {
  CommandResult result;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << strerror(errno);
    return result;
  }
  absl::Time start = absl::Now();
  pid_t pid = SpawnChild(argv, env, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  absl::Time deadline = start + timeout;
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (wait_ms <= 0) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf, got);
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  kill(-pid, SIGKILL);  // anything the command left in its group
  result.elapsed = absl::Now() - start;
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

std::unique_ptr<Daemon> Daemon::Start(const std::vector<std::string>& argv,
                                      const std::string& log_path,
                                      const std::map<std::string, std::string>& env) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return nullptr;
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto d = std::unique_ptr<Daemon>(new Daemon());
  d->pid_ = SpawnChild(argv, env, out[1], log);
  close(out[1]);
  close(log);
  d->out_fd_ = out[0];
  return d;
}

Daemon::~Daemon() {
  if (!reaped_ && pid_ > 0) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

std::string Daemon::ReadLine(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (wait_ms <= 0) return "";
    struct pollfd p = {out_fd_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) continue;
    char buf[4096];
    ssize_t got = read(out_fd_, buf, sizeof(buf));
    if (got <= 0) return "";
    buffer_.append(buf, got);
  }
}

void Daemon::Signal(int signo) {
  if (!reaped_) kill(pid_, signo);
}

int Daemon::Wait(absl::Duration timeout) {
  if (reaped_) return -1;
  // A pidfd becomes readable when the child exits.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    struct pollfd p = {pidfd, POLLIN, 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
    while (poll(&p, 1, ms) < 0 && errno == EINTR) {
    }
    close(pidfd);
  }
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return -1;
  reaped_ = true;
  kill(-pid_, SIGKILL);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const std::string& TestTokenFile() { return TheTokenFile().path(); }
const std::string& TestToken() { return TheTokenFile().token(); }

int FreePort() {
  // Below the kernel's ephemeral range (ip_local_port_range, 32768 and up
  // here), so no client connection or port-0 listener of a concurrent test
  // takes it between now and its use: servers do not share ports.
  static std::atomic<uint32_t> seed{static_cast<uint32_t>(getpid()) * 7919u};
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = 20000 + static_cast<int>(seed.fetch_add(104729u) % 12000u);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (free) return port;
  }
  ADD_FAILURE() << "no free port in 20000-31999";
  return 0;
}

void MakeCorpus(const std::string& dir, int files, int64_t bytes_each) {
  std::string books;
  for (const auto& entry : fs::directory_iterator(CorpusDir())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    books += ss.str();
    if (!books.empty() && books.back() != '\n') books += '\n';
  }
  fs::create_directories(dir);
  for (int i = 0; i < files; ++i) {
    std::ofstream out(dir + "/part" + std::to_string(i) + ".txt", std::ios::binary);
    int64_t written = 0;
    while (written < bytes_each) {
      out << books;
      written += static_cast<int64_t>(books.size());
    }
  }
}

TestCluster::TestCluster(const std::string& dir, int workers,
                         const std::vector<std::string>& master_args,
                         const std::vector<std::string>& worker_args)
    : dir_(dir), worker_args_(worker_args) {
  std::vector<std::string> argv = {BinPath("ampmr-master"), "--listen", "127.0.0.1:0", "--data-dir",
                                   dir + "/master"};
  argv.insert(argv.end(), master_args.begin(), master_args.end());
  master_ = Daemon::Start(argv, dir + "/master.log");
  std::string line = master_->ReadLine(absl::Seconds(20));
  const std::string prefix = "ampmr-master listening on ";
  EXPECT_EQ(line.rfind(prefix, 0), 0u) << "master said: " << line;
  if (line.rfind(prefix, 0) == 0) address_ = line.substr(prefix.size());
  for (int i = 0; i < workers; ++i) AddWorker();
}

int TestCluster::AddWorker(const std::vector<std::string>& extra_args) {
  int i = static_cast<int>(workers_.size());
  workers_.push_back(
      Daemon::Start(Concat(Concat({BinPath("ampmr-worker"), "--master", address_, "--work-dir",
                                   dir_ + "/w" + std::to_string(i)},
                                  worker_args_),
                           extra_args),
                    dir_ + "/worker" + std::to_string(i) + ".log"));
  return i;
}

bool TestCluster::WaitForWorkers(int n, absl::Duration timeout) {
  return WaitUntil(
      [&] {
        CommandResult r = RunCommand({BinPath("ampmr"), "workers", "--master", address_, "--json"},
                                     absl::Seconds(10));
        std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipWhitespace());
        return r.exit_code == 0 && static_cast<int>(lines.size()) == n;
      },
      timeout);
}

JobProgress GetProgress(const std::string& master, const std::string& job_id) {
  JobProgress p;
  CommandResult r = RunCommand({BinPath("ampmr"), "status", "--master", master, "--json", job_id},
                               absl::Seconds(10));
  if (r.exit_code != 0) return p;
  auto field = [&](const std::string& object, const std::string& name) -> std::string {
    size_t at = r.out.find("\"" + object + "\"");
    if (at == std::string::npos) return "";
    at = r.out.find("\"" + name + "\":", at);
    if (at == std::string::npos) return "";
    at += name.size() + 3;
    size_t end = r.out.find_first_of(",}", at);
    std::string v = r.out.substr(at, end - at);
    v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
    return v;
  };
  size_t at = r.out.find("\"state\":\"");
  if (at != std::string::npos) {
    at += 9;
    p.state = r.out.substr(at, r.out.find('"', at) - at);
  }
  absl::SimpleAtoi(field("map", "done"), &p.maps_done);
  absl::SimpleAtoi(field("reduce", "done"), &p.reduces_done);
  absl::SimpleAtoi(field("reduce", "running"), &p.reduces_running);
  return p;
}

bool WaitForProgress(const std::string& master, const std::string& job_id,
                     const std::function<bool(const JobProgress&)>& pred, absl::Duration timeout) {
  return WaitUntil([&] { return pred(GetProgress(master, job_id)); }, timeout);
}

std::string SourceDir() {
  const char* dir = getenv("AMPMR_SOURCE_DIR");
  return dir != nullptr ? dir : AMPMR_TEST_SOURCE_DIR;
}

std::string BinPath(const std::string& name) {
  const char* dir = getenv("AMPMR_BIN_DIR");
  return std::string(dir ? dir : AMPMR_TEST_BIN_DIR) + "/" + name;
}

ScratchDir::ScratchDir() {
  std::string tmpl = (fs::temp_directory_path() / "ampmr-it-XXXXXX").string();
  path_ = mkdtemp(tmpl.data());
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

namespace {

// The fields of /proc/PID/stat after the command name ("STATE PPID ..."),
// empty if there is no such process.
std::vector<std::string> StatFields(pid_t pid) {
  std::string line = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return {};
  return absl::StrSplit(line.substr(paren + 2), ' ');
}

}  // namespace

bool Alive(pid_t pid) {
  std::vector<std::string> f = StatFields(pid);
  return !f.empty() && f[0] != "Z";
}

pid_t ParentOf(pid_t pid) {
  std::vector<std::string> f = StatFields(pid);
  pid_t ppid = 0;
  if (f.size() > 1 && !absl::SimpleAtoi(f[1], &ppid)) ppid = 0;
  return ppid;
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    pid_t p = 0;
    if (absl::SimpleAtoi(entry.path().filename().string(), &p) && ParentOf(p) == pid && Alive(p)) {
      children.push_back(p);
    }
  }
  return children;
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::string& Python() {
  static const std::string* path = [] {
    CommandResult r = RunCommand(
        {"/usr/bin/env", "python3", "-c", "import sys; print(sys.executable)"}, absl::Seconds(30));
    std::string p(absl::StripTrailingAsciiWhitespace(r.out));
    return new std::string(r.exit_code == 0 && !p.empty() ? p : "python3");
  }();
  return *path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string GatedTask(const std::string& dir, const std::string& gate, int free_tasks,
                      const std::string& command) {
  std::string path =
      absl::StrCat(dir, "/gated-", free_tasks, "-", std::hash<std::string>()(gate), ".sh");
  WriteFile(path, absl::StrCat("#!/bin/sh\n", "if [ \"$mapreduce_task_partition\" -ge ", free_tasks,
                               " ]; then\n", "  while [ ! -e '", gate, "' ]; do sleep 0.02; done\n",
                               "fi\n", command, "\n"));
  ::chmod(path.c_str(), 0755);
  return path;
}

void SetFlag(std::vector<std::string>* argv, const std::string& flag, const std::string& value) {
  auto it = std::find(argv->begin(), argv->end(), flag);
  ASSERT_TRUE(it != argv->end() && it + 1 != argv->end()) << flag;
  *(it + 1) = value;
}

bool StagingLeft(const std::string& output) {
  fs::path out(output);
  std::string prefix = "." + out.filename().string() + ".ampmr-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(out.parent_path(), ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::string CorpusDir() {
  fs::path shared = fs::path(SourceDir()) / ".." / "shared" / "data" / "gutenberg";
  if (fs::is_directory(shared)) return fs::canonical(shared).string();
  return "/usr/share/common-licenses";
}

std::map<std::string, long long> SequentialWordCount(const std::string& dir) {
  std::map<std::string, long long> counts;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name[0] == '.' || name[0] == '_') continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    std::string word;
    for (char c : text) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        word.push_back(c);
      } else if (!word.empty()) {
        ++counts[word];
        word.clear();
      }
    }
    if (!word.empty()) ++counts[word];
  }
  return counts;
}

std::map<std::string, long long> ReadCounts(const std::string& output_dir) {
  std::map<std::string, long long> counts;
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    if (entry.path().filename().string().rfind("part-", 0) != 0) continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits('\t', 1));
      long long v = 0;
      EXPECT_EQ(kv.size(), 2u) << "bad line in " << entry.path() << ": " << line;
      if (kv.size() != 2 || !absl::SimpleAtoi(kv[1], &v)) continue;
      EXPECT_EQ(counts.count(kv[0]), 0u) << "key twice: " << kv[0];
      counts[kv[0]] = v;
    }
  }
  return counts;
}

}  // namespace ampmr::testing
