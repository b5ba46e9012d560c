#include "client/local_cluster.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/status_macros.h"

namespace ampmr::client {
namespace {

constexpr char kMasterBinary[] = "ampmr-master";
constexpr char kWorkerBinary[] = "ampmr-worker";
constexpr char kListeningPrefix[] = "ampmr-master listening on ";
constexpr size_t kMaxLineBytes = 4096;
// Lines of a child's log quoted in error messages.
constexpr int kTailLines = 10;

absl::StatusOr<std::string> MakeTempDir(const std::string& parent_option) {
  std::string parent = parent_option;
  if (parent.empty()) {
    const char* tmpdir = getenv("TMPDIR");
    parent = tmpdir != nullptr && tmpdir[0] != '\0' ? tmpdir : "/tmp";
  }
  std::string templ = absl::StrCat(parent, "/ampmr-run-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create a temporary directory under ", parent, ": ", strerror(errno)));
  }
  return templ;
}

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

// "message" or, when the log has something, "message; its log ends with:"
// followed by the log's last lines.
std::string WithLogTail(absl::string_view message, const std::string& tail) {
  if (tail.empty()) return std::string(message);
  return absl::StrCat(message, "; its log ends with:\n", tail);
}

// A child of the cluster: stdin /dev/null, stdout and stderr appended to
// `log_path`; it dies with the thread that starts it (the main thread).
SubprocessOptions ChildOptions(const std::string& log_path) {
  SubprocessOptions options;
  options.fds.emplace(0, ChildFd::Null());
  options.fds.emplace(1, ChildFd::AppendTo(log_path));
  options.fds.emplace(2, ChildFd::AppendTo(log_path));
  options.die_with_parent = true;
  return options;
}

// What waiting for the first line of a child's stdout came to.
struct FirstLine {
  enum Outcome { kLine, kEndOfFile, kTimedOut, kWoken };
  Outcome outcome;
  std::string text;  // kLine: the line without its newline
};

// Reads up to the first newline (or kMaxLineBytes) from `fd`, unless
// `deadline` passes or `wake_fd` (when >= 0) becomes readable first.
FirstLine ReadFirstLine(int fd, int wake_fd, absl::Time deadline) {
  std::string buffer;
  while (buffer.find('\n') == std::string::npos && buffer.size() <= kMaxLineBytes) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return {FirstLine::kTimedOut, ""};
    struct pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int n =
        poll(fds, wake_fd >= 0 ? 2 : 1, static_cast<int>(absl::ToInt64Milliseconds(left) + 1));
    if (n < 0 && errno != EINTR) return {FirstLine::kEndOfFile, ""};
    if (n <= 0) continue;
    if (wake_fd >= 0 && fds[1].revents != 0) return {FirstLine::kWoken, ""};
    char chunk[512];
    const ssize_t got = read(fd, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return {FirstLine::kEndOfFile, ""};
    buffer.append(chunk, static_cast<size_t>(got));
  }
  return {FirstLine::kLine, buffer.substr(0, buffer.find('\n'))};
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(
    const LocalClusterOptions& options) {
  // Phases: make the directory; start the master and read its address; start
  // the workers. Any failure stops what was started (the destructor).
  if (options.bin_dir.empty()) {
    return absl::InvalidArgumentError("LocalCluster: empty bin_dir");
  }
  // An inherited SIG_IGN for SIGCHLD would have the kernel reap the children
  // itself and hide how they ended.
  struct sigaction current;
  if (sigaction(SIGCHLD, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) {
    signal(SIGCHLD, SIG_DFL);
  }
  AMPMR_ASSIGN_OR_RETURN(std::string dir, MakeTempDir(options.temp_parent));
  std::unique_ptr<LocalCluster> cluster(new LocalCluster(options, dir));
  AMPMR_RETURN_IF_ERROR(WriteNewTokenFile(cluster->token_file()).status());
  AMPMR_RETURN_IF_ERROR(cluster->StartMaster());
  AMPMR_RETURN_IF_ERROR(cluster->StartWorkers());
  return cluster;
}

LocalCluster::~LocalCluster() { (void)Stop(); }

absl::Status LocalCluster::StartMaster() {
  const std::string data_dir = absl::StrCat(dir_, "/master");
  AMPMR_RETURN_IF_ERROR(MakeDir(data_dir));
  const std::string log_path = absl::StrCat(dir_, "/master.log");
  SubprocessOptions spawn = ChildOptions(log_path);
  spawn.argv = {absl::StrCat(options_.bin_dir, "/", kMasterBinary),
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data_dir,
                "--token-file",
                token_file()};
  spawn.fds.insert_or_assign(1, ChildFd::PipeFromChild());
  AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> master, Subprocess::Start(spawn));
  Subprocess* raw = master.get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    pids_.push_back(master->pid());
    children_.push_back(Child{kMasterBinary, log_path, std::move(master)});
  }
  absl::StatusOr<std::string> address = ReadListeningLine(raw);
  raw->CloseFd(1);
  if (!address.ok()) return address.status();
  master_address_ = *std::move(address);
  return absl::OkStatus();
}

