// Inline rule tests (`recrules test`): every Lua rule file may carry `tests`, run at each load
// and on demand.
//
// Ownership and threads: the report and its results are plain values owned by the caller.
// RunRuleTests builds its own engine for the call (it shares nothing with a running Engine), so
// it may be called from any thread, and from several at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "recrules/status.h"

namespace recrules {

struct RuleTestResult {
  std::string rule;  // the rule file as listed in the policy ("rules/pci_pause.lua")
  std::string test;  // the test's name
  bool passed = false;
  std::string expected;  // "skip", "pause (silence)", "record: reason containing \"...\"", ...
  std::string actual;    // "record: <reason>", "pass", "error: pci.lua:7: ...", ...
  int64_t elapsed_ns = 0;
};

struct RuleTestReport {
  std::string policy_version;
  std::vector<RuleTestResult> results;
  size_t failed() const {
    size_t n = 0;
    for (const RuleTestResult& r : results) n += r.passed ? 0 : 1;
    return n;
  }
};

// Loads the policy at `policy_path` without running its tests at load, then runs the inline
// tests of every Lua rule whose file name or test name contains `filter` (all when empty).
// A policy that does not load (bad JSON, bad Lua, bad data file) is an error; failing tests are
// not: they are reported in the results.
Result<RuleTestReport> RunRuleTests(const std::string& policy_path, const std::string& filter = "");

}  // namespace recrules
