// The worker side of the plugin interface (sdk/include/ampmr/plugin.h):
// PluginMapper and PluginReducer are the task runners' Mapper and Reducer
// driving one plugin object each. They give the plugin its Task (from the
// AttemptContext), forward its Output to an Emitter, group a sorted pair
// stream into (key, values) calls, turn plugin errors into INVALID_ARGUMENT
// and catch exceptions at the boundary. Built-ins run through them too.
//
// Not thread-safe; one attempt's thread drives them.
#ifndef AMPMR_WORKER_TASK_PLUGIN_ADAPTER_H_
#define AMPMR_WORKER_TASK_PLUGIN_ADAPTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ampmr/plugin.h"
#include "worker/task/attempt_context.h"
#include "worker/task/mapper.h"
#include "worker/task/reducer.h"

namespace ampmr::worker {

// Calls `factory` for this attempt and wraps the object it returns. `what`
// names the plugin in errors ("plugin /x/wc.so mapper"). Fails with INTERNAL
// if the factory returns null or throws.
absl::StatusOr<std::unique_ptr<Mapper>> MakePluginMapper(plugin::NewMapperFn factory,
                                                         const AttemptContext& context,
                                                         const std::string& what);
absl::StatusOr<std::unique_ptr<Reducer>> MakePluginReducer(plugin::NewReducerFn factory,
                                                           const AttemptContext& context,
                                                           const std::string& what);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_PLUGIN_ADAPTER_H_
