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

  PolicyInfo Info() const;
};

// Hook through which script rules (the Lua host) join a policy being compiled. It gets the
// rule name as listed, where it is listed ("recrules.rules[3]"), and the policy under
// construction (config filled, rules so far). It returns the rule, or kInvalidPolicy naming the
// file and line. Registered once at start-up by the Lua host; null means no script rules.
using ScriptRuleFactory = std::function<Result<std::unique_ptr<Rule>>(
    const std::string& name, const std::string& where, CompiledPolicy* policy)>;
void SetScriptRuleFactory(ScriptRuleFactory factory);

// Called after every rule is built, before the policy is swapped in (e.g. to run inline rule
// tests). An error rejects the policy.
using PolicyFinisher = std::function<Status(CompiledPolicy* policy)>;
void SetPolicyFinisher(PolicyFinisher finisher);

Result<std::shared_ptr<const CompiledPolicy>> CompilePolicy(const std::string& path);

// Hex SHA-256 prefix (12 characters) over the sources' names and contents.
std::string PolicyVersion(const std::vector<PolicySource>& sources);

}  // namespace recrules::detail
