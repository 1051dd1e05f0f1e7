// The cost of Lua rules per decision, on top of the built-in rules, and how the task reaches
// Lua: a lazy read-only view (what the engine uses) against copying it into Lua tables.
//   ninja -C build bench_lua && build/bench/bench_lua
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine_impl.h"
#include "lua/lua_host.h"
#include "policy.h"
#include "recrules/task.h"

namespace {

namespace rd = recrules::detail;

const char* kTask = R"({"sid":"WR0123456789abcdef0123456789abcdef",
  "taskSid":"WT0123456789abcdef0123456789abcdef","queueName":"Support",
  "queueSid":"WQ0123456789abcdef0123456789abcdef","taskChannelUniqueName":"voice",
  "attributes":{"call_sid":"CA0123456789abcdef0123456789abcdef","direction":"inbound",
    "from":"+15550001111","to":"+15559998888","caller":"+15550001111","name":"Pat Doe",
    "type":"inbound","conference":{"sid":"CF0123456789abcdef0123456789abcdef"},
    "customer":{"tier":"gold","consent":{"recording":"granted"},"region":"US-CA"},
    "ivr":{"stage":"menu","path":["main","billing"]},"tags":["billing","es"],
    "conversations":{"conversation_id":"WT0123","virtual":"Yes"}}})";

// A PCI-like rule: reads the event and two or three attributes; passes on this task.
const char* kPciRule = R"(return {
  name = "pci",
  events = {"accept", "update"},
  decide = function(task, ctx)
    local a = task.attributes
    if ctx.event == "update" and recrules.matches(a, "ivr.stage", "payment") then
      return recrules.pause{reason = "payment details are being captured"}
    end
    if a.direction == "outbound" and a.customer.region == "US-CA" then
      return recrules.skip{reason = "outbound to a two-party-consent region"}
    end
  end,
})";

const char* kDecidingRule = R"(return function(task, ctx)
  if task.attributes.direction == "inbound" then
    return recrules.record{reason = "inbound calls are recorded"}
  end
end)";

std::string MakePolicy(const std::string& rules, const std::string& lua) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "recrules-bench-XXXXXX").string();
  std::string dir = ::mkdtemp(tmpl.data());
  std::ofstream(dir + "/rule.lua") << lua;
  std::ofstream(dir + "/policy.json") << R"({"features":{"conditional_recording":{"enabled":true,
    "exclude_queues":["HR","Legal"],"exclude_attributes":[{"key":"customer.consent.recording",
    "value":"denied"}]},"pause_recording":{"enabled":true}},"recrules":{"rules":)"
                                      << rules << "}}";
  return dir;
}

void RunDecisions(benchmark::State& state, const std::string& rules, const std::string& lua,
                  rd::TaskPassing passing) {
  std::string dir = MakePolicy(rules, lua);
  auto policy = rd::CompilePolicy(dir);
  std::filesystem::remove_all(dir);
  if (!policy.ok()) {
    state.SkipWithError(policy.status().message().c_str());
    return;
  }
  rd::SetTaskPassing(**policy, passing);
  std::unique_ptr<rd::PolicyThreadState> thread_state;
  if ((*policy)->make_thread_state) thread_state = (*policy)->make_thread_state();
  auto request = recrules::ParseRequest(kTask);
  const rd::TaskView& view = rd::DataOf(request->task).view;
  recrules::DecideOptions options;
  recrules::Decision decision;
  for (auto _ : state) {
    rd::DecideOnPolicy(**policy, thread_state.get(), view, recrules::Event::kAccept, options,
                       &decision);
    benchmark::DoNotOptimize(decision.action);
  }
  if (!decision.rule_errors.empty()) state.SkipWithError(decision.rule_errors[0].c_str());
  state.SetLabel(decision.rule + ": " + recrules::ActionName(decision.action));
}

void BM_BuiltinsOnly(benchmark::State& state) {
  RunDecisions(state, R"(["builtin:non_voice","builtin:exclusions"])", "", rd::TaskPassing::kView);
}
void BM_PciRuleView(benchmark::State& state) {
  RunDecisions(state, R"(["builtin:non_voice","builtin:exclusions","rule.lua"])", kPciRule,
               rd::TaskPassing::kView);
}
void BM_PciRuleCopy(benchmark::State& state) {
  RunDecisions(state, R"(["builtin:non_voice","builtin:exclusions","rule.lua"])", kPciRule,
               rd::TaskPassing::kCopy);
}
void BM_DecidingRuleView(benchmark::State& state) {
  RunDecisions(state, R"(["builtin:non_voice","builtin:exclusions","rule.lua"])", kDecidingRule,
               rd::TaskPassing::kView);
}
void BM_DecidingRuleCopy(benchmark::State& state) {
  RunDecisions(state, R"(["builtin:non_voice","builtin:exclusions","rule.lua"])", kDecidingRule,
               rd::TaskPassing::kCopy);
}
void BM_EmptyRule(benchmark::State& state) {
  RunDecisions(state, R"(["builtin:non_voice","builtin:exclusions","rule.lua"])",
               "return function() end", rd::TaskPassing::kView);
}

BENCHMARK(BM_BuiltinsOnly);
BENCHMARK(BM_EmptyRule);
BENCHMARK(BM_PciRuleView);
BENCHMARK(BM_PciRuleCopy);
BENCHMARK(BM_DecidingRuleView);
BENCHMARK(BM_DecidingRuleCopy);

}  // namespace

BENCHMARK_MAIN();
