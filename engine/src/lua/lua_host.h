// The Lua rule host as the rest of the engine sees it. No Lua type appears here: every use of
// the Lua C API stays in engine/src/lua/*.cc.
//
// A policy's Lua rules are compiled once, at load (LuaProgram: bytecode, data files, inline
// tests); each deciding thread then builds its own lua_State from that program (a
// PolicyThreadState), so no lock is taken on the decision path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy.h"
#include "recrules/rule_tests.h"
#include "rule.h"

namespace recrules::detail {

class LuaProgram;

// True for rule names that are Lua files ("consent.lua", "rules/pci_pause.lua").
bool IsLuaRuleName(const std::string& name);

// Compiles the Lua file `name` (relative to the policy folder) and adds it to `policy`'s
// program (creating the program on first use) and to config.sources. Errors are
// kInvalidPolicy naming the file and line ("consent.lua:3: '=' expected near 'x'").
Result<std::unique_ptr<Rule>> MakeLuaRule(const std::string& name, const std::string& where,
                                          CompiledPolicy* policy);

// Completes a policy that has Lua rules: reads data/*.json beside policy.json, builds one Lua
// state to run every rule file's top level (so a bad rule fails here, not on a request),
// collects each rule's events and inline tests, and, when `run_tests`, runs the inline tests.
// Any failure rejects the policy with kInvalidPolicy. A policy without Lua rules is unchanged.
Status FinishLuaPolicy(CompiledPolicy* policy, bool run_tests);

// Runs the inline tests of `policy`'s Lua rules whose rule file or test name contains
// `filter` (all when empty), on the calling thread.
std::vector<RuleTestResult> RunLuaRuleTests(const CompiledPolicy& policy,
                                            const std::string& filter);

// For benchmarks: how the task reaches `decide` (read when a thread builds its state). kView (the
// default) is a lazy read-only view over the parsed task; kCopy copies the task into fresh Lua
// tables for every decision.
enum class TaskPassing { kView, kCopy };
void SetTaskPassing(const CompiledPolicy& policy, TaskPassing passing);

// For tests: stop restoring top-level upvalues after each decision, to show that a view kept
// past its decision is refused.
void SetKeepUpvaluesForTesting(const CompiledPolicy& policy, bool keep);

// For tests: the bytes a thread's Lua state holds (rules cannot ask: collectgarbage is absent).
size_t LuaMemoryUsedForTesting(PolicyThreadState* state);

}  // namespace recrules::detail
