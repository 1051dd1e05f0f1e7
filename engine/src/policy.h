// A compiled policy: validated configuration plus its rules, ready to decide. Immutable once
// built, shared by every deciding thread; a reload builds a new one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "policy_config.h"
#include "recrules/engine.h"
#include "rule.h"

namespace recrules::detail {

class LuaProgram;

class CompiledPolicy {
 public:
  PolicyConfig config;
  std::string version;  // content hash of every source file
  Mode mode = Mode::kConference;
  Channel channel = Channel::kNone;
  PauseBehavior default_pause_behavior = PauseBehavior::kSkip;
  std::vector<std::unique_ptr<Rule>> rules;
  int64_t loaded_at_unix_ms = 0;

  // Rule kinds that need per-thread state (Lua) set this; null otherwise.
  std::function<std::unique_ptr<PolicyThreadState>()> make_thread_state;
  // The policy's Lua rules compiled once at load (engine/src/lua/); null when it has none.
  std::shared_ptr<LuaProgram> lua;

  PolicyInfo Info() const;
};

// Reads, validates and compiles the policy at `path`: policy.json, every rule (Lua files are
// compiled and their top level run once), the data files; then, when `run_rule_tests`, every
// inline rule test. Any failure is kInvalidPolicy naming the file (and line) and what is wrong.
Result<std::shared_ptr<const CompiledPolicy>> CompilePolicy(const std::string& path,
                                                            bool run_rule_tests = true);

// Hex SHA-256 prefix (12 characters) over the sources' names and contents.
std::string PolicyVersion(const std::vector<PolicySource>& sources);

}  // namespace recrules::detail
