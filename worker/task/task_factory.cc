#include "worker/task/task_factory.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/task/builtins.h"
#include "worker/task/exec_task.h"
#include "worker/task/plugin_adapter.h"
#include "worker/task/plugin_loader.h"

namespace ampmr::worker {
namespace {

absl::Status NoSuchBuiltin(const TaskSpec& spec, TaskRole role) {
  if (spec.kind == TaskSpec::Kind::kNone) {
    return absl::InvalidArgumentError(absl::StrCat("no ", TaskRoleName(role), " given"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(TaskRoleName(role), " \"builtin:", spec.arg, "\": unknown built-in"));
}

absl::Status NotProvided(const TaskSpec& spec, const AmpmrPlugin& plugin, TaskRole role) {
  return absl::FailedPreconditionError(absl::StrCat("plugin ", spec.arg, " (\"",
                                                    plugin.name != nullptr ? plugin.name : "",
                                                    "\") provides no ", TaskRoleName(role)));
}

absl::StatusOr<std::unique_ptr<Reducer>> MakeReduceSide(const TaskSpec& spec,
                                                        const AttemptContext& context,
                                                        TaskRole role) {
  switch (spec.kind) {
    case TaskSpec::Kind::kBuiltin:
      if (plugin::NewReducerFn f = BuiltinReducer(spec.arg); f != nullptr) {
        return MakePluginReducer(f, context, absl::StrCat("builtin:", spec.arg));
      }
      break;
    case TaskSpec::Kind::kExec:
      return MakeExecReducer(spec.arg, context);
    case TaskSpec::Kind::kPlugin: {
      AMPMR_ASSIGN_OR_RETURN(const AmpmrPlugin* plugin, LoadPlugin(spec.arg));
      plugin::NewReducerFn f = plugin->new_reducer;
      if (role == TaskRole::kCombiner && plugin->new_combiner != nullptr) {
        f = plugin->new_combiner;
      }
      if (f == nullptr) return NotProvided(spec, *plugin, role);
      return MakePluginReducer(f, context,
                               absl::StrCat("plugin ", spec.arg, " ", TaskRoleName(role)));
    }
    case TaskSpec::Kind::kNone:
      break;
  }
  return NoSuchBuiltin(spec, role);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Mapper>> MakeMapper(const TaskSpec& spec,
                                                   const AttemptContext& context) {
  switch (spec.kind) {
    case TaskSpec::Kind::kBuiltin:
      if (std::unique_ptr<Mapper> native = NativeBuiltinMapper(spec.arg)) {
        return std::move(native);
      }
      if (plugin::NewMapperFn f = BuiltinMapper(spec.arg); f != nullptr) {
        return MakePluginMapper(f, context, absl::StrCat("builtin:", spec.arg));
      }
      break;
    case TaskSpec::Kind::kExec:
      return MakeExecMapper(spec.arg, context);
    case TaskSpec::Kind::kPlugin: {
      AMPMR_ASSIGN_OR_RETURN(const AmpmrPlugin* plugin, LoadPlugin(spec.arg));
      if (plugin->new_mapper == nullptr) return NotProvided(spec, *plugin, TaskRole::kMapper);
      return MakePluginMapper(plugin->new_mapper, context,
                              absl::StrCat("plugin ", spec.arg, " mapper"));
    }
    case TaskSpec::Kind::kNone:
      break;
  }
  return NoSuchBuiltin(spec, TaskRole::kMapper);
}

absl::StatusOr<std::unique_ptr<Reducer>> MakeReducer(const TaskSpec& spec,
                                                     const AttemptContext& context) {
  return MakeReduceSide(spec, context, TaskRole::kReducer);
}

absl::StatusOr<std::unique_ptr<Reducer>> MakeCombiner(const TaskSpec& spec,
                                                      const AttemptContext& context) {
  return MakeReduceSide(spec, context, TaskRole::kCombiner);
}

}  // namespace ampmr::worker
