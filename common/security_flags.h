// SecurityOptions: the flags every binary takes to join a cluster securely
// (--token-file, --tls-ca; servers also --tls-cert, --tls-key, --insecure),
// declared the same way, with the same help, on every command line.
#ifndef AMPMR_COMMON_SECURITY_FLAGS_H_
#define AMPMR_COMMON_SECURITY_FLAGS_H_

#include <string>

#include "common/cli_flags.h"

namespace ampmr {

struct SecurityOptions {
  // The file holding the cluster token; empty: none.
  std::string token_file;
  // PEM certificate chain and private key this process serves TLS with;
  // both or neither (master; a worker's shuffle server).
  std::string tls_cert;
  std::string tls_key;
  // PEM CA certificates that servers this process dials must chain to;
  // empty: dial without TLS.
  std::string tls_ca;
  // The network is trusted: a server may listen on a non-loopback address
  // without a token.
  bool insecure = false;
};

// Which flags a program declares.
enum class SecurityRole {
  kClient,  // --token-file, --tls-ca
  kServer,  // and --tls-cert, --tls-key, --insecure
};

// Declares the flags of `role` into *options. --token-file defaults to
// $AMPMR_TOKEN_FILE, read here.
void AddSecurityFlags(FlagSet* flags, SecurityOptions* options, SecurityRole role);

}  // namespace ampmr

#endif  // AMPMR_COMMON_SECURITY_FLAGS_H_
