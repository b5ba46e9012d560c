// LocalCluster: the embedded cluster behind `ampmr run` — one ampmr-master
// and N ampmr-worker child processes in a private temporary directory,
// started from the folder of ampmr's own executable:
//
//   TMP/token          a fresh random cluster token, mode 0600
//   TMP/master/        the master's --data-dir      TMP/master.log
//   TMP/worker-I/      worker I's --work-dir        TMP/worker-I.log
//
// (TMP is mkdtemp'd under $TMPDIR, else /tmp, mode 0700; each log gets the
// child's stderr, and a worker's stdout too). The token keeps other local
// users off the cluster: every child gets `--token-file TMP/token`, and so
// must the client (token_file()). The master is started with
// `--listen 127.0.0.1:0`; its stdout must carry exactly one line,
// "ampmr-master listening on HOST:PORT", once it serves. Workers get
// `--master HOST:PORT --work-dir TMP/worker-I --slots 1`.
//
// Stop() (also run by the destructor) ends every child — SIGTERM to each
// child's process group, up to `stop_grace` to exit, then SIGKILL — reaps
// them and removes TMP. Children are also bound to this process with
// PR_SET_PDEATHSIG, so they die with it however it ends.
//
// Thread-safety: Start() and Stop() belong to the main thread (the children
// die with the thread that started them). ReapExited() may run concurrently
// on another thread (the SIGCHLD watcher); Kill() may run on any thread at
// any time.
#ifndef AMPMR_CLIENT_LOCAL_CLUSTER_H_
#define AMPMR_CLIENT_LOCAL_CLUSTER_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"

namespace ampmr::client {

struct LocalClusterOptions {
  // The folder holding ampmr-master and ampmr-worker. Required.
  std::string bin_dir;
  // Number of ampmr-worker processes, each with one slot.
  int workers = 1;
  // How long the master may take to print its listening line.
  absl::Duration startup_timeout = absl::Seconds(10);
  // How long Stop() lets children exit after SIGTERM before SIGKILL.
  absl::Duration stop_grace = absl::Seconds(3);
  // When >= 0, Start() gives up with CANCELLED as soon as this descriptor
  // becomes readable (SignalWatcher::wake_fd(): Ctrl-C during startup).
  int wake_fd = -1;
  // Parent of the temporary directory; empty means $TMPDIR, else /tmp.
  std::string temp_parent;
};

// A child that has exited, as ReapExited() reports it.
struct ChildExit {
  std::string name;  // "ampmr-master", "worker-3"
  bool is_master = false;
  std::string description;  // "exited with status 1", "killed by signal 11 (SIGSEGV)"
  std::string log_tail;     // the last lines of its log, maybe empty
};

class LocalCluster {
 public:
  // Creates the directory and starts the master, then the workers. On
  // failure everything started is stopped and removed again; the message is
  // one line, then the last lines of the master's log when they help, e.g.
  //   FAILED_PRECONDITION "ampmr-master exited with status 1 before it was
  //   listening; last lines of its log:\n..."
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(const LocalClusterOptions& options);

  ~LocalCluster();  // Stop()
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // HOST:PORT the master printed. Constant after Start().
  const std::string& master_address() const { return master_address_; }
  // The temporary directory. Constant after Start().
  const std::string& dir() const { return dir_; }
  // The cluster's token file (in dir()). Constant after Start().
  std::string token_file() const { return dir_ + "/token"; }

  // Reaps the children that have exited since the last call and describes
  // them. Never blocks.
  std::vector<ChildExit> ReapExited();

  // Like ReapExited(), but first waits until some child has exited or
  // `deadline` passes.
  std::vector<ChildExit> WaitForExit(absl::Time deadline);

  // Children reaped so far are no longer running.
  bool master_running();
  int workers_running();

  // The last `lines` lines of the master's log, for error messages.
  std::string MasterLogTail(int lines = 10) const;

  // Ends all children and removes the directory; see the file comment.
  // Idempotent. The only possible error is that the directory could not be
  // removed completely (INTERNAL, naming it); the children are gone anyway.
  absl::Status Stop();

  // SIGKILL to every child's process group at once, without waiting or
  // reaping (for a second Ctrl-C). Thread-safe; Stop() still cleans up.
  void Kill() const;

 private:
  struct Child {
    std::string name;
    std::string log_path;
    std::unique_ptr<Subprocess> process;
    bool reported = false;  // returned by ReapExited() already
  };

  LocalCluster(LocalClusterOptions options, std::string dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}

  absl::Status StartMaster();
  absl::Status StartWorkers();
  absl::StatusOr<std::string> ReadListeningLine(Subprocess* master);
  std::vector<ChildExit> ReapExitedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const LocalClusterOptions options_;
  const std::string dir_;

  // Set by Start() before it returns.
  std::string master_address_;
  // Pids of every child, for Kill() without the lock; filled while starting.
  std::vector<pid_t> pids_;
  // Set once Stop() has reaped everyone: Kill() must not signal reused pids.
  std::atomic<bool> all_reaped_{false};

  std::mutex mu_;
  std::vector<Child> children_ ABSL_GUARDED_BY(mu_);  // [0] is the master
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// The folder of this process's executable (/proc/self/exe).
absl::StatusOr<std::string> OwnExecutableDir();

// The last `lines` lines of the file at `path` (at most its last 64 KiB);
// empty when it cannot be read.
std::string FileTail(const std::string& path, int lines);

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_LOCAL_CLUSTER_H_
