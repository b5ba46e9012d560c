// HandlerChild: one long-lived handler process (`/bin/sh -c COMMAND`, in its
// own process group) and the socket its requests and answers travel on.
//
// The frame protocol (README.md, "Calls"): the child reads requests on fd 3
// and writes answers on fd 4, one at a time.
//   request: 4-byte big-endian N, then N bytes of payload
//   answer:  4-byte big-endian N (N >= 1), then one status byte (0 OK, else a
//            canonical gRPC status code), then N-1 bytes: the payload when OK,
//            else the error message
// fd 3 reaching end of file means "exit now". stdin is /dev/null; stdout and
// stderr go to the worker's stderr (its log).
//
// Thread-compatible: one slot thread owns a HandlerChild. Waits can be broken
// by a `wake_fd` (an eventfd other threads write to).
#ifndef AMPMR_WORKER_HANDLER_CHILD_H_
#define AMPMR_WORKER_HANDLER_CHILD_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/subprocess.h"

namespace ampmr::worker {

// The largest answer a child may send (the master's gRPC message limit).
inline constexpr uint32_t kMaxHandlerFrame = 256u << 20;

class HandlerChild {
 public:
  // Starts `command` with `env` ("K=V") added to this process's environment,
  // as `run_as` when set.
  static absl::StatusOr<std::unique_ptr<HandlerChild>> Spawn(
      const std::string& command, const std::vector<std::string>& env,
      const std::optional<RunAs>& run_as = std::nullopt);
  ~HandlerChild();  // Kill()s

  HandlerChild(const HandlerChild&) = delete;
  HandlerChild& operator=(const HandlerChild&) = delete;

  enum class End {
    kAnswered,     // `answer` holds the payload or the handler's error
    kInterrupted,  // `interrupt` said stop
    kTimedOut,     // the deadline passed first
    kGone,         // the child closed its end (exited, most likely)
    kBadFrame,     // the child broke the frame protocol
  };
  struct Exchange {
    End end = End::kGone;
    absl::StatusOr<std::string> answer = std::string();
    // Whether any byte of the request reached the child: if none did, the
    // request can go to another child whatever it does.
    bool request_sent = false;
    std::string why;  // for kGone and kBadFrame
  };
  // Sends one request and waits for its answer. When `wake_fd` becomes
  // readable it is drained and `interrupt` asked whether to give up.
  Exchange Call(absl::string_view payload, absl::Time deadline, int wake_fd,
                const std::function<bool()>& interrupt);

  enum class Idle { kWoken, kGone };
  // Waits with no call running until `wake_fd` is readable (it is drained)
  // or the child goes away or speaks out of turn.
  Idle WaitIdle(int wake_fd);

  // Closes fd 3 so the child exits on its own; kills it after `grace`.
  void Retire(absl::Duration grace);
  // SIGKILLs the process group and reaps the child. Idempotent.
  void Kill();
  // "exited with status 1", "killed by signal 9 (SIGKILL)", or "running".
  std::string ExitDescription() const;

  pid_t pid() const { return process_->pid(); }
  int64_t answered() const { return answered_; }
  absl::Time started() const { return started_; }

 private:
  HandlerChild(std::unique_ptr<Subprocess> process, int fd);
  // Waits for `events` on the socket until `deadline`. A readable wake_fd is
  // drained and `interrupt` asked whether to stop waiting.
  enum class Wait { kReady, kTimedOut, kInterrupted };
  Wait WaitFor(short events, absl::Time deadline, int wake_fd,
               const std::function<bool()>& interrupt);
  // The halves of Call; false (with `out` saying why) when the exchange ended early.
  bool SendRequest(absl::string_view payload, absl::Time deadline, int wake_fd,
                   const std::function<bool()>& interrupt, Exchange* out);
  bool ReadAnswer(absl::Time deadline, int wake_fd, const std::function<bool()>& interrupt,
                  std::string* frame, Exchange* out);
  // WaitFor, with a timeout or interrupt recorded in `out`.
  bool Await(short events, absl::Time deadline, int wake_fd, const std::function<bool()>& interrupt,
             Exchange* out);

  // /bin/sh -c COMMAND in its own process group.
  const std::unique_ptr<Subprocess> process_;
  int fd_ = -1;  // our end of the socket that is the child's fd 3 and 4
  int64_t answered_ = 0;
  absl::Time started_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_HANDLER_CHILD_H_
