// TokenValidator against the fake Twilio: verdicts, what is cached and for how long, eviction,
// and Twilio being unavailable (never cached).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <vector>

#include "fake_twilio/fake_twilio.h"
#include "twilio/auth.h"

using recrules::testing::ConfigFor;
using recrules::testing::FakeRetries;
using recrules::testing::FakeTwilio;
using recrules::twilio::TokenValidator;
using recrules::twilio::TwilioClient;
using recrules::twilio::TwilioConfig;
using Verdict = TokenValidator::Verdict;

namespace {

const std::string kScript = RECRULES_SOURCE_DIR "/tests/fake_twilio/fake_twilio.js";

// Fewer, shorter retries than the client tests, which test the retry policy itself.
constexpr FakeRetries kValidatorRetries{
    .max_attempts = 2, .backoff_base_ms = 10, .backoff_max_ms = 50};

std::string IsoUtc(std::time_t t) {
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

size_t Validations(const FakeTwilio& fake) {
  return fake.RequestsTo("/Tokens/validate").size();
}

}  // namespace

TEST_CASE("tokens: valid, invalid and expired verdicts, and the cache") {
  FakeTwilio fake(kScript);
  TwilioClient client(ConfigFor(fake, kValidatorRetries));
  fake.Seed({{"tokens",
              {{"good",
                {{"identity", "alice"},
                 {"worker_sid", "WK99999999999999999999999999999999"},
                 {"roles", {"agent", "supervisor"}},
                 {"expiration", "2099-01-01T00:00:00Z"}}},
               {"bad", {{"valid", false}}},
               {"old", {{"identity", "bob"}, {"expiration", "2020-01-01T00:00:00Z"}}}}}});

  SUBCASE("valid: identity, worker, roles, expiry; the second check is cached") {
    TokenValidator validator(client);
    auto first = validator.Validate("good");
    CHECK(first.verdict == Verdict::kValid);
    CHECK(first.identity.identity == "alice");
    CHECK(first.identity.worker_sid == "WK99999999999999999999999999999999");
    CHECK(first.identity.roles == std::vector<std::string>{"agent", "supervisor"});
    CHECK(first.identity.expires_at_unix == 4070908800);
    CHECK(first.message == "valid");
    CHECK_FALSE(first.cached);
    auto second = validator.Validate("good");
    CHECK(second.verdict == Verdict::kValid);
    CHECK(second.identity.identity == "alice");
    CHECK(second.cached);
    CHECK(Validations(fake) == 1);
  }
  SUBCASE("invalid: Twilio's reason; cached for invalid_ttl_ms, then asked again") {
    TokenValidator validator(client, 100, /*invalid_ttl_ms=*/300);
    auto first = validator.Validate("bad");
    CHECK(first.verdict == Verdict::kInvalid);
    CHECK(first.message == "token is not valid: Invalid Access Token");
    CHECK_FALSE(first.cached);
    auto second = validator.Validate("bad");
    CHECK(second.verdict == Verdict::kInvalid);
    CHECK(second.cached);
    CHECK(Validations(fake) == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    CHECK_FALSE(validator.Validate("bad").cached);
    CHECK(Validations(fake) == 2);
  }
  SUBCASE("unknown token is invalid") {
    TokenValidator validator(client);
    auto c = validator.Validate("never-seen");
    CHECK(c.verdict == Verdict::kInvalid);
    CHECK(c.message == "token is not valid: Invalid Access Token");
  }
  SUBCASE("expired") {
    TokenValidator validator(client);
    auto c = validator.Validate("old");
    CHECK(c.verdict == Verdict::kInvalid);
    CHECK(c.message == "token is not valid: Access Token expired or expiration date invalid");
  }
  SUBCASE("a valid token is cached only until it expires") {
    std::time_t soon = std::time(nullptr) + 2;
    fake.Seed({{"tokens", {{"short", {{"identity", "carol"}, {"expiration", IsoUtc(soon)}}}}}});
    TokenValidator validator(client);
    CHECK(validator.Validate("short").verdict == Verdict::kValid);
    CHECK(validator.Validate("short").cached);
    while (std::time(nullptr) <= soon) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto later = validator.Validate("short");
    CHECK(later.verdict == Verdict::kInvalid);
    CHECK_FALSE(later.cached);
    CHECK(Validations(fake) == 2);
  }
  SUBCASE("empty token: invalid without asking Twilio") {
    TokenValidator validator(client);
    auto c = validator.Validate("");
    CHECK(c.verdict == Verdict::kInvalid);
    CHECK(c.message == "no token given");
    CHECK(Validations(fake) == 0);
  }
  SUBCASE("the cache is bounded: the least recently used token is evicted") {
    fake.Seed({{"tokens",
                {{"t1", {{"identity", "1"}}},
                 {"t2", {{"identity", "2"}}},
                 {"t3", {{"identity", "3"}}}}}});
    TokenValidator validator(client, /*max_entries=*/2);
    validator.Validate("t1");
    validator.Validate("t2");
    CHECK(validator.Validate("t1").cached);  // t1 is now the most recently used
    validator.Validate("t3");                // evicts t2
    CHECK(validator.Validate("t1").cached);
    CHECK(validator.Validate("t3").cached);
    CHECK_FALSE(validator.Validate("t2").cached);
    CHECK(Validations(fake) == 4);
  }
  SUBCASE("issue 23: unknown tokens do not evict a valid one; they have a bound of their own") {
    TokenValidator validator(client, /*max_entries=*/2, /*invalid_ttl_ms=*/60000,
                             /*max_invalid_entries=*/3);
    CHECK(validator.Validate("good").verdict == Verdict::kValid);
    for (int i = 0; i < 5; ++i) validator.Validate("random-" + std::to_string(i));
    CHECK(validator.Validate("good").cached);
    CHECK(validator.Validate("random-4").cached);
    CHECK_FALSE(validator.Validate("random-0").cached);  // evicted: three invalid kept
    CHECK(Validations(fake) == 7);
  }
}

TEST_CASE("tokens: Twilio unavailable is never cached") {
  FakeTwilio fake(kScript);
  TwilioClient client(ConfigFor(fake, kValidatorRetries));
  fake.Seed({{"tokens", {{"good", {{"identity", "alice"}}}}}});
  TokenValidator validator(client);

  SUBCASE("503 on every attempt, then Twilio recovers") {
    fake.Fault({{"path", "/Tokens/validate"}, {"status", 503}, {"count", 2}});
    auto down = validator.Validate("good");
    CHECK(down.verdict == Verdict::kUnavailable);
    CHECK(down.message ==
          "Twilio token validation unavailable: 20503 Service Unavailable (after 2 attempts)");
    auto up = validator.Validate("good");
    CHECK(up.verdict == Verdict::kValid);
    CHECK_FALSE(up.cached);
    CHECK(Validations(fake) == 3);
  }
  SUBCASE("Twilio down (the fake stopped)") {
    fake.Stop();
    auto c = validator.Validate("good");
    CHECK(c.verdict == Verdict::kUnavailable);
    CHECK_MESSAGE(c.message.rfind(
                      "Twilio token validation unavailable: could not connect to Twilio: ", 0) == 0,
                  c.message);
    CHECK(validator.Validate("good").verdict == Verdict::kUnavailable);  // asked again
  }
  SUBCASE("malformed answer") {
    fake.Fault({{"path", "/Tokens/validate"}, {"malformed", true}});
    auto c = validator.Validate("good");
    CHECK(c.verdict == Verdict::kUnavailable);
    CHECK(c.message ==
          "Twilio token validation unavailable: Twilio answered HTTP 200 with a body "
          "that is not JSON");
    CHECK(validator.Validate("good").verdict == Verdict::kValid);
  }
  SUBCASE("our own credentials rejected: unavailable, not the token's fault") {
    TwilioConfig config = ConfigFor(fake, kValidatorRetries);
    config.auth_token = "wrong";
    TwilioClient wrong(config);
    TokenValidator wrong_validator(wrong);
    auto c = wrong_validator.Validate("good");
    CHECK(c.verdict == Verdict::kUnavailable);
    CHECK(c.message == "Twilio token validation unavailable: 20003 Authenticate");
  }
}

TEST_CASE("tokens: issue 23 — at most max_twilio_checks ask Twilio at once") {
  FakeTwilio fake(kScript);
  TwilioClient client(ConfigFor(fake, kValidatorRetries));
  fake.Seed({{"tokens", {{"good", {{"identity", "alice"}}}}}});
  TokenValidator validator(client, 100, 60000, 100, /*max_twilio_checks=*/2);
  REQUIRE(validator.Validate("good").verdict == Verdict::kValid);
  fake.Fault({{"path", "/Tokens/validate"}, {"delay_ms", 600}, {"count", 10}});
  std::vector<TokenValidator::Check> checks(2);
  std::vector<std::thread> slow;
  for (size_t i = 0; i < checks.size(); ++i) {
    slow.emplace_back([&, i] { checks[i] = validator.Validate("made-up-" + std::to_string(i)); });
  }
  // Both slow checks are waiting for Twilio: a third is refused at once, a cached one answered.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Validations(fake) < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(Validations(fake) == 3);
  auto start = std::chrono::steady_clock::now();
  auto busy = validator.Validate("made-up-2");
  CHECK(busy.verdict == Verdict::kUnavailable);
  CHECK(busy.message == "too many token checks waiting for Twilio (2): retry shortly");
  CHECK(validator.Validate("good").verdict == Verdict::kValid);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300));
  for (auto& t : slow) t.join();
  for (const auto& c : checks) CHECK(c.verdict == Verdict::kInvalid);
  // Once they are answered, Twilio is asked again.
  CHECK(validator.Validate("made-up-2").verdict == Verdict::kInvalid);
  CHECK(Validations(fake) == 4);
}

TEST_CASE("tokens: many threads share one validator") {
  FakeTwilio fake(kScript);
  TwilioClient client(ConfigFor(fake, kValidatorRetries));
  fake.Seed({{"tokens", {{"a", {{"identity", "a"}}}, {"b", {{"identity", "b"}}}}}});
  TokenValidator validator(client, /*max_entries=*/2, /*invalid_ttl_ms=*/5000);
  const char* tokens[] = {"a", "b", "nope"};  // three tokens, two slots: evictions under load
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        std::string token = tokens[(t + i) % 3];
        auto c = validator.Validate(token);
        Verdict want = token == "nope" ? Verdict::kInvalid : Verdict::kValid;
        if (c.verdict != want || (want == Verdict::kValid && c.identity.identity != token)) {
          wrong++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  CHECK(Validations(fake) < 240);  // the cache answered some
}
