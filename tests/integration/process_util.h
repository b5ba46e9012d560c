// Helpers for integration tests that run the real binaries: run a command to
// completion with captured output and a deadline, or keep a daemon (master,
// worker) running until the test ends. Every process started here is killed
// and reaped by the time its owner goes away.
#ifndef AMPMR_TESTS_INTEGRATION_PROCESS_UTIL_H_
#define AMPMR_TESTS_INTEGRATION_PROCESS_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ampmr::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
  absl::Duration elapsed;
};

// Runs argv[0] (a path) with extra environment `env`, waits at most
// `timeout`, then SIGKILLs it.
CommandResult RunCommand(const std::vector<std::string>& argv, absl::Duration timeout,
                         const std::map<std::string, std::string>& env = {});

// A long-running child. stdout is a pipe the test reads lines from; stderr
// goes to `log_path`. The destructor SIGKILLs and reaps it.
class Daemon {
 public:
  static std::unique_ptr<Daemon> Start(const std::vector<std::string>& argv,
                                       const std::string& log_path,
                                       const std::map<std::string, std::string>& env = {});
  ~Daemon();

  // The next stdout line, or "" if none arrives before `timeout`.
  std::string ReadLine(absl::Duration timeout);
  void Signal(int signo);
  // Waits for exit up to `timeout`; returns the exit code, or -1.
  int Wait(absl::Duration timeout);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  bool reaped_ = false;
};

// A test binary linking this sets $TMPDIR, before main(), to a directory of
// its own that is removed when it exits: ScratchDirs, the token file and the
// default work dirs of workers it starts (SIGKILLed or not) all go there.
//
// The cluster token of the processes a test binary starts: a fresh random
// token in a file of mode 0600 (its directory removed when the binary exits),
// made before main() and set as $AMPMR_TOKEN_FILE, so every master, worker
// and ampmr command started from here requires and sends it unless given
// another --token-file (or AMPMR_TOKEN_FILE="" in its environment: none).
const std::string& TestTokenFile();
const std::string& TestToken();

// A TCP port on 127.0.0.1 that was free a moment ago, below the ephemeral
// range so that no connection of a concurrent test takes it meanwhile.
int FreePort();

// Text files made of the corpus's books repeated: `files` files of about
// `bytes_each` bytes each, in `dir`.
void MakeCorpus(const std::string& dir, int files, int64_t bytes_each);

// A master and workers started separately, as on a real cluster, each with
// its log in `dir`. Ends them all when it goes away.
class TestCluster {
 public:
  // `master_args` are added to the master's command line, `worker_args` to
  // every worker's.
  TestCluster(const std::string& dir, int workers, const std::vector<std::string>& master_args = {},
              const std::vector<std::string>& worker_args = {});
  const std::string& address() const { return address_; }
  Daemon* master() { return master_.get(); }
  Daemon* worker(int i) { return workers_[i].get(); }
  // Starts one more worker, with `extra_args` after every worker's; returns
  // its index.
  int AddWorker(const std::vector<std::string>& extra_args = {});
  // Waits until exactly `n` workers are registered (asking `ampmr workers`).
  bool WaitForWorkers(int n, absl::Duration timeout = absl::Seconds(30));

 private:
  std::string dir_;
  std::vector<std::string> worker_args_;
  std::unique_ptr<Daemon> master_;
  std::vector<std::unique_ptr<Daemon>> workers_;
  std::string address_;
};

// `ampmr status --json JOB` fields, or state "" when the call failed.
struct JobProgress {
  std::string state;
  int maps_done = 0;
  int reduces_done = 0;
  int reduces_running = 0;  // attempts
};
JobProgress GetProgress(const std::string& master, const std::string& job_id);
// Waits until `pred` holds for the job's progress; false after `timeout`.
bool WaitForProgress(const std::string& master, const std::string& job_id,
                     const std::function<bool(const JobProgress&)>& pred,
                     absl::Duration timeout = absl::Seconds(60));

// The source tree ($AMPMR_SOURCE_DIR, set by CTest; else the current directory).
std::string SourceDir();

// The binaries under test ($AMPMR_BIN_DIR, set by CTest).
std::string BinPath(const std::string& name);

// A fresh directory removed with everything in it at destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The text corpus tests count words in: a directory of books beside the
// checkout when there is one (see CorpusDir), else /usr/share/common-licenses.
std::string CorpusDir();

// Polls `done` every 10 ms until it holds; false if `timeout` passes first.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(30));

// From /proc: whether `pid` is a live process (not gone, not an unreaped
// zombie); its parent (0 if unknown); the live processes whose parent it is.
bool Alive(pid_t pid);
pid_t ParentOf(pid_t pid);
std::vector<pid_t> ChildrenOf(pid_t pid);

// `a` followed by `b` (command lines built from parts).
std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b);

// The Python interpreter itself (not a wrapper such as a pyenv shim, which
// costs a third of a second per task); "python3" if it cannot be found.
const std::string& Python();

// The whole file ("" if it cannot be read), and a file made of `data`.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);

// Whether a job's staging directory (PARENT/.NAME.ampmr-JOB, where its
// parts are assembled before they are renamed onto `output`) is left over.
bool StagingLeft(const std::string& output);

// An exec task (`exec:` + the path returned) that runs the shell `command`,
// except that tasks numbered `free_tasks` and up first wait until the file
// `gate` exists: a test that must catch a job mid-phase opens the gate
// (WriteFile) once it has done what it needed, however fast the machine.
// The script is written into `dir`.
std::string GatedTask(const std::string& dir, const std::string& gate, int free_tasks,
                      const std::string& command);
// Sets the value that follows `flag` in `argv` (which must hold it).
void SetFlag(std::vector<std::string>* argv, const std::string& flag, const std::string& value);
// Shell commands doing what builtin:wordcount and builtin:sum do.
inline constexpr char kShellWordCount[] =
    "LC_ALL=C tr -cs 'A-Za-z' '\\n' | grep . | sed 's/$/\\t1/'";
inline constexpr char kShellSum[] =
    "awk -F '\\t' '{s[$1] += $2} END {for (k in s) printf \"%s\\t%d\\n\", k, s[k]}'";

// Word counts (maximal runs of ASCII letters), computed the slow obvious way.
std::map<std::string, long long> SequentialWordCount(const std::string& dir);
// Reads every part-* file of a job output as key -> value lines.
std::map<std::string, long long> ReadCounts(const std::string& output_dir);

}  // namespace ampmr::testing

#endif  // AMPMR_TESTS_INTEGRATION_PROCESS_UTIL_H_
