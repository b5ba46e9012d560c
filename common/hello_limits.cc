#include "common/hello_limits.h"

#include "absl/strings/str_cat.h"

namespace ampmr {
namespace {

absl::Status TooLong(const char* field, size_t bytes, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat("Hello: ", field, " is ", bytes, " bytes, more than ", limit));
}

}  // namespace

absl::Status CheckHello(const v1::Hello& hello) {
  if (hello.host().size() > kMaxHostBytes) {
    return TooLong("host", hello.host().size(), kMaxHostBytes);
  }
  if (hello.shuffle_address().size() > kMaxShuffleAddressBytes) {
    return TooLong("shuffle_address", hello.shuffle_address().size(), kMaxShuffleAddressBytes);
  }
  if (hello.slots() < 0 || hello.slots() > kMaxSlots) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hello: slots is ", hello.slots(), ", not in [0, ", kMaxSlots, "]"));
  }
  if (hello.handlers_size() > kMaxHelloHandlers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Hello: ", hello.handlers_size(), " handlers, more than ", kMaxHelloHandlers));
  }
  for (const std::string& name : hello.handlers()) {
    if (name.size() > kMaxHandlerNameBytes) {
      return TooLong("a handler name", name.size(), kMaxHandlerNameBytes);
    }
  }
  if (hello.map_outputs_size() > kMaxHeldMapOutputs) {
    return absl::InvalidArgumentError(absl::StrCat("Hello: ", hello.map_outputs_size(),
                                                   " map outputs, more than ",
                                                   kMaxHeldMapOutputs));
  }
  return absl::OkStatus();
}

}  // namespace ampmr
