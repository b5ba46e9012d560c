// CallHandlers: where the worker's Agent sends the calls the master routes to
// it. The real one is the HandlerPool (adapted in worker.cc); agent tests use
// a fake, so they start no processes.
//
// Thread-safety: every method may be called from any thread; Call is called
// on the gRPC thread that read the call, so it only queues work.
#ifndef AMPMR_WORKER_CALL_HANDLERS_H_
#define AMPMR_WORKER_CALL_HANDLERS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "worker/handler_pool.h"

namespace ampmr::worker {

class CallHandlers {
 public:
  virtual ~CallHandlers() = default;
  // The handlers offered (Hello lists them).
  virtual std::vector<std::string> names() const = 0;
  // Queues one call; `done` runs once, on any thread. NOT_FOUND for a handler
  // not offered.
  virtual void Call(HandlerCall call, HandlerPool::Done done) = 0;
  // Cancels a queued or running call; unknown ids are ignored.
  virtual void Cancel(const std::string& call_id) = 0;
  // Fails every queued call with `why`; running calls finish.
  virtual void DropQueued(const absl::Status& why) = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_CALL_HANDLERS_H_
