#include "master/http_auth.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ampmr::master {
namespace {

constexpr char kCookie[] = "ampmr_session";

std::string SessionCookieValue(const std::string& token) {
  if (token.empty()) return "";
  static constexpr char kPurpose[] = "ampmr status page session v1";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
       reinterpret_cast<const unsigned char*>(kPurpose), sizeof(kPurpose) - 1, mac, &length);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), length));
}

// The value of cookie `name` in a Cookie header, or "".
absl::string_view CookieValue(absl::string_view header, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) return part;
  }
  return "";
}

std::string LoginPage(absl::string_view note) {
  return absl::StrCat(
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>ampmr master: log in</title>"
      "</head><body style=\"font-family:sans-serif\"><h1>ampmr master</h1>",
      note.empty() ? "" : absl::StrCat("<p><b>", note, "</b></p>"),
      "<p>This page needs the cluster token (the contents of the master's --token-file).</p>"
      "<form method=\"post\" action=\"/login\"><input type=\"password\" name=\"token\" "
      "size=\"70\" autofocus> <input type=\"submit\" value=\"Log in\"></form></body></html>\n");
}

}  // namespace

HttpAuth::HttpAuth(const TokenAuthenticator* authenticator)
    : authenticator_(authenticator), cookie_value_(SessionCookieValue(authenticator->token())) {}

bool HttpAuth::Allowed(const httplib::Request& request) const {
  if (!authenticator_->enabled()) return true;
  const std::string cookies = request.get_header_value("Cookie");
  const absl::string_view cookie = CookieValue(cookies, kCookie);
  if (!cookie.empty() && TokensEqual(cookie, cookie_value_)) return true;
  const std::string peer = absl::StrCat("http:", request.remote_addr, ":", request.remote_port);
  return authenticator_
      ->Authenticate(request.get_header_value("Authorization"), peer,
                     absl::StrCat("HTTP ", request.path))
      .ok();
}

void HttpAuth::ServeLogin(const httplib::Request& request, httplib::Response& response) const {
  if (request.method != "POST") {
    response.set_content(LoginPage(""), "text/html; charset=utf-8");
    return;
  }
  const std::string token = request.get_param_value("token");
  if (!authenticator_->Matches(std::string(absl::StripAsciiWhitespace(token)))) {
    response.status = 401;
    response.set_content(LoginPage("That is not the cluster token."), "text/html; charset=utf-8");
    return;
  }
  response.set_header("Set-Cookie", absl::StrCat(kCookie, "=", cookie_value_,
                                                 "; Path=/; HttpOnly; SameSite=Strict"));
  response.set_redirect("/", 303);
}

void HttpAuth::Install(httplib::Server* server) const {
  server->Get("/login", [this](const httplib::Request& req, httplib::Response& res) {
    ServeLogin(req, res);
  });
  server->Post("/login", [this](const httplib::Request& req, httplib::Response& res) {
    ServeLogin(req, res);
  });
  server->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/login" || Allowed(req)) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer realm=\"ampmr\"");
    res.set_content(LoginPage(""), "text/html; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
}

}  // namespace ampmr::master
