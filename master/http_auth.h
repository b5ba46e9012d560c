// HttpAuth: the status page's door. With a cluster token, every route of the
// master's HTTP server needs it: an `Authorization: Bearer TOKEN` header
// (Prometheus: `authorization: {credentials_file: ...}`), or the cookie a
// browser gets from logging in once at /login with the token. The cookie
// holds an HMAC of the token, never the token itself. Without a token
// (loopback or --insecure) everything is open.
//
// Thread-safe: constant after construction; handlers run on the HTTP
// server's threads.
#ifndef AMPMR_MASTER_HTTP_AUTH_H_
#define AMPMR_MASTER_HTTP_AUTH_H_

#include <string>

#include "common/auth.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace ampmr::master {

class HttpAuth {
 public:
  // `authenticator` must outlive this.
  explicit HttpAuth(const TokenAuthenticator* authenticator);

  // Serves GET and POST /login on `server` and makes every other route
  // answer 401 (with the login form) to a request without the token.
  void Install(httplib::Server* server) const;

  // Whether `request` carries the token (header or cookie).
  bool Allowed(const httplib::Request& request) const;

 private:
  void ServeLogin(const httplib::Request& request, httplib::Response& response) const;

  const TokenAuthenticator* const authenticator_;
  const std::string cookie_value_;  // "" without a token
};

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_HTTP_AUTH_H_
