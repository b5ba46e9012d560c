// Listen addresses ("HOST:PORT"): whether only this machine can reach one,
// and why one could not be listened on.
#ifndef AMPMR_COMMON_LISTEN_ADDRESS_H_
#define AMPMR_COMMON_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ampmr {

// The host part of "HOST:PORT" ("[::1]" for "[::1]:70").
absl::string_view HostOf(absl::string_view address);

// Whether `host` ("127.0.0.1", "[::1]", "localhost", ...) can only be
// reached from this machine. The wildcard ("", "0.0.0.0", "[::]") and every
// other name are not.
bool IsLoopbackHost(absl::string_view host);

// Tries to bind `address` (and lets it go again): OK, or why a server could
// not listen there, in one line naming `flag` and the address, e.g.
// UNAVAILABLE "--listen 127.0.0.1:7070: address already in use". Servers
// call it before starting, for that line instead of gRPC's log, and after
// failing to start, to say why.
absl::Status CheckBindable(absl::string_view flag, const std::string& address);

}  // namespace ampmr

#endif  // AMPMR_COMMON_LISTEN_ADDRESS_H_
