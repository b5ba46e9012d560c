// TaskSpec: what runs as a mapper, reducer or combiner, parsed from the
// command-line / JobSpec form (README "SPEC"): "builtin:NAME", "exec:SHELL
// COMMAND", "plugin:PATH.so", and for reducers "none" (a map-only job).
#ifndef AMPMR_COMMON_TASK_SPEC_H_
#define AMPMR_COMMON_TASK_SPEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ampmr {

enum class TaskRole { kMapper, kReducer, kCombiner };

struct TaskSpec {
  enum class Kind { kNone, kBuiltin, kExec, kPlugin };
  Kind kind = Kind::kNone;
  std::string arg;  // built-in name, shell command, or plugin path
};

// Built-in names by role: mappers wordcount, identity, noop; reducers and
// combiners sum, count, identity, aggregate.
bool IsBuiltin(TaskRole role, absl::string_view name);

// Parses `text` for `role`. "none" is accepted only for reducers. Errors are
// INVALID_ARGUMENT and name the role and the text, e.g.
//   mapper "builtin:wordcont": unknown built-in (known: wordcount, identity, noop)
// Does not look at the file system (a plugin path is checked where it is loaded).
absl::StatusOr<TaskSpec> ParseTaskSpec(TaskRole role, absl::string_view text);

const char* TaskRoleName(TaskRole role);  // "mapper", "reducer", "combiner"

}  // namespace ampmr

#endif  // AMPMR_COMMON_TASK_SPEC_H_
