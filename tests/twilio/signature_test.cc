// X-Twilio-Signature: known vectors from Twilio's documentation and helper-library tests, a
// round trip, and the ways a signature must fail.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "twilio/auth.h"

using recrules::twilio::ComputeTwilioSignature;
using recrules::twilio::ValidTwilioSignature;
using Params = std::vector<std::pair<std::string, std::string>>;

namespace {

// The example on Twilio's "webhooks security" page (auth token 12345).
const std::string kDocsToken = "12345";
const std::string kDocsUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
const Params kDocsParams = {{"CallSid", "CA1234567890ABCDE"},
                            {"Caller", "+12349013030"},
                            {"Digits", "1234"},
                            {"From", "+12349013030"},
                            {"To", "+18005551212"}};
const std::string kDocsSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

}  // namespace

TEST_CASE("signature: known vectors") {
  SUBCASE("Twilio's documentation example") {
    CHECK(ComputeTwilioSignature(kDocsToken, kDocsUrl, kDocsParams) == kDocsSignature);
  }
  SUBCASE("a voice webhook from twilio-ruby's request validator spec, parameters unsorted") {
    Params p = {{"ToState", "California"},
                {"CalledState", "California"},
                {"Direction", "inbound"},
                {"FromState", "CA"},
                {"AccountSid", "ACba8bc05eacf94afdae398e642c9cc32d"},
                {"Caller", "+14153595711"},
                {"CallerZip", "94108"},
                {"CallerCountry", "US"},
                {"From", "+14153595711"},
                {"FromCity", "SAN FRANCISCO"},
                {"CallerCity", "SAN FRANCISCO"},
                {"To", "+14157669926"},
                {"FromZip", "94108"},
                {"FromCountry", "US"},
                {"ToCity", ""},
                {"CallStatus", "ringing"},
                {"CalledCity", ""},
                {"CallerState", "CA"},
                {"CalledZip", ""},
                {"ToZip", ""},
                {"ToCountry", "US"},
                {"CallSid", "CA136d09cd59a3c0ec8dbff44da5c03f31"},
                {"CalledCountry", "US"},
                {"Called", "+14157669926"},
                {"ApiVersion", "2010-04-01"},
                {"ApplicationSid", "AP44efecad51364e80b133bb7c07eb8204"}};
    std::string sig = ComputeTwilioSignature("2bd9e9638872de601313dc77410d3b23",
                                             "http://twiliotests.heroku.com/validate/voice", p);
    CHECK(sig == "oVb2kXoVy8GEfwBDjR8bk/ZZ6eA=");
    CHECK(ValidTwilioSignature("2bd9e9638872de601313dc77410d3b23",
                               "http://twiliotests.heroku.com/validate/voice", p, sig));
  }
}

