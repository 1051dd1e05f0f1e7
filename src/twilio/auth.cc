// Flex token validation with a bounded cache, and Twilio's webhook signature.
#include "twilio/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <list>
#include <mutex>
#include <unordered_map>

namespace recrules::twilio {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2030-01-01T00:00:00Z" (Twilio's ISO 8601 in UTC) -> Unix seconds; 0 when unreadable.
int64_t ParseIsoUtc(const std::string& s) {
  std::tm tm{};
  int fraction_end = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &fraction_end) != 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

// The cache key: a SHA-256 of the token, so the cache does not hold bearer secrets.
std::string TokenKey(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

std::string JsonString(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(std::max(written, 0)));
  return out;
}

// The URL with its default port added when absent, or removed when present: Twilio's own
// validators accept a signature made either way.
std::string ToggleDefaultPort(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  std::string_view scheme = url.substr(0, scheme_end);
  std::string_view port;
  if (scheme == "https")
    port = ":443";
  else if (scheme == "http")
    port = ":80";
  else
    return std::string(url);
  size_t host_start = scheme_end + 3;
  size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string_view::npos) host_end = url.size();
  std::string_view authority = url.substr(host_start, host_end - host_start);
  std::string out(url.substr(0, host_start));
  if (authority.size() >= port.size() && authority.substr(authority.size() - port.size()) == port) {
    out += authority.substr(0, authority.size() - port.size());
  } else if (authority.find(':') == std::string_view::npos) {
    out += authority;
    out += port;
  } else {
    return std::string(url);  // a non-default port: nothing to toggle
  }
  out += url.substr(host_end);
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

// ---- TokenValidator -------------------------------------------------------------------------

namespace {

// A bounded cache of verdicts by token key, least recently used evicted first. Guarded by the
// State's mutex.
struct VerdictCache {
  struct Entry {
    TokenValidator::Check check;
    int64_t expires_at_ms = 0;
    std::list<std::string>::iterator lru;
  };
  size_t max_entries = 0;
  std::unordered_map<std::string, Entry> entries;
  std::list<std::string> lru;  // most recently used first

  bool Lookup(const std::string& key, TokenValidator::Check& out) {
    auto it = entries.find(key);
    if (it == entries.end()) return false;
    if (it->second.expires_at_ms <= NowMs()) {
      lru.erase(it->second.lru);
      entries.erase(it);
      return false;
    }
    lru.splice(lru.begin(), lru, it->second.lru);
    out = it->second.check;
    out.cached = true;
    return true;
  }

  void Store(const std::string& key, const TokenValidator::Check& check, int64_t expires_at_ms) {
    if (max_entries == 0 || expires_at_ms <= NowMs()) return;
    if (auto it = entries.find(key); it != entries.end()) {
      lru.erase(it->second.lru);
      entries.erase(it);
    }
    while (entries.size() >= max_entries && !lru.empty()) {
      entries.erase(lru.back());
      lru.pop_back();
    }
    lru.push_front(key);
    entries.emplace(key, Entry{check, expires_at_ms, lru.begin()});
  }
};

}  // namespace

struct TokenValidator::State {
  TwilioClient* client = nullptr;
  int64_t invalid_ttl_ms = 0;
  size_t max_twilio_checks = 0;
  std::atomic<size_t> twilio_checks{0};  // Twilio asks in progress

  std::mutex mu;  // guards the caches only; never held while Twilio is asked
  // Apart, so that a flood of unknown tokens cannot evict the tokens of signed-in users.
  VerdictCache valid;
  VerdictCache invalid;

