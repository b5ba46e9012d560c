#include "common/security_flags.h"

#include <stdlib.h>

namespace ampmr {

void AddSecurityFlags(FlagSet* flags, SecurityOptions* options, SecurityRole role) {
  if (const char* env = getenv("AMPMR_TOKEN_FILE"); env != nullptr && env[0] != '\0') {
    options->token_file = env;
  }
  flags
      ->String("token-file", &options->token_file, "FILE",
               "the cluster token (a secret in a file readable by its owner only); sent on "
               "every call, and required of every caller when serving")
      .DefaultText("$AMPMR_TOKEN_FILE, else none");
  flags
      ->String("tls-ca", &options->tls_ca, "FILE",
               "PEM CA certificates: dial servers over TLS and require their certificates "
               "to chain to these")
      .DefaultText("none: plain TCP");
  if (role == SecurityRole::kClient) return;
  flags
      ->String("tls-cert", &options->tls_cert, "FILE",
               "PEM certificate chain to serve TLS with (with --tls-key)")
      .DefaultText("none: plain TCP");
  flags->String("tls-key", &options->tls_key, "FILE", "PEM private key of --tls-cert")
      .DefaultText("none");
  flags->Bool("insecure", &options->insecure,
              "the network is trusted: allow listening on a non-loopback address without "
              "--token-file");
}

}  // namespace ampmr
