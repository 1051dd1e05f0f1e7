// Authentication of callers: Flex user tokens (validated through Twilio, cached until they
// expire) and X-Twilio-Signature on webhooks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "twilio/twilio_client.h"

namespace recrules::twilio {

struct FlexIdentity {
  std::string identity;    // the Flex user (realm_user_value or identity)
  std::string worker_sid;  // WK..., when Twilio says
  std::vector<std::string> roles;
  int64_t expires_at_unix = 0;
};

// Validates Flex user tokens through TwilioClient::ValidateToken. Valid answers are cached until
// the token expires (at most max_entries); invalid ones for invalid_ttl_ms (at most
// max_invalid_entries, apart from the valid ones, so that a flood of unknown tokens cannot evict
// a signed-in user's), so a bad token sent again does not reach Twilio. At most
// max_twilio_checks tokens are asked about at once; past that Validate answers kUnavailable at
// once, so a flood of made-up tokens while Twilio is slow holds no more threads than that, and
// cached tokens are still answered. Thread-safe.
class TokenValidator {
 public:
  enum class Verdict {
    kValid,
    kInvalid,      // Twilio said the token is not valid (or it expired): answer 403
    kUnavailable,  // Twilio could not be asked (timeout, 5xx): answer 503, do not cache
  };
  struct Check {
    Verdict verdict = Verdict::kInvalid;
    FlexIdentity identity;
    std::string message;  // why, in words, for the log and the response
    bool cached = false;  // answered without asking Twilio: from the cache, or refused as busy
  };

  static constexpr size_t kMaxTwilioChecks = 8;
  explicit TokenValidator(TwilioClient& client, size_t max_entries = 10000,
                          int64_t invalid_ttl_ms = 30000, size_t max_invalid_entries = 10000,
                          size_t max_twilio_checks = kMaxTwilioChecks);
  ~TokenValidator();
  Check Validate(const std::string& token);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Twilio's webhook signature: Base64(HMAC(secret, url + each form parameter's key and value,
// keys sorted)), as the `twilio` library's webhooks module computes it: a key sent several
// times with the same value counts once (the library de-duplicates a repeated field's values,
// then sorts them). The secret is the auth token, or a SharedKey's secret when Twilio signed
// with one (it then sends X-Twilio-Webhooks-Signature-Settings: key=...,algorithm=...).
// Validation compares in constant time, with the URL as given and with its default port
// toggled.
enum class SignatureAlgorithm { kHmacSha1, kHmacSha256 };
// The algorithm named in X-Twilio-Webhooks-Signature-Settings (`algorithm=HMAC_SHA256`, any
// case); HMAC-SHA1 when the header or its algorithm is absent; nullopt when it names another.
std::optional<SignatureAlgorithm> SignatureAlgorithmFromSettings(std::string_view header);
std::string ComputeTwilioSignature(std::string_view secret, std::string_view url,
                                   std::vector<std::pair<std::string, std::string>> params,
                                   SignatureAlgorithm algorithm = SignatureAlgorithm::kHmacSha1);
bool ValidTwilioSignature(std::string_view secret, std::string_view url,
                          const std::vector<std::pair<std::string, std::string>>& params,
                          std::string_view signature,
                          SignatureAlgorithm algorithm = SignatureAlgorithm::kHmacSha1);

}  // namespace recrules::twilio
