// The Lua rule host: the rule contract, errors, limits, per-decision isolation.
#include <doctest/doctest.h>

#include <spdlog/spdlog.h>

#include <cstdio>

#include "lua_test_util.h"

using recrules::testing::LuaRuleFixture;

// Rule logs and reload logs would drown the test output.
static const bool kQuiet = [] {
  spdlog::set_level(spdlog::level::off);
  return true;
}();
using recrules::testing::TempDir;
namespace rd = recrules::detail;

TEST_CASE("a rule file returns a rule table or a decide function") {
  LuaRuleFixture f;
  SUBCASE("a bare decide function") {
    REQUIRE(f.Load("return function(task, ctx) return recrules.skip{reason = 'no'} end").ok());
    CHECK(f.Run("{}") == "skip: no");
  }
  SUBCASE("a table with events: other events do not apply") {
    REQUIRE(f.Load(R"(return { name = "x", description = "d", events = {"update"},
                decide = function(task, ctx) return recrules.record{reason = ctx.event} end })")
                .ok());
    CHECK(f.policy->rules[0]->AppliesTo(recrules::Event::kUpdate));
    CHECK_FALSE(f.policy->rules[0]->AppliesTo(recrules::Event::kAccept));
    CHECK(f.Run(R"({"event":"update","task":{}})") == "record: update");
  }
  SUBCASE("nil passes") {
    REQUIRE(f.Load("return function() return nil end").ok());
    CHECK(f.Run("{}") == "pass");
  }
  SUBCASE("pause takes its behavior from include_silence unless given") {
    REQUIRE(f.Load("return function() return recrules.pause{reason='pci'} end", "{}",
                   R"({"pause_recording":{"enabled":true,"include_silence":true}})")
                .ok());
    CHECK(f.Run("{}") == "pause (silence): pci");
    REQUIRE(
        f.Load("return function() return recrules.pause{reason='pci', behavior='skip'} end").ok());
    CHECK(f.Run("{}") == "pause (skip): pci");
  }
}

TEST_CASE("a bad rule file fails at load with the file and line") {
  LuaRuleFixture f;
  CHECK(f.Load("return function(\n x = = 1 end").message() == "rule.lua:2: ')' expected near '='");
  CHECK(f.Load("error('boom')").message() == "rule.lua:1: boom");
  CHECK(f.Load("return 42").message() ==
        "rule.lua: a rule file must return a rule table or a decide function, got number");
  CHECK(f.Load("return {name = 'x'}").message() ==
        "rule.lua: the rule table needs a decide function (decide = function(task, ctx) ... "
        "end), got nil");
  CHECK(f.Load("return {decide = function() end, event = {}}").message() ==
        "rule.lua: unknown field event in the rule table (expected name, description, events, "
        "decide, tests)");
  CHECK(f.Load("return {decide = function() end, events = {'acept'}}").message() ==
        "rule.lua: events: unknown event \"acept\" (expected accept, update, pause_request or "
        "resume_request)");
  CHECK(f.Load("local x = undefined_thing\nreturn function() end").message() ==
        "rule.lua:1: attempt to read undeclared global 'undefined_thing'");
  CHECK(f.Load("while true do end").message() ==
        "rule.lua:1: instruction limit exceeded (1000000 instructions per decision)");
}

TEST_CASE("a rule that fails costs that rule only, with its line") {
  LuaRuleFixture f;
  CHECK(f.Decide("local t = nil\nreturn t.x") ==
        "error: rule.lua:3: attempt to index a nil value (local 't')");
  CHECK(f.Decide("error('custom failure')") == "error: rule.lua:2: custom failure");
  CHECK(f.Decide("error({code = 7})") ==
        "error: rule.lua:2: error object is a table value (raise errors with a string message)");
  CHECK(f.Decide("error()") ==
        "error: rule.lua:2: error object is a nil value (raise errors with a string message)");
  CHECK(f.Decide("return 'skip'") ==
        "error: rule.lua: decide must return recrules.record{...}, recrules.skip{...}, "
        "recrules.pause{...} or nil, got a string value");
  CHECK(f.Decide("return {action = 'skip'}") ==
        "error: rule.lua: decide must return recrules.record{...}, recrules.skip{...}, "
        "recrules.pause{...} or nil, got a table value");
  CHECK(f.Decide("return recrules.skip{}") ==
        "error: rule.lua:2: recrules.skip: a decision needs a non-empty reason string");
  CHECK(f.Decide("return recrules.pause{reason='x', behavior='loud'}") ==
        "error: rule.lua:2: recrules.pause: behavior must be \"skip\" or \"silence\", got "
        "\"loud\"");
}

