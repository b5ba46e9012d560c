// Emitter: where a mapper, combiner or reducer sends its output pairs and its
// user counters. Implementations: the map output collector (partitions, sorts,
// spills), a sorted run writer (combiner output) and the reduce task's line
// writer.
//
// Exec (Hadoop Streaming) tasks produce text lines rather than pairs and hand
// them over with EmitLine: an emitter that stores pairs splits the line at
// its first tab, while the part file writer keeps the line as written.
//
// Emit cannot fail from the caller's point of view: an emitter that hits an
// error (a failed spill, a bad value for the sum fast path) remembers the
// first one, drops further pairs, and its owner reports the error after the
// mapper or reducer returns. That keeps the per-pair call cheap and lets
// plugin and exec adapters forward pairs without error plumbing.
//
// Not thread-safe: a task calls its emitter from one thread.
#ifndef AMPMR_WORKER_TASK_EMITTER_H_
#define AMPMR_WORKER_TASK_EMITTER_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"
#include "worker/task/find_byte.h"

namespace ampmr::worker {

class Emitter {
 public:
  virtual ~Emitter() = default;

  // Outputs one pair. The emitter copies what it keeps; the views need only
  // live for the call.
  virtual void Emit(absl::string_view key, absl::string_view value) = 0;

  // Outputs one line of a streaming task, without its '\n'. By default the
  // pair key<TAB>value, split at the first tab; a line without a tab is a
  // key with an empty value.
  virtual void EmitLine(absl::string_view line) {
    const char* tab = FindByte(line.data(), line.data() + line.size(), '\t');
    if (tab == nullptr) {
      Emit(line, absl::string_view());
    } else {
      size_t at = static_cast<size_t>(tab - line.data());
      Emit(line.substr(0, at), line.substr(at + 1));
    }
  }

  // Outputs a block of lines of a streaming task, each ending in '\n' (as
  // they came from its stdout): by default EmitLine of each.
  virtual void EmitLines(absl::string_view lines) {
    const char* p = lines.data();
    const char* const end = p + lines.size();
    while (p < end) {
      const char* nl = FindByte(p, end, '\n');
      if (nl == nullptr) nl = end;  // a last line without its '\n'
      EmitLine(absl::string_view(p, static_cast<size_t>(nl - p)));
      p = nl + 1;
    }
  }

  // Adds `amount` to the user counter `name` ("GROUP.NAME").
  virtual void IncrementCounter(absl::string_view name, int64_t amount) = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_EMITTER_H_
