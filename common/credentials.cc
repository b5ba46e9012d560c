#include "common/credentials.h"

#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/amp/grpc_status.h"
#include "common/status_macros.h"

namespace ampmr {
namespace {

// Certificates and keys are small; anything bigger is not one.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": ", strerror(errno)));
  }
  std::string text(static_cast<size_t>(kMaxPemBytes) + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": larger than ", kMaxPemBytes, " bytes"));
  }
  return text;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<X509, X509Deleter> FirstCertificate(const std::string& pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return std::unique_ptr<X509, X509Deleter>(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::unique_ptr<EVP_PKEY, KeyDeleter> PrivateKey(const std::string& pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return std::unique_ptr<EVP_PKEY, KeyDeleter>(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// Sends the token as `authorization: Bearer ...` on every call it is applied to.
class BearerTokenPlugin : public grpc::MetadataCredentialsPlugin {
 public:
  explicit BearerTokenPlugin(const std::string& token) : value_(absl::StrCat("Bearer ", token)) {}
  bool IsBlocking() const override { return false; }
  const char* GetType() const override { return "ampmr-token"; }
  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<grpc::string, grpc::string>* metadata) override {
    metadata->emplace("authorization", value_);
    return grpc::Status::OK;
  }

 private:
  const std::string value_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const ClusterCredentials>> ClusterCredentials::Load(
    const SecurityOptions& options) {
  std::string token;
  if (!options.token_file.empty()) {
    AMPMR_ASSIGN_OR_RETURN(token, ReadTokenFile(options.token_file, "--token-file"));
  }
  std::shared_ptr<ClusterCredentials> credentials(new ClusterCredentials(token, options.insecure));
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError(options.tls_cert.empty() ? "--tls-key: needs --tls-cert too"
                                                               : "--tls-cert: needs --tls-key too");
  }
  if (!options.tls_cert.empty()) {
    AMPMR_ASSIGN_OR_RETURN(credentials->cert_pem_, ReadPem("--tls-cert", options.tls_cert));
    AMPMR_ASSIGN_OR_RETURN(credentials->key_pem_, ReadPem("--tls-key", options.tls_key));
    auto cert = FirstCertificate(credentials->cert_pem_);
    if (cert == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-cert ", options.tls_cert, ": holds no PEM certificate"));
    }
    auto key = PrivateKey(credentials->key_pem_);
    if (key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls-key ", options.tls_key, ": holds no PEM private key (or it is encrypted)"));
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls-key ", options.tls_key, " is not the key of --tls-cert ", options.tls_cert));
    }
  }
  if (!options.tls_ca.empty()) {
    AMPMR_ASSIGN_OR_RETURN(credentials->ca_pem_, ReadPem("--tls-ca", options.tls_ca));
    credentials->ca_file_ = options.tls_ca;
    if (FirstCertificate(credentials->ca_pem_) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-ca ", options.tls_ca, ": holds no PEM certificate"));
    }
  }
  if (!token.empty()) {
    // The token goes over plain TCP too when the network is trusted to carry
    // it (no --tls-ca); gRPC would otherwise send call credentials over TLS only.
    credentials->call_credentials_ = grpc::experimental::MetadataCredentialsFromPlugin(
        std::make_unique<BearerTokenPlugin>(token), GRPC_SECURITY_NONE);
  }
  return std::shared_ptr<const ClusterCredentials>(std::move(credentials));
}

std::shared_ptr<const ClusterCredentials> ClusterCredentials::None() {
  return std::shared_ptr<const ClusterCredentials>(new ClusterCredentials("", false));
}

absl::Status ClusterCredentials::CheckListen(absl::string_view address,
                                             absl::string_view flag) const {
  if (has_token() || insecure_ || IsLoopbackHost(HostOf(address))) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " ", address,
                   ": not a loopback address, and without a token anyone who can reach it can run "
                   "commands on the workers; give --token-file FILE (or set AMPMR_TOKEN_FILE), or "
                   "--insecure if the network is trusted"));
}

std::shared_ptr<grpc::ServerCredentials> ClusterCredentials::ServerCredentials() const {
  if (!serves_tls()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({key_pem_, cert_pem_});
  return grpc::SslServerCredentials(options);
}

grpc::Status ClusterCredentials::Authenticate(const grpc::ServerContextBase& context,
                                              absl::string_view method) const {
  if (!has_token()) return grpc::Status::OK;
  absl::string_view presented;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    presented = absl::string_view(it->second.data(), it->second.size());
  }
  absl::Status status = authenticator_.Authenticate(presented, context.peer(), method);
  return amp::ToGrpcStatus(status);
}

std::shared_ptr<grpc::ChannelCredentials> ClusterCredentials::ChannelCredentials() const {
  if (!dials_tls()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_pem_;
  return grpc::SslCredentials(options);
}

void ClusterCredentials::Apply(grpc::ClientContext* context) const {
  if (call_credentials_ != nullptr) context->set_credentials(call_credentials_);
}

std::string ClusterCredentials::ExplainConnectFailure(absl::string_view message) const {
  if (absl::StrContains(message, "certificate verify failed")) {
    return absl::StrCat("TLS: its certificate is not signed by a CA in --tls-ca ", ca_file_, " (",
                        message, ")");
  }
  if (absl::StrContains(message, "Peer name") || absl::StrContains(message, "peer name")) {
    return absl::StrCat("TLS: its certificate is not for the host dialled (", message, ")");
  }
  if (dials_tls() && absl::StrContains(message, "wrong version number")) {
    return absl::StrCat("TLS: it does not speak TLS; without --tls-ca ampmr dials plain TCP (",
                        message, ")");
  }
  if (!dials_tls() && absl::StrContains(message, "Socket closed")) {
    return absl::StrCat(message, "; if it serves TLS, give --tls-ca FILE");
  }
  return std::string(message);
}

void AddListener(grpc::ServerBuilder* builder, const std::string& address,
                 const ClusterCredentials& credentials, int* port) {
  builder->AddListeningPort(address, credentials.ServerCredentials(), port);
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

}  // namespace ampmr
