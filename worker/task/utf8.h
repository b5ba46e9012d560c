// Text that came from user code (a child's stderr, counter names, plugin
// messages) ends up in protobuf string fields, which must be valid UTF-8, and
// in one-line error messages. ToPrintableUtf8 makes it both.
#ifndef AMPMR_WORKER_TASK_UTF8_H_
#define AMPMR_WORKER_TASK_UTF8_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ampmr::worker {

// `s` with valid UTF-8 sequences and tabs kept, and every other byte that is
// not valid UTF-8 or is a control character written as \xNN (a backslash is
// written as \\, so the result reads back unambiguously).
std::string ToPrintableUtf8(absl::string_view s);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_UTF8_H_
