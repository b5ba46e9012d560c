#include "common/listen_address.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ampmr {

absl::string_view HostOf(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return address;
  // "::1" without brackets has no port to strip.
  if (!absl::StartsWith(address, "[") && address.find(':') != colon) return address;
  return address.substr(0, colon);
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (!absl::StartsWith(host, "127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

absl::Status CheckBindable(absl::string_view flag, const std::string& address) {
  const std::string where = absl::StrCat(flag, " ", address);
  absl::string_view host = HostOf(address);
  if (host.size() == address.size()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": want HOST:PORT"));
  }
  const std::string port(address.substr(host.size() + 1));
  std::string name(absl::StripSuffix(absl::StripPrefix(host, "["), "]"));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(name.empty() ? nullptr : name.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", gai_strerror(rc)));
  }
  std::string why;
  for (addrinfo* ai = found; ai != nullptr && why.empty(); ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      why = strerror(errno);
      continue;
    }
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) why = strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  if (why.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(where, ": ", absl::AsciiStrToLower(why)));
}

}  // namespace ampmr