TEST_CASE("the engine applies on_rule_error and reports the rule's error") {
  TempDir dir;
  dir.Write("bad.lua", "return function(task)\n  return task.attributes.missing.x\nend\n");
  for (std::string mode : {"next", "record", "skip"}) {
    CAPTURE(mode);
    dir.Write("policy.json", R"({"recrules":{"rules":["bad.lua"],"default":"record",
               "on_rule_error":")" +
                                 mode + "\"}}");
    auto engine = recrules::Engine::Open(dir.path());
    REQUIRE(engine.ok());
    recrules::Decision d;
    REQUIRE((*engine)->Decide(R"({"attributes":{}})", {}, &d).ok());
    REQUIRE(d.rule_errors.size() == 1);
    CHECK(d.rule_errors[0] == "bad.lua: bad.lua:2: attempt to index a nil value (field 'missing')");
    CHECK(d.rule == (mode == "next" ? "default" : "bad.lua"));
    CHECK(d.action == (mode == "skip" ? recrules::Action::kSkip : recrules::Action::kRecord));
  }
}

TEST_CASE("limits: the instruction budget, stepped") {
  // A loop of n iterations costs about 4 instructions each.
  const char* rule = R"(return function(task)
    local n = task.attributes.n
    local i = 0
    while i < n do i = i + 1 end
    return recrules.record{reason = 'looped ' .. i}
  end)";
  for (uint64_t budget : {1000u, 10000u, 100000u, 1000000u}) {
    CAPTURE(budget);
    LuaRuleFixture f;
    REQUIRE(f.Load(rule, "{\"instructions\":" + std::to_string(budget) + "}").ok());
    uint64_t fits = budget / 8, too_many = budget / 2;
    CHECK(f.Run(R"({"attributes":{"n":)" + std::to_string(fits) + "}}") ==
          "record: looped " + std::to_string(fits));
    CHECK(f.Run(R"({"attributes":{"n":)" + std::to_string(too_many) + "}}") ==
          "error: rule.lua:4: instruction limit exceeded (" + std::to_string(budget) +
              " instructions per decision)");
    // The budget is per decision: the state works again afterwards.
    CHECK(f.Run(R"({"attributes":{"n":1}})") == "record: looped 1");
  }
}

TEST_CASE("limits: pcall cannot swallow the instruction limit") {
  LuaRuleFixture f;
  REQUIRE(f.Load(R"(return function()
    for i = 1, 100 do pcall(function() while true do end end) end
    return recrules.record{reason = 'escaped'}
  end)",
                 R"({"instructions":100000})")
              .ok());
  CHECK(f.Run("{}").rfind("error: rule.lua:", 0) == 0);
  CHECK(f.last.error.find("instruction limit exceeded (100000 instructions per decision)") !=
        std::string::npos);
}

TEST_CASE("limits: the memory cap, stepped") {
  const char* bomb = R"(return function()
    local t = {}
    for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end
  end)";
  for (uint64_t kb : {512u, 2048u, 8192u}) {
    CAPTURE(kb);
    LuaRuleFixture f;
    REQUIRE(
        f.Load(bomb, R"({"instructions":100000000,"memory_kb":)" + std::to_string(kb) + "}").ok());
    CHECK(f.Run("{}") ==
          "error: rule.lua: memory limit exceeded (" + std::to_string(kb) + " KB per Lua state)");
    // A rule that fits still runs on the same state afterwards.
    REQUIRE(f.Load("return function() local s = string.rep('x', 100000) return "
                   "recrules.record{reason = tostring(#s)} end",
                   R"({"memory_kb":)" + std::to_string(kb) + "}")
                .ok());
    CHECK(f.Run("{}") == "record: 100000");
  }
  SUBCASE("a string bomb and pcall around it") {
    LuaRuleFixture f;
    REQUIRE(f.Load(R"(return function()
      local ok = pcall(string.rep, 'x', 2e6)
      return recrules.record{reason = 'survived ' .. tostring(ok)}
    end)",
                   R"({"memory_kb":1024})")
                .ok());
    CHECK(f.Run("{}") == "error: rule.lua: memory limit exceeded (1024 KB per Lua state)");
  }
}

