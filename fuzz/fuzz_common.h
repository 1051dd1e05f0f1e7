// Shared by the fuzz targets: a policy folder written once per process, and the invariants every
// decision must hold whatever the input.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
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
