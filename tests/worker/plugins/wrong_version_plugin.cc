// A plugin that claims a future interface version; the worker must refuse it
// without touching anything but the version field.
#include "ampmr/plugin.h"

extern "C" __attribute__((visibility("default"))) const AmpmrPlugin* ampmr_plugin_entry(void) {
  static const AmpmrPlugin plugin = {AMPMR_PLUGIN_INTERFACE_VERSION + 998, "from-the-future",
                                     nullptr, nullptr, nullptr};
  return &plugin;
}
