// PolicyInfo and ReloadResult as JSON: the one shape GET /v1/policy and recrules_policy_info
// both answer with (RFC 3339 and unix-millisecond times side by side, so neither client breaks).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "engine_fixture.h"
#include "recrules/engine.h"

using recrules::PolicyInfo;
using recrules::ReloadResult;
using recrules::testing::PolicyFixture;

TEST_CASE("PolicyInfo::ToJson: every field, in order, with both time forms") {
  PolicyInfo info;
  info.version = "05e49984592c";
  info.path = "policy/policy.json";
  info.rules = {"builtin:exclusions", "rules/consent.lua"};
  info.default_action = "record";
  info.on_rule_error = "next";
  info.mode = "conference";
  info.loaded_at_unix_ms = 1700000000123;

  SUBCASE("never reloaded: lastReload is null") {
    CHECK(info.ToJson() ==
          R"({"version":"05e49984592c","path":"policy/policy.json",)"
          R"("rules":["builtin:exclusions","rules/consent.lua"],"default":"record",)"
          R"("onRuleError":"next","mode":"conference","warnings":[],)"
          R"("loadedAt":"2023-11-14T22:13:20.123Z","loadedAtUnixMs":1700000000123,)"
          R"("lastReload":null})");
  }
  SUBCASE("a failed reload: its error, and text that needs escaping stays valid JSON") {
    ReloadResult r;
    r.ok = false;
    r.trigger = "api";
    r.version = r.previous_version = "05e49984592c";
    r.error = "policy.json:3: expected \"}\"\n\xff";
    r.at_unix_ms = 1700000001005;
    r.duration_us = 155;
    info.warnings = {"dual \"channel\""};
    info.last_reload = r;
    std::string text = info.ToJson();
    CHECK(text.find(R"("warnings":["dual \"channel\""])") != std::string::npos);
    CHECK(text.find(R"("lastReload":{"ok":false,"trigger":"api","version":"05e49984592c",)"
                    R"("previousVersion":"05e49984592c",)"
                    R"("error":"policy.json:3: expected \"}\"\n\ufffd",)"
                    R"("at":"2023-11-14T22:13:21.005Z","atUnixMs":1700000001005,)"
                    R"("durationUs":155}})") != std::string::npos);
    CHECK(nlohmann::json::parse(text)["lastReload"]["error"] ==
          "policy.json:3: expected \"}\"\n\xef\xbf\xbd");
  }
  SUBCASE("a successful reload: error is null") {
    ReloadResult r;
    r.ok = true;
    r.trigger = "watch";
    r.at_unix_ms = 0;
    CHECK(r.ToJson() ==
          R"({"ok":true,"trigger":"watch","version":"","previousVersion":"","error":null,)"
          R"("at":"1970-01-01T00:00:00.000Z","atUnixMs":0,"durationUs":0})");
  }
  SUBCASE("times before 1970 floor to the millisecond before, not to a negative fraction") {
    ReloadResult r;
    r.at_unix_ms = -1;
    CHECK(r.ToJson().find(R"("at":"1969-12-31T23:59:59.999Z")") != std::string::npos);
    r.at_unix_ms = -1500;
    CHECK(r.ToJson().find(R"("at":"1969-12-31T23:59:58.500Z")") != std::string::npos);
  }
}

TEST_CASE("Engine::Info().ToJson(): a live engine's description parses with every key") {
  PolicyFixture f(R"({"features":{},"recrules":{"rules":["builtin:exclusions"]}})");
  f.dir().Write("policy.json", "{ not json");
  CHECK_FALSE(f.engine().Reload("api").ok);
  auto j = nlohmann::json::parse(f.engine().Info().ToJson());
  for (const char* key : {"version", "path", "rules", "default", "onRuleError", "mode", "warnings",
                          "loadedAt", "loadedAtUnixMs", "lastReload"}) {
    CAPTURE(key);
    CHECK(j.contains(key));
  }
  CHECK(j["loadedAt"].get<std::string>().size() == 24);
  CHECK(j["loadedAtUnixMs"].get<int64_t>() > 0);
  CHECK(j["lastReload"]["ok"] == false);
  CHECK(j["lastReload"]["trigger"] == "api");
  CHECK(j["lastReload"]["error"].get<std::string>().find("policy.json") != std::string::npos);
  CHECK(j["lastReload"]["at"].get<std::string>().size() == 24);
  CHECK(j["lastReload"]["atUnixMs"].get<int64_t>() >= j["loadedAtUnixMs"].get<int64_t>());
}