  bool Lookup(const std::string& key, Check& out) {
    std::lock_guard<std::mutex> lock(mu);
    return valid.Lookup(key, out) || invalid.Lookup(key, out);
  }
  void Store(const std::string& key, const Check& check, int64_t expires_at_ms) {
    std::lock_guard<std::mutex> lock(mu);
    (check.verdict == Verdict::kValid ? valid : invalid).Store(key, check, expires_at_ms);
  }
};

TokenValidator::TokenValidator(TwilioClient& client, size_t max_entries, int64_t invalid_ttl_ms,
                               size_t max_invalid_entries, size_t max_twilio_checks)
    : state_(std::make_unique<State>()) {
  state_->max_twilio_checks = max_twilio_checks;
  state_->client = &client;
  state_->valid.max_entries = max_entries;
  state_->invalid.max_entries = max_invalid_entries;
  state_->invalid_ttl_ms = invalid_ttl_ms;
}

TokenValidator::~TokenValidator() = default;

TokenValidator::Check TokenValidator::Validate(const std::string& token) {
  Check check;
  if (token.empty()) {
    check.verdict = Verdict::kInvalid;
    check.message = "no token given";
    return check;
  }
  std::string key = TokenKey(token);
  if (state_->Lookup(key, check)) return check;

  if (state_->twilio_checks.fetch_add(1) >= state_->max_twilio_checks) {
    state_->twilio_checks.fetch_sub(1);
    check.verdict = Verdict::kUnavailable;
    check.message = "too many token checks waiting for Twilio (" +
                    std::to_string(state_->max_twilio_checks) + "): retry shortly";
    check.cached = true;  // Twilio was not asked
    return check;
  }
  TwilioResponse r = state_->client->ValidateToken(token);
  state_->twilio_checks.fetch_sub(1);
  bool answered = r.http_status >= 200 && r.http_status < 300 && r.body.is_object();
  if (!answered) {
    // Our own credentials rejected (401/403/404) is as much an outage as a 5xx: the token is
    // not known to be bad, so the caller answers 503 and nothing is cached.
    bool token_rejected = r.http_status == 400;
    if (!token_rejected) {
      check.verdict = Verdict::kUnavailable;
      check.message = "Twilio token validation unavailable: " +
                      (r.error_code ? std::to_string(r.error_code) + " " : std::string()) +
                      r.message;
      return check;
    }
    check.verdict = Verdict::kInvalid;
    check.message = "token rejected by Twilio: " + r.message;
    state_->Store(key, check, NowMs() + state_->invalid_ttl_ms);
    return check;
  }

  auto valid = r.body.find("valid");
  if (valid == r.body.end() || !valid->is_boolean() || !valid->get<bool>()) {
    check.verdict = Verdict::kInvalid;
    std::string why = JsonString(r.body, "message");
    check.message = "token is not valid: " + (why.empty() ? std::string("no reason given") : why);
    state_->Store(key, check, NowMs() + state_->invalid_ttl_ms);
    return check;
  }

  check.verdict = Verdict::kValid;
  check.identity.identity = JsonString(r.body, "realm_user_value");
  if (check.identity.identity.empty()) check.identity.identity = JsonString(r.body, "identity");
  check.identity.worker_sid = JsonString(r.body, "worker_sid");
  if (auto roles = r.body.find("roles"); roles != r.body.end() && roles->is_array()) {
    for (const auto& role : *roles) {
      if (role.is_string()) check.identity.roles.push_back(role.get<std::string>());
    }
  }
  check.identity.expires_at_unix = ParseIsoUtc(JsonString(r.body, "expiration"));
  check.message = "valid";
  // Without a readable expiration the answer is not cached: it cannot be known how long it holds.
  if (check.identity.expires_at_unix > 0) {
    state_->Store(key, check, check.identity.expires_at_unix * 1000);
  }
  return check;
}

// ---- webhook signature ----------------------------------------------------------------------

std::optional<SignatureAlgorithm> SignatureAlgorithmFromSettings(std::string_view header) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  std::string algorithm;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view part = header.substr(pos, comma - pos);
    pos = comma + 1;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos || trim(part.substr(0, eq)) != "algorithm") continue;
    std::string_view value = trim(part.substr(eq + 1));
    if (value.empty()) continue;
    algorithm.assign(value);
    break;  // the first one named counts, as in the library
  }
  for (char& c : algorithm) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (algorithm.empty() || algorithm == "HMAC_SHA1") return SignatureAlgorithm::kHmacSha1;
  if (algorithm == "HMAC_SHA256") return SignatureAlgorithm::kHmacSha256;
  return std::nullopt;
}

std::string ComputeTwilioSignature(std::string_view secret, std::string_view url,
                                   std::vector<std::pair<std::string, std::string>> params,
                                   SignatureAlgorithm algorithm) {
  std::sort(params.begin(), params.end());  // by key, then value for repeated keys
  params.erase(std::unique(params.begin(), params.end()), params.end());
  std::string data(url);
  for (const auto& [key, value] : params) {
    data += key;
    data += value;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(algorithm == SignatureAlgorithm::kHmacSha256 ? EVP_sha256() : EVP_sha1(), secret.data(),
       static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &mac_len);
  return Base64(mac, mac_len);
}

bool ValidTwilioSignature(std::string_view secret, std::string_view url,
                          const std::vector<std::pair<std::string, std::string>>& params,
                          std::string_view signature, SignatureAlgorithm algorithm) {
  if (secret.empty() || signature.empty()) return false;
  bool as_given =
      ConstantTimeEqual(ComputeTwilioSignature(secret, url, params, algorithm), signature);
  bool port_toggled = ConstantTimeEqual(
      ComputeTwilioSignature(secret, ToggleDefaultPort(url), params, algorithm), signature);
  return as_given || port_toggled;
}

}  // namespace recrules::twilio