TEST_CASE("deep recursion fails the rule, not the process") {
  LuaRuleFixture f;
  REQUIRE(f.Load("local function r(n) return r(n + 1) + 1 end\nreturn function() return r(1) end",
                 R"({"instructions":100000000})")
              .ok());
  std::string out = f.Run("{}");
  CHECK(out.rfind("error: ", 0) == 0);
  CHECK((out.find("stack overflow") != std::string::npos ||
         out.find("memory limit exceeded") != std::string::npos));
}

TEST_CASE("no state carries from one decision to the next") {
  LuaRuleFixture f;
  SUBCASE("top-level locals are restored after each decision") {
    REQUIRE(f.Load(R"(local count = 0
      local function bump() count = count + 1 return count end
      return function() return recrules.record{reason = 'count ' .. bump()} end)")
                .ok());
    CHECK(f.Run("{}") == "record: count 1");
    CHECK(f.Run("{}") == "record: count 1");
  }
  SUBCASE("tables built at load are read-only") {
    REQUIRE(f.Load(R"(local seen = {}
      return function(task) seen[task.sid] = true end)")
                .ok());
    CHECK(f.Run(R"({"sid":"WR1"})") ==
          "error: rule.lua:2: attempt to modify a read-only table (field 'WR1'): tables built "
          "when the rule file loads, the task, ctx and recrules.data are read-only");
  }
  SUBCASE("writing a global during a decision is an error") {
    CHECK(f.Decide("counter = 1") ==
          "error: rule.lua:2: attempt to write global 'counter' during a decision: rules keep no "
          "state between decisions (use a local)");
  }
  SUBCASE("globals defined at load are readable, not writable") {
    REQUIRE(f.Load(R"(LIMIT = 3
      return function() LIMIT = LIMIT + 1 end)")
                .ok());
    CHECK(f.Run("{}").find("attempt to write global 'LIMIT'") != std::string::npos);
  }
  SUBCASE("reading frozen tables works: index, #, ipairs, pairs, table.concat") {
    REQUIRE(f.Load(R"(local QUEUES = {"a", "b", "c"}
      local BY = {x = 1, y = 2}
      return function()
        local n = 0
        for k, v in pairs(BY) do n = n + v end
        local s = ''
        for i, q in ipairs(QUEUES) do s = s .. q end
        return recrules.record{reason = s .. #QUEUES .. n .. table.concat(QUEUES, ',')}
      end)")
                .ok());
    CHECK(f.Run("{}") == "record: abc33a,b,c");
  }
  SUBCASE("a metatable set at load keeps working") {
    REQUIRE(f.Load(R"(local Base = {}
      Base.__index = Base
      function Base.greet(self) return 'hi ' .. self.name end
      local obj = setmetatable({name = 'pat'}, Base)
      return function() return recrules.record{reason = obj:greet()} end)")
                .ok());
    CHECK(f.Run("{}") == "record: hi pat");
  }
}

TEST_CASE("a view kept past its decision is refused") {
  LuaRuleFixture f;
  REQUIRE(f.Load(R"(local kept
    return function(task)
      if kept then return recrules.record{reason = kept.queueName or 'nil'} end
      kept = task
    end)")
              .ok());
  rd::SetKeepUpvaluesForTesting(*f.policy, true);  // the backstop behind the restore
  CHECK(f.Run(R"({"queueName":"Sales"})") == "pass");
  CHECK(f.Run(R"({"queueName":"Sales"})") ==
        "error: rule.lua:3: task value used after its decision ended (a rule must not keep the "
        "task, ctx or parts of them between decisions)");
}

TEST_CASE("many decisions do not grow the Lua memory") {
  LuaRuleFixture f;
  REQUIRE(f.Load(R"(return function(task, ctx)
    local a = task.attributes
    if recrules.matches(a, 'tags', 'vip') then return recrules.record{reason = 'vip ' .. task.sid} end
    if a.direction == 'outbound' then return recrules.skip{reason = 'outbound'} end
    if a.n then error('boom') end
  end)")
              .ok());
  auto run_many = [&](int n) {
    for (int i = 0; i < n; ++i) {
      f.Run(R"({"sid":"WR)" + std::to_string(i) + R"(","attributes":{"tags":["vip"]}})");
      f.Run(R"({"attributes":{"direction":"outbound"}})");
      f.Run(R"({"attributes":{"n":1}})");
    }
  };
  auto kb = [&] { return int(rd::LuaMemoryUsedForTesting(f.state.get()) / 1024); };
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer's bookkeeping grows with every Lua error (a longjmp through the host):
  // fewer rounds keep the test within memory; ASan and plain builds run them all.
  const int rounds = 200;
#else
  const int rounds = 2000;
#endif
  run_many(rounds);
  int early = kb();
  run_many(10 * rounds);
  int late = kb();
  CAPTURE(early);
  CAPTURE(late);
  CHECK(late < early * 2 + 256);
  CHECK(f.Run(R"({"sid":"WR9","attributes":{"tags":["vip"]}})") == "record: vip WR9");
}

TEST_CASE("inline tests run at load; a failing one rejects the policy") {
  LuaRuleFixture f;
  std::string rule = R"(return {
    decide = function(task) if task.queueName == 'Legal' then return recrules.skip{reason='legal queue'} end end,
    tests = {
      { name = "legal skips", task = { queueName = "Legal" }, expect = "skip", reason = "legal" },
      { name = "sales passes", task = { queueName = "Sales" }, expect = "EXPECT" },
    },
  })";
  std::string good = rule;
  good.replace(good.find("EXPECT"), 6, "pass");
  CHECK(f.Load(good).ok());
  std::string bad = rule;
  bad.replace(bad.find("EXPECT"), 6, "record");
  CHECK(f.Load(bad).message() ==
        "rule.lua: inline test \"sales passes\" failed: expected record, got pass");
  std::string invalid = rule;
  invalid.replace(invalid.find("EXPECT"), 6, "maybe");
  CHECK(f.Load(invalid).message() ==
        "rule.lua: test \"sales passes\": expect must be \"record\", \"skip\", \"pause\" or "
        "\"pass\"");
}

