#include "worker/task/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "worker/task/utf8.h"

namespace ampmr::worker {
namespace {

// dlerror() is process-wide state: one dlopen/dlsym/dlerror at a time.
std::mutex dl_mu;

std::string DlError() {
  const char* e = dlerror();
  return e != nullptr ? ToPrintableUtf8(e) : "unknown error";
}

}  // namespace

absl::StatusOr<const AmpmrPlugin*> LoadPlugin(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("plugin ", path));
  }
  AmpmrPluginEntryFn entry;
  {
    std::lock_guard<std::mutex> lock(dl_mu);
    // A path without a slash would make dlopen search the library path.
    std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
    void* handle = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("plugin ", path, ": cannot load: ", DlError()));
    }
    dlerror();
    void* sym = dlsym(handle, AMPMR_PLUGIN_ENTRY_SYMBOL);
    if (sym == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("plugin ", path, ": no symbol ", AMPMR_PLUGIN_ENTRY_SYMBOL,
                       " (not an ampmr plugin, or built without AMPMR_PLUGIN): ", DlError()));
    }
    entry = reinterpret_cast<AmpmrPluginEntryFn>(sym);
  }
  const AmpmrPlugin* plugin = nullptr;
  try {
    plugin = entry();
  } catch (...) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": ", AMPMR_PLUGIN_ENTRY_SYMBOL, " threw an exception"));
  }
  if (plugin == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": ", AMPMR_PLUGIN_ENTRY_SYMBOL, " returned null"));
  }
  if (plugin->interface_version != plugin::kInterfaceVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plugin ", path, ": built for plugin interface version ", plugin->interface_version,
        ", but this worker speaks version ", plugin::kInterfaceVersion,
        "; rebuild it against this ampmr's sdk/include/ampmr/plugin.h"));
  }
  return plugin;
}

}  // namespace ampmr::worker
