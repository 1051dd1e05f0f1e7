#include "server/access.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace recrules::server {

Result<std::vector<std::string>> ParseApiTokens(std::string_view text) {
  std::vector<std::string> out;
  size_t items = 1 + size_t(std::count(text.begin(), text.end(), ','));
  size_t pos = 0;
  for (size_t n = 1; n <= items; ++n) {
    size_t comma = std::min(text.find(',', pos), text.size());
    std::string_view item = text.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.empty() && items == 1) {
      return Status::InvalidInput(
          "RECRULES_API_TOKENS is set but holds no token: list tokens separated by commas, or "
          "unset it");
    }
    if (item.empty()) {
      return Status::InvalidInput("RECRULES_API_TOKENS: item " + std::to_string(n) + " of " +
                                  std::to_string(items) +
                                  " is empty (two commas in a row, or a comma at an end)");
    }
    out.emplace_back(item);
    pos = comma + 1;
  }
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

Status CheckAccessForListen(const AccessConfig& access, std::string_view host) {
  if (!access.open() || IsLoopbackHost(host)) return Status::Ok();
  return Status::InvalidInput(
      "refusing to listen on " + std::string(host) +
      " without authentication: set TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN (Flex user tokens) "
      "or RECRULES_API_TOKENS (static bearer tokens), or listen on a loopback address");
}

std::string_view BearerToken(std::string_view header) {
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size()) return {};
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) return {};
  }
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

namespace {

// The length of a token is not the secret; its bytes are.
bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

bool IsApiToken(const AccessConfig& access, std::string_view token) {
  if (token.empty()) return false;
  bool found = false;
  for (const std::string& t : access.api_tokens) found |= ConstantTimeEqual(t, token);
  return found;
}

std::string AllowedOrigin(const AccessConfig& access, std::string_view origin) {
  if (origin.empty()) return {};
  for (const std::string& o : access.cors_origins) {
    if (o == "*") return "*";
    if (o == origin) return std::string(origin);
  }
  return {};
}

}  // namespace recrules::server
