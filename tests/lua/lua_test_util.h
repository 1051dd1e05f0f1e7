// A one-rule Lua policy in a temporary folder, evaluated directly, for the Lua host's tests.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "engine_impl.h"
#include "lua/lua_host.h"
#include "policy.h"
#include "task_data.h"
#include "test_util.h"

namespace recrules::testing {

class LuaRuleFixture {
 public:
  // Writes rule.lua with `lua` and a policy listing it; `limits` is the recrules.limits JSON
  // (time_ms large unless given: WithLargeTimeLimit).
  Status Load(const std::string& lua, const std::string& limits = "{}",
              const std::string& features = "{\"pause_recording\":{\"enabled\":true}}") {
    dir.Write("rule.lua", lua);
    dir.Write("policy.json", "{\"features\":" + features +
                                 ",\"recrules\":{\"rules\":[\"rule.lua\"],\"limits\":" +
                                 WithLargeTimeLimit(limits) + "}}");
    auto compiled = detail::CompilePolicy(dir.path());
    if (!compiled.ok()) return compiled.status();
    policy = *compiled;
    state = policy->make_thread_state();
    return Status::Ok();
  }

  // Evaluates the rule on `request` (a request or bare task, JSON) and describes the verdict:
  // "pass", "record: <reason>", "pause (silence): <reason>", "error: <message>".
  std::string Run(const std::string& request, int64_t now = 1700000000) {
    detail::TaskView view;
    Event event = Event::kAccept;
    Status s = detail::ParseRequestView(request, ParseLimits{}, &event, &view);
    REQUIRE_MESSAGE(s.ok(), s.message());
    detail::RuleVerdict v;
    detail::RuleInput in{view, event, now, *policy, state.get()};
    policy->rules[0]->Evaluate(in, &v);
    last = v;
    switch (v.kind) {
      case detail::RuleVerdict::Kind::kPass:
        return "pass";
      case detail::RuleVerdict::Kind::kError:
        return "error: " + v.error;
      case detail::RuleVerdict::Kind::kDecide:
        break;
    }
    std::string out = ActionName(v.action);
    if (v.has_pause_behavior) out += std::string(" (") + PauseBehaviorName(v.pause_behavior) + ")";
    return out + ": " + std::string(v.reason);
  }

  // Runs `body` as the body of decide(task, ctx) and returns the verdict's description.
  std::string Decide(const std::string& body, const std::string& request = "{}") {
    Status s = Load("return function(task, ctx)\n" + body + "\nend\n");
    if (!s.ok()) return "load error: " + s.message();
    return Run(request);
  }

  TempDir dir;
  std::shared_ptr<const detail::CompiledPolicy> policy;
  std::unique_ptr<detail::PolicyThreadState> state;
  detail::RuleVerdict last;
};

}  // namespace recrules::testing
