// Shared by the fuzz targets: a policy folder written once per process, and the invariants every
// decision must hold whatever the input.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "recrules/engine.h"

namespace recrules::fuzz {

// A policy exercising every built-in rule, with exclusions of every JSON type.
inline const char* kPolicy = R"({
  "features": {
    "conditional_recording": { "enabled": true,
      "exclude_queues": ["Legal", "WQ0123456789abcdef0123456789abcdef"],
      "exclude_attributes": [
        {"key": "direction", "value": "outbound"},
        {"key": "customer.consent.recording", "value": "denied"},
        {"key": "tags", "value": "pci"},
        {"key": "priority", "value": 1},
        {"key": "vip", "value": true},
        {"key": "meta.x", "value": {"a": [1, "b", null]}}]},
    "pause_recording": { "enabled": true, "include_silence": true }
  }
})";

inline std::string WritePolicy(const std::string& text) {
  char tmpl[] = "/tmp/recrules-fuzz-XXXXXX";
  char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) std::abort();
  std::ofstream(std::string(dir) + "/policy.json") << text;
  return dir;
}

// A rule that fails on purpose for some inputs: arithmetic on a fuzzed attribute (fails unless
// it is a number or a numeric string) and an explicit error. First in the Lua policy, so every
// decision after a rule error is checked.
inline const char* kFailingRule = R"(
return {
  name = "fuzz_errors",
  description = "Fails on purpose for some inputs",
  events = { "accept", "update", "pause_request", "resume_request" },
  decide = function(task, ctx)
    local n = recrules.get(task.attributes, "fuzz.n")
    if n ~= nil then
      if n + 1 > 100 then return recrules.record{ reason = "fuzz.n is large" } end
    end
    if recrules.get(task.attributes, "fuzz.fail") then error("asked to fail") end
    return nil
  end,
}
)";

// The rule library's example policy (every Lua rule of rules/, its data files) plus
// kFailingRule, copied into a new temp folder, with `on_rule_error` set as given. Reads the
// source tree (RECRULES_SOURCE_DIR); aborts when it cannot.
inline std::string WriteLuaPolicy(const std::string& on_rule_error) {
  namespace fs = std::filesystem;
  const fs::path source = fs::path(RECRULES_SOURCE_DIR) / "examples" / "policy-library";
  std::ifstream in(source / "policy.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string policy = text.str();
  const std::string from = R"("on_rule_error": "record")";
  const size_t at = policy.find(from);
  const std::string first_rule = R"("rules": [)";
  const size_t rules_at = policy.find(first_rule);
  if (at == std::string::npos || rules_at == std::string::npos) std::abort();
  policy.replace(at, from.size(), R"("on_rule_error": ")" + on_rule_error + "\"");
  policy.insert(rules_at + first_rule.size(), R"( "rules/fuzz_errors.lua",)");
  const std::string dir = WritePolicy(policy);
  std::error_code ec;
  fs::copy(source / "data", fs::path(dir) / "data", fs::copy_options::recursive, ec);
  if (!ec)
    fs::copy(fs::path(RECRULES_SOURCE_DIR) / "rules", fs::path(dir) / "rules",
             fs::copy_options::recursive, ec);
  if (ec) std::abort();
  std::ofstream(fs::path(dir) / "rules" / "fuzz_errors.lua") << kFailingRule;
  return dir;
}

inline std::unique_ptr<Engine> OpenOrAbort(const std::string& dir) {
  auto e = Engine::Open(dir);
  if (!e.ok()) {
    std::fprintf(stderr, "fuzz policy %s: %s\n", dir.c_str(), e.status().message().c_str());
    std::abort();
  }
  return std::move(e).value();
}

inline Engine& FixedEngine() {
  static std::unique_ptr<Engine> engine = [] {
    auto e = Engine::Open(WritePolicy(kPolicy));
    if (!e.ok()) {
      std::fprintf(stderr, "fuzz policy: %s\n", e.status().message().c_str());
      std::abort();
    }
    return std::move(e).value();
  }();
  return *engine;
}

// Every decision is well-formed JSON with a known action and a non-empty reason.
inline void CheckDecision(const Decision& d) {
  std::string json = d.ToJson();
  auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) std::abort();
  const std::string action = parsed.value("action", "");
  if (action != "record" && action != "skip" && action != "pause") std::abort();
  if (d.reason.empty() || d.rule.empty()) std::abort();
}

}  // namespace recrules::fuzz
