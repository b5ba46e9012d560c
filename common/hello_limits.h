// Bounds on what a worker says of itself in its Hello (every field comes off
// the network): the master refuses a Hello past one with INVALID_ARGUMENT
// naming the field and the bound, before the worker is registered or its
// host is logged; the worker refuses flags that would break one at start.
#ifndef AMPMR_COMMON_HELLO_LIMITS_H_
#define AMPMR_COMMON_HELLO_LIMITS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "ampmr/v1/session.pb.h"

namespace ampmr {

inline constexpr size_t kMaxHostBytes = 255;            // a DNS name's limit
inline constexpr size_t kMaxShuffleAddressBytes = 300;  // [HOST]:PORT
inline constexpr int kMaxHelloHandlers = 256;
inline constexpr size_t kMaxHandlerNameBytes = 128;
inline constexpr int kMaxSlots = 4096;
inline constexpr int kMaxHeldMapOutputs = 1 << 20;

// OK, or INVALID_ARGUMENT "Hello: host is 200000000 bytes, more than 255".
absl::Status CheckHello(const v1::Hello& hello);

}  // namespace ampmr

#endif  // AMPMR_COMMON_HELLO_LIMITS_H_
