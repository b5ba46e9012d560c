// ClusterCredentials: what one process holds to take part in a cluster
// securely (README "Security") — the token, and the TLS files it serves and
// verifies with — turned into gRPC's own credentials:
//
//   server side  ServerCredentials() (SslServerCredentials with --tls-cert,
//                else plain), CheckListen() (protected by default), and
//                Authenticate(), the first thing every handler does;
//   client side  ChannelCredentials() (SslCredentials with --tls-ca, else
//                plain) and Apply(), which puts the token on a call
//                (`authorization: Bearer ...` call credentials).
//
// The health service is the only one that does not Authenticate().
//
// Thread-safe: immutable after Load().
#ifndef AMPMR_COMMON_CREDENTIALS_H_
#define AMPMR_COMMON_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth.h"
#include "common/listen_address.h"
#include "common/security_flags.h"

namespace ampmr {

class ClusterCredentials {
 public:
  // Reads the files `options` names. Errors are INVALID_ARGUMENT naming the
  // flag and file: a bad token file (see ReadTokenFile), --tls-cert without
  // --tls-key (or the other way round), a file that cannot be read or holds
  // no PEM certificate or key, or a key that is not the certificate's.
  static absl::StatusOr<std::shared_ptr<const ClusterCredentials>> Load(
      const SecurityOptions& options);
  // No token, no TLS (tests of logic that needs a credentials object).
  static std::shared_ptr<const ClusterCredentials> None();

  bool has_token() const { return authenticator_.enabled(); }
  bool serves_tls() const { return !cert_pem_.empty(); }
  bool dials_tls() const { return !ca_pem_.empty(); }
  const TokenAuthenticator& authenticator() const { return authenticator_; }

  // Protected by default: without a token, a server may listen only on a
  // loopback address unless --insecure. INVALID_ARGUMENT naming `flag`
  // ("--listen") and --token-file otherwise.
  absl::Status CheckListen(absl::string_view address, absl::string_view flag) const;

  // For ServerBuilder::AddListeningPort.
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // OK, or UNAUTHENTICATED (logged, rate-limited per peer) when the call
  // does not carry the token. `method` names the call in the log.
  grpc::Status Authenticate(const grpc::ServerContextBase& context, absl::string_view method) const;

  // For grpc::CreateCustomChannel.
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;
  // Puts the token on a call about to be made (nothing without one).
  void Apply(grpc::ClientContext* context) const;
  // gRPC's account of a failed connection (`message`), with what it means
  // for TLS when it is about TLS: a certificate --tls-ca does not verify, a
  // server that speaks TLS to a client without --tls-ca, or the other way.
  std::string ExplainConnectFailure(absl::string_view message) const;

 private:
  ClusterCredentials(std::string token, bool insecure)
      : authenticator_(std::move(token)), insecure_(insecure) {}

  const TokenAuthenticator authenticator_;
  const bool insecure_;
  std::string cert_pem_;  // empty: serve without TLS
  std::string key_pem_;
  std::string ca_pem_;                                       // empty: dial without TLS
  std::string ca_file_;                                      // --tls-ca, for messages
  std::shared_ptr<grpc::CallCredentials> call_credentials_;  // null without a token
};

// Adds a listening port at `address` to `builder` with `credentials`, and
// turns off SO_REUSEPORT, which gRPC sets: a second server on a port already
// taken must fail to start, not share the port at random.
void AddListener(grpc::ServerBuilder* builder, const std::string& address,
                 const ClusterCredentials& credentials, int* port);

// A reactor that ends its stream at once with `status`: what a streaming
// handler returns when Authenticate() refused the call.
template <class Request, class Response>
class RefusedBidiReactor : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedBidiReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};
template <class Response>
class RefusedWriteReactor : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWriteReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace ampmr

#endif  // AMPMR_COMMON_CREDENTIALS_H_
