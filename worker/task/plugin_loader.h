// LoadPlugin opens a plugin shared object (`plugin:PATH.so`) and checks that
// it speaks this worker's plugin interface version (sdk/include/ampmr/plugin.h).
// A loaded plugin stays loaded for the life of the process (objects it made
// may still be alive, and unloading C++ code is fragile), and loading the same
// path again is cheap (dlopen counts references).
//
// Thread-safe.
#ifndef AMPMR_WORKER_TASK_PLUGIN_LOADER_H_
#define AMPMR_WORKER_TASK_PLUGIN_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "ampmr/plugin.h"

namespace ampmr::worker {

// Returns the plugin's AmpmrPlugin. Errors name the path:
//   NOT_FOUND            the file does not exist
//   FAILED_PRECONDITION  dlopen failed (not a shared object, missing
//                        dependency ...), no ampmr_plugin_entry symbol, the
//                        entry returned null, or the plugin was built for
//                        another interface version (both versions named)
absl::StatusOr<const AmpmrPlugin*> LoadPlugin(const std::string& path);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_PLUGIN_LOADER_H_
