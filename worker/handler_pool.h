// HandlerPool: the worker's long-lived call handlers. Each
// `--handler NAME=COMMAND` gets `slots` children (HandlerChild), started at
// once so their state loads before the first call, each serving one call at a
// time from the handler's FIFO queue on its own thread; calls never run on
// the session or gRPC threads. `builtin:echo` is served in-process (it answers
// with the request, at once, on the caller's thread), for tests and
// benchmarks.
//
// A child that dies is restarted (with backoff if it dies young). The call
// it was serving fails with UNAVAILABLE, unless the call is idempotent or
// the child never received it: then it goes back to the head of the queue,
// once, for another child. A child that has answered `max_calls` calls is
// retired (EOF on its fd 3) and replaced. A call whose timeout passes, or
// that is cancelled, kills its child (there is no other way to stop it) and
// fails with DEADLINE_EXCEEDED or CANCELLED. Stop() kills every child's
// process group. One handler's queue and slots are a HandlerSlots.
//
// Thread-safe. Done callbacks run on slot threads or the caller's thread,
// never under a lock.
#ifndef AMPMR_WORKER_HANDLER_POOL_H_
#define AMPMR_WORKER_HANDLER_POOL_H_

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

class HandlerSlots;

struct HandlerSpec {
  std::string name;
  // A shell command, or "builtin:echo".
  std::string command;
};

// Parses "NAME=COMMAND" (the --handler flag).
absl::StatusOr<HandlerSpec> ParseHandlerSpec(absl::string_view flag);

struct HandlerPoolOptions {
  std::vector<HandlerSpec> handlers;
  // Children per handler.
  int slots = 1;
  // Replace a child after it answered this many calls; 0: never.
  int64_t max_calls = 0;
  // How long a retired child may take to exit before it is killed.
  absl::Duration retire_grace = absl::Seconds(5);
  // Restart delays for children that die within a second of starting.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Who the children run as (--task-user); unset: the worker's user.
  std::optional<RunAs> run_as;
};

struct HandlerCall {
  std::string handler;
  std::string payload;
  std::string call_id;  // for Cancel and log lines
  absl::Duration timeout = absl::InfiniteDuration();
  bool idempotent = false;
};

class HandlerPool {
 public:
  using Done = std::function<void(absl::StatusOr<std::string> payload)>;

  // Starts every handler's children. INVALID_ARGUMENT for a bad spec.
  static absl::StatusOr<std::unique_ptr<HandlerPool>> Start(HandlerPoolOptions options);
  ~HandlerPool();  // Stop()s

  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues one call; `done` runs once. NOT_FOUND for an unknown handler.
  void Call(HandlerCall call, Done done);
  // Cancels a queued or running call (its child is killed and restarted).
  void Cancel(const std::string& call_id);
  // Fails every queued call with `why` (the session that sent them is gone);
  // running calls finish.
  void DropQueued(const absl::Status& why);
  // Waits until no call is queued or running (a draining worker), at most
  // `timeout`; true if that happened.
  bool WaitIdle(absl::Duration timeout);
  // Fails queued and running calls with UNAVAILABLE, kills every child, joins.
  void Stop();

  std::vector<std::string> names() const;
  // The pids of `handler`'s children now (0 for a slot without one).
  std::vector<int64_t> ChildPids(const std::string& handler) const;

 private:
  explicit HandlerPool(std::vector<std::unique_ptr<HandlerSlots>> handlers);
  HandlerSlots* Find(const std::string& name) const;

  // Constant after Start (each HandlerSlots is thread-safe).
  std::vector<std::unique_ptr<HandlerSlots>> handlers_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_HANDLER_POOL_H_
