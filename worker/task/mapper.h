// Mapper: turns the lines of one input split into pairs. Built-in and plugin
// mappers run through plugin_adapter.h; an exec (Hadoop Streaming) mapper
// (exec_task.h) writes each chunk to its child's stdin in Map() and closes
// stdin and drains stdout in Finish(). task_factory.h makes them.
//
// A Mapper serves one map attempt; the task calls it from one thread.
#ifndef AMPMR_WORKER_TASK_MAPPER_H_
#define AMPMR_WORKER_TASK_MAPPER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "worker/task/emitter.h"

namespace ampmr::worker {

// One chunk of a split. The task reads a split in large blocks and calls Map
// once per chunk, in file order; a chunk is always whole lines (each ends
// with '\n', except possibly the split's last line at end of file).
struct MapInput {
  absl::string_view data;  // the chunk's bytes; valid during the Map call only
  int64_t offset = 0;      // file offset of data[0]
  absl::string_view path;  // the split's input file
  int64_t start = 0;       // the split: [start, start + length) of path
  int64_t length = 0;
};

class Mapper {
 public:
  virtual ~Mapper() = default;

  // Maps one chunk. An error fails the attempt.
  virtual absl::Status Map(const MapInput& input, Emitter* out) = 0;

  // Called once after the last chunk (also for an empty split), for mappers
  // that hold state or a child process. Not called after Map failed.
  virtual absl::Status Finish(Emitter* out) { return absl::OkStatus(); }
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_MAPPER_H_
