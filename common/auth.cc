#include "common/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/logging.h"

namespace ampmr {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

// "ipv4:10.1.2.3:5000" -> "ipv4:10.1.2.3": a peer's connections differ in port only.
absl::string_view PeerHost(absl::string_view peer) {
  const size_t colon = peer.rfind(':');
  const size_t scheme = peer.find(':');
  if (colon == absl::string_view::npos || colon == scheme) return peer;
  return peer.substr(0, colon);
}

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path, absl::string_view flag) {
  const std::string where = absl::StrCat(flag, " ", path);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a regular file"));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: the token file must be readable by its owner only, but its mode is %04o "
        "(run: chmod 600 %s)",
        where, st.st_mode & 07777, path));
  }
  std::string text(kMaxTokenBytes + 64, '\0');
  size_t got = 0;
  for (;;) {
    const ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", strerror(err)));
    }
    if (n == 0 || got + static_cast<size_t>(n) == text.size()) {
      got += static_cast<size_t>(n);
      break;
    }
    got += static_cast<size_t>(n);
  }
  close(fd);
  text.resize(got);
  const absl::string_view token = absl::StripAsciiWhitespace(text);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": the token file is empty (make one: openssl rand -hex 32)"));
  }
  if (token.size() > kMaxTokenBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": the token is longer than ", kMaxTokenBytes, " bytes"));
  }
  if (token.size() < kMinTokenBytes) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": the token is shorter than ",
                                                   kMinTokenBytes,
                                                   " characters (make one: openssl rand "
                                                   "-hex 32)"));
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       ": the token may hold printable ASCII only, no spaces (make one: openssl "
                       "rand -hex 32)"));
    }
  }
  return std::string(token);
}

absl::StatusOr<std::string> MakeToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("cannot make a token: RAND_bytes failed");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

absl::StatusOr<std::string> WriteNewTokenFile(const std::string& path) {
  absl::StatusOr<std::string> token = MakeToken();
  if (!token.ok()) return token.status();
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  const std::string line = *token + "\n";
  const bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const int err = errno;
  if (close(fd) != 0 || !ok) {
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", strerror(err)));
  }
  return token;
}

bool TokensEqual(absl::string_view a, absl::string_view b) {
  unsigned char ha[SHA256_DIGEST_LENGTH];
  unsigned char hb[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), ha);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), hb);
  return CRYPTO_memcmp(ha, hb, sizeof(ha)) == 0;
}

absl::Status TokenAuthenticator::Authenticate(absl::string_view authorization,
                                              absl::string_view peer,
                                              absl::string_view what) const {
  if (!enabled()) return absl::OkStatus();
  absl::string_view presented = authorization;
  const bool bearer = absl::ConsumePrefix(&presented, kBearer);
  if (bearer && Matches(presented)) return absl::OkStatus();
  const bool missing = authorization.empty();
  int64_t skipped = 0;
  if (refusals_.Allow(PeerHost(peer), &skipped)) {
    AMPMR_LOG(WARNING) << "refused " << what << " from " << peer << ": "
                       << (missing ? "no token" : "wrong token")
                       << (skipped > 0 ? absl::StrCat(" (", skipped,
                                                      " more refused from it since the "
                                                      "last such line)")
                                       : std::string());
  }
  if (missing) {
    return absl::UnauthenticatedError(
        "missing token: this cluster requires its token (--token-file FILE or "
        "$AMPMR_TOKEN_FILE)");
  }
  return absl::UnauthenticatedError(
      "wrong token: the cluster refused the token given (--token-file or $AMPMR_TOKEN_FILE)");
}

bool TokenAuthenticator::Matches(absl::string_view token) const {
  return enabled() && TokensEqual(token, token_);
}

}  // namespace ampmr