absl::Status LocalCluster::StartWorkers() {
  for (int i = 1; i <= options_.workers; ++i) {
    const std::string name = absl::StrCat("worker-", i);
    const std::string work_dir = absl::StrCat(dir_, "/", name);
    AMPMR_RETURN_IF_ERROR(MakeDir(work_dir));
    const std::string log_path = absl::StrCat(dir_, "/", name, ".log");
    SubprocessOptions spawn = ChildOptions(log_path);
    spawn.argv = {absl::StrCat(options_.bin_dir, "/", kWorkerBinary),
                  "--master",
                  master_address_,
                  "--work-dir",
                  work_dir,
                  "--slots",
                  "1",
                  "--token-file",
                  token_file()};
    AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> worker, Subprocess::Start(spawn));
    std::lock_guard<std::mutex> lock(mu_);
    pids_.push_back(worker->pid());
    children_.push_back(Child{name, log_path, std::move(worker)});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LocalCluster::ReadListeningLine(Subprocess* master) {
  const FirstLine first =
      ReadFirstLine(master->fd(1), options_.wake_fd, absl::Now() + options_.startup_timeout);
  switch (first.outcome) {
    case FirstLine::kWoken:
      return absl::CancelledError("interrupted while starting the local cluster");
    case FirstLine::kTimedOut:
      return absl::DeadlineExceededError(
          WithLogTail(absl::StrCat(kMasterBinary, " did not report its address within ",
                                   absl::FormatDuration(options_.startup_timeout)),
                      MasterLogTail()));
    case FirstLine::kEndOfFile: {
      // It exited (or closed stdout). Give it a moment to be reaped so the
      // message can say how it ended.
      std::string how = "closed its stdout";
      if (master->WaitUntil(absl::Now() + absl::Seconds(1))) {
        how = master->ExitDescription();
      }
      return absl::FailedPreconditionError(WithLogTail(
          absl::StrCat(kMasterBinary, " ", how, " before it was listening"), MasterLogTail()));
    }
    case FirstLine::kLine:
      break;
  }
  const absl::string_view line = absl::StripAsciiWhitespace(first.text);
  absl::string_view address = line;
  if (!absl::ConsumePrefix(&address, kListeningPrefix) || address.empty() ||
      address.find(':') == absl::string_view::npos) {
    return absl::FailedPreconditionError(
        WithLogTail(absl::StrCat(kMasterBinary, " printed \"", line.substr(0, 200), "\", not \"",
                                 kListeningPrefix, "HOST:PORT\""),
                    MasterLogTail()));
  }
  return std::string(address);
}

std::vector<ChildExit> LocalCluster::ReapExited() {
  std::lock_guard<std::mutex> lock(mu_);
  return ReapExitedLocked();
}

std::vector<ChildExit> LocalCluster::ReapExitedLocked() {
  std::vector<ChildExit> exits;
  if (stopped_) return exits;
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& child = children_[i];
    if (child.reported || !child.process->TryReap()) continue;
    child.reported = true;
    exits.push_back(ChildExit{child.name, i == 0, child.process->ExitDescription(),
                              FileTail(child.log_path, kTailLines)});
  }
  return exits;
}

std::vector<ChildExit> LocalCluster::WaitForExit(absl::Time deadline) {
  for (;;) {
    std::vector<pollfd> fds;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<ChildExit> exits = ReapExitedLocked();
      if (!exits.empty() || stopped_) return exits;
      for (const Child& child : children_) {
        if (!child.reported) fds.push_back({child.process->exit_fd(), POLLIN, 0});
      }
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration() || fds.empty()) return {};
    const bool have_pidfds =
        std::all_of(fds.begin(), fds.end(), [](const pollfd& p) { return p.fd >= 0; });
    // Without pidfds, look again every few milliseconds.
    poll(have_pidfds ? fds.data() : nullptr, have_pidfds ? fds.size() : 0,
         static_cast<int>(
             std::min<int64_t>(have_pidfds ? 60000 : 5, absl::ToInt64Milliseconds(left) + 1)));
  }
}

bool LocalCluster::master_running() {
  std::lock_guard<std::mutex> lock(mu_);
  return !stopped_ && !children_.empty() && !children_[0].process->reaped();
}

int LocalCluster::workers_running() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return 0;
  int running = 0;
  for (size_t i = 1; i < children_.size(); ++i) {
    if (!children_[i].process->reaped()) ++running;
  }
  return running;
}

std::string LocalCluster::MasterLogTail(int lines) const {
  return FileTail(absl::StrCat(dir_, "/master.log"), lines);
}

absl::Status LocalCluster::Stop() {
  // Order: SIGTERM every process group (workers and master together: the job
  // is over or abandoned); give them stop_grace to exit; SIGKILL whatever is
  // left in the groups (stragglers and their children, e.g. exec mappers);
  // reap; remove the directory.
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  for (const Child& child : children_) child.process->Signal(SIGTERM);
  const absl::Time deadline = absl::Now() + options_.stop_grace;
  for (const Child& child : children_) child.process->WaitUntil(deadline);
  for (const Child& child : children_) child.process->Signal(SIGKILL);
  children_.clear();  // ~Subprocess reaps what is left
  all_reaped_ = true;

  std::error_code error;
  std::filesystem::remove_all(dir_, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot remove ", dir_, ": ", error.message()));
  }
  return absl::OkStatus();
}

void LocalCluster::Kill() const {
  if (all_reaped_) return;
  for (pid_t pid : pids_) kill(-pid, SIGKILL);
}

absl::StatusOr<std::string> OwnExecutableDir() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) {
    return absl::InternalError(absl::StrCat("readlink /proc/self/exe: ", strerror(errno)));
  }
  return std::filesystem::path(std::string(path, static_cast<size_t>(n))).parent_path().string();
}

std::string FileTail(const std::string& path, int lines) {
  constexpr std::streamoff kMaxBytes = 64 * 1024;
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kMaxBytes));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<absl::string_view> all =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), '\n');
  if (all.size() == 1 && all[0].empty()) return "";
  const size_t first =
      all.size() > static_cast<size_t>(lines) ? all.size() - static_cast<size_t>(lines) : 0;
  return absl::StrJoin(all.begin() + first, all.end(), "\n");
}

}  // namespace ampmr::client
