// Who may call `recrules serve`: static bearer tokens for services, Flex user tokens for the
// Flex UI, the X-Twilio-Signature for TaskRouter callbacks, and the CORS origins of the Flex UI.
// Immutable after construction; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "recrules/status.h"

namespace recrules::server {

struct AccessConfig {
  std::vector<std::string> api_tokens;  // RECRULES_API_TOKENS, comma-separated
  bool flex_tokens = false;             // Twilio credentials are set: validate Flex tokens
  bool twilio_signatures = false;       // an auth token is set: check X-Twilio-Signature
  std::vector<std::string> cors_origins = {"https://flex.twilio.com"};  // "*": any origin

  // No way to authenticate anyone: every route is open.
  bool open() const { return api_tokens.empty() && !flex_tokens; }
};

// The tokens of RECRULES_API_TOKENS: "a,b , c" -> a, b, c (blanks around an item are not part of
// it). A value with no token, or with an empty item ("a,,b", "a,"), is an error naming the item:
// the operator meant to set tokens, and dropping the empty ones silently could leave none, and
// every route open.
Result<std::vector<std::string>> ParseApiTokens(std::string_view text);

// True when `host` is a loopback address (127.0.0.0/8, ::1) or "localhost".
bool IsLoopbackHost(std::string_view host);

// The start-up rule: open access is allowed on loopback only. The error says what to set.
Status CheckAccessForListen(const AccessConfig& access, std::string_view host);

// The token of "Authorization: Bearer <token>", empty when there is none.
std::string_view BearerToken(std::string_view authorization_header);

// Constant-time comparison against every static token.
bool IsApiToken(const AccessConfig& access, std::string_view token);

// The value for Access-Control-Allow-Origin, empty when `origin` is not allowed.
std::string AllowedOrigin(const AccessConfig& access, std::string_view origin);

}  // namespace recrules::server
