// The cluster token: reading it from its file, making a fresh one, and
// checking what a peer presented (gRPC `authorization` metadata, an HTTP
// `Authorization` header or the status page's cookie). No gRPC here; the
// transport adapters (common/credentials.h, master/http_auth.h) call in.
#ifndef AMPMR_COMMON_AUTH_H_
#define AMPMR_COMMON_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/log_limiter.h"

namespace ampmr {

// Longest token file accepted.
inline constexpr size_t kMaxTokenBytes = 4096;
// Shortest token accepted: a guessable token is no token.
inline constexpr size_t kMinTokenBytes = 16;

// The token in `path` (`flag` names where it came from in messages, e.g.
// "--token-file"). Surrounding whitespace is ignored. Refused with
// INVALID_ARGUMENT, naming the file: unreadable, readable or writable by
// group or others (the message says `chmod 600`), empty, shorter than
// kMinTokenBytes, longer than kMaxTokenBytes, or holding a character that is
// not printable ASCII.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path, absl::string_view flag);

// 32 random bytes from OpenSSL's RAND_bytes, hex-encoded (64 characters).
absl::StatusOr<std::string> MakeToken();

// Creates `path` (which must not exist) with mode 0600 holding a fresh token;
// returns the token. INVALID_ARGUMENT when it cannot be created.
absl::StatusOr<std::string> WriteNewTokenFile(const std::string& path);

// Whether `a` and `b` are equal, in time that does not depend on where they
// differ (nor on their lengths: both are hashed first).
bool TokensEqual(absl::string_view a, absl::string_view b);

// Checks presented tokens against the cluster's. Without a token (the
// network is trusted: loopback, or --insecure) everything is let in.
// Refusals are logged at WARNING at most once a minute per peer host, with
// how many were refused since.
//
// Thread-safe.
class TokenAuthenticator {
 public:
  // `token` empty: no authentication.
  explicit TokenAuthenticator(std::string token) : token_(std::move(token)) {}

  bool enabled() const { return !token_.empty(); }
  const std::string& token() const { return token_; }

  // `authorization` is the presented "Bearer TOKEN" value ("" when none);
  // `peer` is who presented it, for the log ("ipv4:10.1.2.3:5000"), and
  // `what` what they asked for ("/ampmr.v1.JobService/SubmitJob").
  // UNAUTHENTICATED "missing token: ..." or "wrong token: ..." otherwise.
  absl::Status Authenticate(absl::string_view authorization, absl::string_view peer,
                            absl::string_view what) const;

  // Whether `token` is the cluster's (false when there is none).
  bool Matches(absl::string_view token) const;

 private:
  const std::string token_;
  mutable LogLimiter refusals_{absl::Minutes(1)};
};

}  // namespace ampmr

#endif  // AMPMR_COMMON_AUTH_H_
