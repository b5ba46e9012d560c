// The factories that turn a TaskSpec (README "SPEC") into the Mapper or
// Reducer one task attempt runs:
//   builtin:NAME   a built-in (builtins.h), through the plugin adapter
//   plugin:PATH    a plugin's factory (plugin_loader.h, plugin_adapter.h)
//   exec:COMMAND   a streaming process (exec_task.h)
// `context` describes the attempt (ids, split, --env, cancel flag, deadline);
// the default one suits tests of built-ins.
#ifndef AMPMR_WORKER_TASK_TASK_FACTORY_H_
#define AMPMR_WORKER_TASK_TASK_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/task_spec.h"
#include "worker/task/attempt_context.h"
#include "worker/task/mapper.h"
#include "worker/task/reducer.h"

namespace ampmr::worker {

// Errors: INVALID_ARGUMENT for kNone or an unknown built-in name; the
// loader's errors for a plugin (NOT_FOUND, FAILED_PRECONDITION naming the
// path), also when it provides no mapper. An exec command is not checked
// here: it fails when it runs.
absl::StatusOr<std::unique_ptr<Mapper>> MakeMapper(const TaskSpec& spec,
                                                   const AttemptContext& context = {});

absl::StatusOr<std::unique_ptr<Reducer>> MakeReducer(const TaskSpec& spec,
                                                     const AttemptContext& context = {});

// As MakeReducer; a plugin without a combiner factory serves with its reducer.
absl::StatusOr<std::unique_ptr<Reducer>> MakeCombiner(const TaskSpec& spec,
                                                      const AttemptContext& context = {});

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_TASK_FACTORY_H_
