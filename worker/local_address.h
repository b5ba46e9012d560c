// LocalAddressToward: the address of this host on the network it reaches the
// master through, which is where other workers (on the master's network) can
// reach this one. It is the source address the kernel picks for a connection
// to the master: found with a connected UDP socket (no packet is sent).
//
// Stateless; callable from any thread. Resolves names, so it may block.
#ifndef AMPMR_WORKER_LOCAL_ADDRESS_H_
#define AMPMR_WORKER_LOCAL_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ampmr::worker {

// `master` is HOST:PORT (an IPv6 HOST in brackets). Returns the local IP
// ("10.0.0.5", or "[fe80::1]" for IPv6, ready to have ":PORT" added), or
// UNAVAILABLE naming the master when it cannot be resolved or routed to.
absl::StatusOr<std::string> LocalAddressToward(absl::string_view master);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_LOCAL_ADDRESS_H_