TEST_CASE("RunRuleTests reports each test; `recrules test` exits 1 on failure") {
  TempDir dir;
  dir.Write("policy.json", R"({"recrules":{"rules":["a.lua","builtin:exclusions"]}})");
  dir.Write("a.lua", R"(return {
    decide = function(task) return recrules.skip{reason = 'queue ' .. (task.queueName or '?')} end,
    tests = {
      { name = "names the queue", task = { queueName = "Q1" }, expect = "skip", reason = "Q1" },
      { name = "wrong on purpose", task = { queueName = "Q2" }, expect = "record" },
    },
  })");
  auto report = recrules::RunRuleTests(dir.path());
  REQUIRE(report.ok());
  REQUIRE(report->results.size() == 2);
  CHECK(report->results[0].passed);
  CHECK_FALSE(report->results[1].passed);
  CHECK(report->results[1].expected == "record");
  CHECK(report->results[1].actual == "skip: queue Q2");
  CHECK(recrules::RunRuleTests(dir.path(), "names")->results.size() == 1);

  std::string cmd = std::string(RECRULES_CLI) + " test " + dir.path() + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(
      out.find("FAIL a.lua: wrong on purpose\n  expected: record\n  actual:   skip: queue Q2\n") !=
      std::string::npos);
  CHECK(out.find("2 tests, 1 passed, 1 failed") != std::string::npos);
  cmd = std::string(RECRULES_CLI) + " test " + dir.path() + " --filter names >/dev/null 2>&1";
  CHECK(WEXITSTATUS(std::system(cmd.c_str())) == 0);
}
