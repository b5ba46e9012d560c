// The built-in mappers and reducers (README "SPEC"). All but the identity
// mapper are written against the plugin interface
// (sdk/include/ampmr/plugin.h) like any plugin and run through the same
// adapter (plugin_adapter.h); they are just compiled in.
//
// Mappers:  wordcount  each maximal run of ASCII letters [A-Za-z] (case kept)
//                      -> word<TAB>"1"
//           identity   each line -> key and value split as an exec mapper's
//                      output is (by default at the first tab; no tab:
//                      key = line, value empty)
//           noop       emits nothing
// Reducers and combiners:
//           sum        key -> the sum of its integer values; a value that is
//                      not a 64-bit integer fails the attempt
//           count      key -> the number of its values
//           identity   every pair as is
//           aggregate  Hadoop's aggregate package (aggregate.h)
//
// Lines end at '\n'; a '\r' before it is dropped too (CRLF files).
#ifndef AMPMR_WORKER_TASK_BUILTINS_H_
#define AMPMR_WORKER_TASK_BUILTINS_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ampmr/plugin.h"
#include "common/task_spec.h"
#include "worker/task/mapper.h"

namespace ampmr::worker {

// The factory of the built-in mapper or reducer `name`, or null if there is
// none by that name (or it is a native one).
plugin::NewMapperFn BuiltinMapper(absl::string_view name);
// The built-in mappers that are not written as plugins (identity, which
// emits whole lines to be split by the job's key fields), or null.
std::unique_ptr<Mapper> NativeBuiltinMapper(absl::string_view name);
plugin::NewReducerFn BuiltinReducer(absl::string_view name);

// True for "builtin:sum", whose map side the output collector replaces with
// an in-memory aggregation (map_output.h).
bool IsBuiltinSum(const TaskSpec& spec);

// Parses one value for the sum built-in into *out. On failure returns
// INVALID_ARGUMENT naming the key and the value.
absl::Status ParseSumValue(absl::string_view key, absl::string_view value, int64_t* out);

// Adds `x` to *sum; INVALID_ARGUMENT naming the key on int64 overflow.
absl::Status AddToSum(absl::string_view key, int64_t x, int64_t* sum);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_BUILTINS_H_
