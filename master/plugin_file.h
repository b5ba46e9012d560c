// CheckPluginFile: whether a file can be a `plugin:` of this ampmr, judged
// from the file alone (nothing in it runs in the master): an ELF shared
// object for this machine that defines the plugin entry symbol
// (AMPMR_PLUGIN_ENTRY_SYMBOL, sdk/include/ampmr/plugin.h). The interface
// version is known only by calling the entry, which the workers do when they
// load it.
//
// Stateless; callable from any thread. Reads the file.
#ifndef AMPMR_MASTER_PLUGIN_FILE_H_
#define AMPMR_MASTER_PLUGIN_FILE_H_

#include <string>

#include "absl/status/status.h"

namespace ampmr::master {

// INVALID_ARGUMENT "PATH: not an ELF shared object" (or "... for another
// machine", "... does not define ampmr_plugin_entry: not an ampmr plugin"),
// or the error reading it.
absl::Status CheckPluginFile(const std::string& path);

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_PLUGIN_FILE_H_
