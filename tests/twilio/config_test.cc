// TwilioConfig::FromEnvironment: credentials, base URLs and tuning from the environment, and
// errors that name the variable that is wrong.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "twilio/twilio_client.h"

using recrules::twilio::TwilioConfig;

namespace {
const std::string kAccount = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
}  // namespace

TEST_CASE("config: FromEnvironment reads credentials and URLs, and names the bad variable") {
  const char* vars[] = {"TWILIO_ACCOUNT_SID",
                        "TWILIO_AUTH_TOKEN",
                        "TWILIO_API_KEY",
                        "TWILIO_API_SECRET",
                        "RECRULES_TWILIO_API_URL",
                        "RECRULES_TWILIO_IAM_URL",
                        "RECRULES_TWILIO_TASKROUTER_URL",
                        "RECRULES_TWILIO_TIMEOUT_MS",
                        "RECRULES_TWILIO_CONNECT_TIMEOUT_MS",
                        "RECRULES_TWILIO_MAX_ATTEMPTS"};
  for (const char* v : vars) ::unsetenv(v);
  auto error = [] {
    auto c = TwilioConfig::FromEnvironment();
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == recrules::StatusCode::kInvalidInput);
    return c.status().message();
  };

  SUBCASE("nothing set: defaults, no credentials") {
    auto c = TwilioConfig::FromEnvironment();
    REQUIRE(c.ok());
    CHECK_FALSE(c->has_credentials());
    CHECK(c->api_url == "https://api.twilio.com");
    CHECK(c->iam_url == "https://iam.twilio.com");
    CHECK(c->taskrouter_url == "https://taskrouter.twilio.com");
    CHECK(c->timeout_ms == 5000);
    CHECK(c->connect_timeout_ms == 2000);
    CHECK(c->max_attempts == 3);
  }
  SUBCASE("account SID and auth token, URLs without trailing slash, tuning") {
    ::setenv("TWILIO_ACCOUNT_SID", kAccount.c_str(), 1);
    ::setenv("TWILIO_AUTH_TOKEN", "secret", 1);
    ::setenv("RECRULES_TWILIO_API_URL", "http://127.0.0.1:9/", 1);
    ::setenv("RECRULES_TWILIO_IAM_URL", "http://127.0.0.1:10", 1);
    ::setenv("RECRULES_TWILIO_TASKROUTER_URL", "https://tr.example", 1);
    ::setenv("RECRULES_TWILIO_TIMEOUT_MS", "750", 1);
    ::setenv("RECRULES_TWILIO_CONNECT_TIMEOUT_MS", "250", 1);
    ::setenv("RECRULES_TWILIO_MAX_ATTEMPTS", "5", 1);
    auto c = TwilioConfig::FromEnvironment();
    REQUIRE(c.ok());
    CHECK(c->has_credentials());
    CHECK(c->account_sid == kAccount);
    CHECK(c->auth_token == "secret");
    CHECK(c->api_url == "http://127.0.0.1:9");
    CHECK(c->iam_url == "http://127.0.0.1:10");
    CHECK(c->taskrouter_url == "https://tr.example");
    CHECK(c->timeout_ms == 750);
    CHECK(c->connect_timeout_ms == 250);
    CHECK(c->max_attempts == 5);
  }
  SUBCASE("API key and secret") {
    ::setenv("TWILIO_ACCOUNT_SID", kAccount.c_str(), 1);
    ::setenv("TWILIO_API_KEY", "SK66666666666666666666666666666666", 1);
    ::setenv("TWILIO_API_SECRET", "s", 1);
    auto c = TwilioConfig::FromEnvironment();
    REQUIRE(c.ok());
    CHECK(c->has_credentials());
  }
  SUBCASE("errors") {
    ::setenv("TWILIO_ACCOUNT_SID", "US123", 1);
    ::setenv("TWILIO_AUTH_TOKEN", "secret", 1);
    CHECK(error() == "TWILIO_ACCOUNT_SID must be 34 characters starting with \"AC\"");
    ::setenv("TWILIO_ACCOUNT_SID", kAccount.c_str(), 1);
    ::unsetenv("TWILIO_AUTH_TOKEN");
    CHECK(error() ==
          "TWILIO_ACCOUNT_SID is set without TWILIO_AUTH_TOKEN or "
          "TWILIO_API_KEY/TWILIO_API_SECRET");
    ::setenv("TWILIO_API_KEY", "SK66666666666666666666666666666666", 1);
    CHECK(error() == "TWILIO_API_KEY is set without TWILIO_API_SECRET");
    ::unsetenv("TWILIO_API_KEY");
    ::setenv("TWILIO_API_SECRET", "s", 1);
    CHECK(error() == "TWILIO_API_SECRET is set without TWILIO_API_KEY");
    ::setenv("TWILIO_API_KEY", "AK66666666666666666666666666666666", 1);
    CHECK(error() == "TWILIO_API_KEY must be 34 characters starting with \"SK\"");
    ::unsetenv("TWILIO_API_KEY");
    ::unsetenv("TWILIO_API_SECRET");
    ::unsetenv("TWILIO_ACCOUNT_SID");
    ::setenv("TWILIO_AUTH_TOKEN", "secret", 1);
    CHECK(error() == "TWILIO_AUTH_TOKEN is set without TWILIO_ACCOUNT_SID");
    ::unsetenv("TWILIO_AUTH_TOKEN");
    ::setenv("RECRULES_TWILIO_API_URL", "api.twilio.com", 1);
    CHECK(error() ==
          "RECRULES_TWILIO_API_URL must start with http:// or https:// (got \"api.twilio.com\")");
    ::unsetenv("RECRULES_TWILIO_API_URL");
    ::setenv("RECRULES_TWILIO_TIMEOUT_MS", "5s", 1);
    CHECK(error() ==
          "RECRULES_TWILIO_TIMEOUT_MS must be a whole number from 1 to 600000 (got \"5s\")");
    ::unsetenv("RECRULES_TWILIO_TIMEOUT_MS");
    ::setenv("RECRULES_TWILIO_MAX_ATTEMPTS", "0", 1);
    CHECK(error() ==
          "RECRULES_TWILIO_MAX_ATTEMPTS must be a whole number from 1 to 10 (got \"0\")");
  }
  for (const char* v : vars) ::unsetenv(v);
}