TEST_CASE("signature: validation") {
  SUBCASE("round trip, in any parameter order") {
    Params p = {{"TaskSid", "WT1"}, {"EventType", "reservation.accepted"}, {"A", "x y&z"}};
    std::string sig = ComputeTwilioSignature("tok", "https://r.example/v1/taskrouter/events", p);
    Params reordered = {p[2], p[0], p[1]};
    CHECK(ValidTwilioSignature("tok", "https://r.example/v1/taskrouter/events", reordered, sig));
    CHECK(ValidTwilioSignature(kDocsToken, kDocsUrl, kDocsParams, kDocsSignature));
  }
  SUBCASE("a tampered, added or removed parameter fails") {
    Params tampered = kDocsParams;
    tampered[2].second = "1235";
    CHECK_FALSE(ValidTwilioSignature(kDocsToken, kDocsUrl, tampered, kDocsSignature));
    Params added = kDocsParams;
    added.emplace_back("Extra", "");
    CHECK_FALSE(ValidTwilioSignature(kDocsToken, kDocsUrl, added, kDocsSignature));
    Params removed(kDocsParams.begin(), kDocsParams.end() - 1);
    CHECK_FALSE(ValidTwilioSignature(kDocsToken, kDocsUrl, removed, kDocsSignature));
  }
  SUBCASE("a wrong URL fails") {
    CHECK_FALSE(ValidTwilioSignature(kDocsToken, "https://mycompany.com/myapp.php?foo=1&bar=3",
                                     kDocsParams, kDocsSignature));
    CHECK_FALSE(ValidTwilioSignature(kDocsToken, "http://mycompany.com/myapp.php?foo=1&bar=2",
                                     kDocsParams, kDocsSignature));
  }
  SUBCASE("a wrong auth token fails") {
    CHECK_FALSE(ValidTwilioSignature("12346", kDocsUrl, kDocsParams, kDocsSignature));
    CHECK_FALSE(ValidTwilioSignature("", kDocsUrl, kDocsParams, kDocsSignature));
  }
  SUBCASE("an empty, truncated or altered signature fails") {
    CHECK_FALSE(ValidTwilioSignature(kDocsToken, kDocsUrl, kDocsParams, ""));
    CHECK_FALSE(ValidTwilioSignature(kDocsToken, kDocsUrl, kDocsParams,
                                     kDocsSignature.substr(0, kDocsSignature.size() - 1)));
    CHECK_FALSE(
        ValidTwilioSignature(kDocsToken, kDocsUrl, kDocsParams, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="));
  }
  SUBCASE("the default port may be present or absent, as Twilio's validators allow") {
    CHECK(ValidTwilioSignature(kDocsToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                               kDocsParams, kDocsSignature));
    std::string with_port = ComputeTwilioSignature(
        kDocsToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", kDocsParams);
    CHECK(ValidTwilioSignature(kDocsToken, kDocsUrl, kDocsParams, with_port));
    CHECK_FALSE(ValidTwilioSignature(kDocsToken, "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                                     kDocsParams, kDocsSignature));
  }
  SUBCASE("repeated keys sort by value too") {
    Params a = {{"Tag", "b"}, {"Tag", "a"}};
    Params b = {{"Tag", "a"}, {"Tag", "b"}};
    CHECK(ComputeTwilioSignature("t", "https://x/", a) ==
          ComputeTwilioSignature("t", "https://x/", b));
  }
}

// Issue 18: vectors printed by the `twilio` npm package's webhooks module (6.x),
// getExpectedTwilioSignature(secret, url, params, algorithm), params
// {EventType, TaskSid, Tag: ['b', 'a', 'b']} (a form field sent three times).
TEST_CASE("signature: SharedKey webhooks and repeated fields, as the twilio library signs them") {
  using recrules::twilio::SignatureAlgorithm;
  using recrules::twilio::SignatureAlgorithmFromSettings;
  const std::string url = "https://recrules.example.com/v1/taskrouter/events?source=tr";
  const Params form = {{"EventType", "task.created"},
                       {"Tag", "b"},
                       {"TaskSid", "WT0123456789abcdef0123456789abcdef"},
                       {"Tag", "a"},
                       {"Tag", "b"}};
  SUBCASE("HMAC-SHA256 with the SharedKey secret") {
    CHECK(ComputeTwilioSignature("shared-key-secret", url, form, SignatureAlgorithm::kHmacSha256) ==
          "nL7E6ObEM7KZS0gdewi6dyCIu+507oXSZfti9VzAgZc=");
    CHECK(ValidTwilioSignature(
        "shared-key-secret", url, form,
        "nL7E6ObEM7KZS0gdewi6dyCIu+507oXSZfti9VzAgZc=", SignatureAlgorithm::kHmacSha256));
    // The same signature checked as HMAC-SHA1 fails.
    CHECK_FALSE(ValidTwilioSignature("shared-key-secret", url, form,
                                     "nL7E6ObEM7KZS0gdewi6dyCIu+507oXSZfti9VzAgZc="));
  }
  SUBCASE("HMAC-SHA1: a repeated identical field counts once") {
    CHECK(ComputeTwilioSignature("shared-key-secret", url, form) == "06QUKzxquRY6nEcYPiP1U9esZ+k=");
    CHECK(ComputeTwilioSignature("fake-auth-token", url, form) == "HrQaBxv80fwYC4B+vG7Vm8iAnz4=");
  }
  SUBCASE("the algorithm named in X-Twilio-Webhooks-Signature-Settings") {
    CHECK(SignatureAlgorithmFromSettings("key=webhooks_sharedkey_1, algorithm = HMAC_SHA256") ==
          SignatureAlgorithm::kHmacSha256);
    CHECK(SignatureAlgorithmFromSettings("algorithm=hmac_sha256") ==
          SignatureAlgorithm::kHmacSha256);
    CHECK(SignatureAlgorithmFromSettings("") == SignatureAlgorithm::kHmacSha1);
    CHECK(SignatureAlgorithmFromSettings("key=x") == SignatureAlgorithm::kHmacSha1);
    CHECK(SignatureAlgorithmFromSettings("key=x,algorithm=HMAC_SHA1") ==
          SignatureAlgorithm::kHmacSha1);
    CHECK_FALSE(SignatureAlgorithmFromSettings("key=x,algorithm=HMAC_SHA512"));
  }
}
