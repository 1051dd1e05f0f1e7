// Attacks on the sandbox: every one must fail as a rule error, and leave the host intact.
#include <doctest/doctest.h>

#include "lua_test_util.h"

using recrules::testing::LuaRuleFixture;

namespace {

// Runs `body` in decide and returns "ok: <value>" for what it returns as a reason, or the error.
std::string Attack(const std::string& body) {
  LuaRuleFixture f;
  std::string out = f.Decide("local r = (function() " + body +
                                 " end)()\nreturn recrules.record{reason = 'ok: ' .. tostring(r)}",
                             R"({"sid":"WR1","attributes":{"a":{"b":1}}})");
  // After any attack the same state still decides normally.
  if (f.policy) f.Run(R"({"sid":"WR2"})");
  return out;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("sandbox: no io, os beyond time, debug, package, require, dofile, loadfile") {
  CHECK(Contains(Attack("return os.execute('true')"),
                 "attempt to call a nil value (field 'execute')"));
  CHECK(
      Contains(Attack("return os.getenv('HOME')"), "attempt to call a nil value (field 'getenv')"));
  CHECK(Contains(Attack("return os.remove('/tmp/x')"), "(field 'remove')"));
  CHECK(
      Contains(Attack("return io.open('/etc/passwd')"), "attempt to read undeclared global 'io'"));
  CHECK(Contains(Attack("return debug.getinfo(1)"), "undeclared global 'debug'"));
  CHECK(Contains(Attack("return package.loaded"), "undeclared global 'package'"));
  CHECK(Contains(Attack("return require('os')"), "undeclared global 'require'"));
  CHECK(Contains(Attack("return dofile('/etc/passwd')"), "undeclared global 'dofile'"));
  CHECK(Contains(Attack("return loadfile('/etc/passwd')"), "undeclared global 'loadfile'"));
  CHECK(Contains(Attack("return print('x')"), "undeclared global 'print'"));
  CHECK(Contains(Attack("return coroutine.create(print)"), "undeclared global 'coroutine'"));
  CHECK(Contains(Attack("return _G.io"), "undeclared global '_G'"));
  CHECK(Contains(Attack("return math.random()"), "(field 'random')"));
  CHECK(Attack("return type(os.time()) .. type(os.date('%Y'))") == "record: ok: numberstring");
}

TEST_CASE("sandbox: no binary chunks, no string.dump") {
  CHECK(Contains(Attack("return string.dump(function() end)"), "(field 'dump')"));
  CHECK(Contains(Attack("return ('').dump"), "ok: nil"));
  // Text chunks load (in the read-only sandbox); bytecode is refused.
  CHECK(Attack("return load('return 1 + 1')()") == "record: ok: 2");
  CHECK(Contains(Attack("local f, e = load('\\27Lua\\84\\0') return e"),
                 "attempt to load a binary chunk (mode is 't')"));
  CHECK(Contains(Attack("local f, e = load('\\27Lua', 'x', 'b') return e"),
                 "attempt to load a binary chunk (mode is 't')"));
  CHECK(Contains(Attack("return load('x = 1')()"), "attempt to write global 'x'"));
}

TEST_CASE("sandbox: the task is read-only") {
  CHECK(Contains(Attack("task.sid = 'evil'"), "attempt to modify the task or ctx"));
  CHECK(Contains(Attack("task.attributes.a.b = 2"), "attempt to modify the task or ctx"));
  CHECK(Contains(Attack("return setmetatable(task, {})"),
                 "bad argument #1 to 'setmetatable' (table expected, got userdata)"));
  CHECK(Attack("return getmetatable(task)") == "record: ok: read-only");
  CHECK(Contains(Attack("return rawset(task, 'x', 1)"), "bad argument #1 to 'rawset'"));
  CHECK(Contains(Attack("ctx.event = 'accept'"), "attempt to modify the task or ctx"));
  CHECK(Contains(Attack("ctx.config.x = 1"), "attempt to modify a read-only table"));
}

TEST_CASE("sandbox: global protection cannot be tricked") {
  CHECK(
      Contains(Attack("rawset(_ENV, 'x', 1)"), "attempt to modify a read-only table with rawset"));
  CHECK(Contains(Attack("rawset(recrules, 'skip', 1)"), "read-only table with rawset"));
  CHECK(Contains(Attack("recrules.record = nil"), "attempt to modify a read-only table"));
  CHECK(Contains(Attack("string.upper = nil"), "attempt to modify a read-only table"));
  CHECK(Contains(Attack("setmetatable(_ENV, nil)"), "cannot change a protected metatable"));
  CHECK(Contains(Attack("setmetatable(string, {})"), "cannot change a protected metatable"));
  CHECK(Attack("return getmetatable('').__index") == "record: ok: nil");
  CHECK(Contains(Attack("getmetatable('').__index = {}"), "attempt to index a string value"));
  CHECK(Attack("return rawget(_ENV, 'recrules')") == "record: ok: nil");
  CHECK(Contains(Attack("return setmetatable({}, {__gc = function() end})"),
                 "setmetatable: __gc metamethods are not available to rules"));
  // Iterating a read-only table does not hand out its store.
  CHECK(Contains(Attack("local f, s = pairs(recrules) return rawequal(s, recrules)"), "ok: true"));
}

TEST_CASE("sandbox: each rule has its own environment") {
  recrules::testing::TempDir dir;
  dir.Write("a.lua", "SHARED = 'from a'\nreturn function() end\n");
  dir.Write("b.lua",
            "return function() return recrules.record{reason = tostring(rawget(_ENV, 'SHARED'))} "
            "end\n");
  dir.Write("c.lua", "return function() return recrules.record{reason = SHARED} end\n");
  dir.Write("policy.json", R"({"recrules":{"rules":["a.lua","b.lua","c.lua"]}})");
  auto engine = recrules::Engine::Open(dir.path());
  REQUIRE(engine.ok());
  recrules::Decision d;
  REQUIRE((*engine)->Decide("{}", {}, &d).ok());
  CHECK(d.reason == "nil");
  recrules::testing::TempDir dir2;
  dir2.Write("a.lua", "SHARED = 'from a'\nreturn function() end\n");
  dir2.Write("c.lua", "return function() return recrules.record{reason = SHARED} end\n");
  dir2.Write("policy.json", R"({"recrules":{"rules":["a.lua","c.lua"]}})");
  engine = recrules::Engine::Open(dir2.path());
  REQUIRE(engine.ok());
  REQUIRE((*engine)->Decide("{}", {}, &d).ok());
  CHECK(d.rule_errors.size() == 1);
  CHECK(d.rule_errors[0] == "c.lua: c.lua:1: attempt to read undeclared global 'SHARED'");
}

// Issue 23: nothing a decision does may be visible to the next one, whatever it tries.
TEST_CASE("issue 23: rawset cannot write to ctx or to what a load-time metatable sees") {
  LuaRuleFixture f;
  SUBCASE("ctx is frozen") {
    REQUIRE(f.Load(R"(return function(task, ctx)
      local before = tostring(ctx.mark)
      local ok, err = pcall(rawset, ctx, 'mark', task.sid)
      return recrules.record{reason = before .. ' ' .. tostring(ok) .. ' ' .. tostring(err)}
    end)")
                .ok());
    const std::string refused = "record: nil false attempt to modify a read-only table with rawset";
    CHECK(f.Run(R"({"sid":"WR1"})") == refused);
    CHECK(f.Run(R"({"sid":"WR2"})") == refused);
    CHECK(Attack("return rawset(ctx, 'event', 'x')") ==
          "error: rule.lua:2: attempt to modify a read-only table with rawset");
    CHECK(Attack("local n = 0 for k in pairs(ctx) do n = n + 1 end return n") == "record: ok: 3");
  }
  SUBCASE("an __index function set at load gets a read-only self") {
    // Before: self was the frozen table's store, writable, and it counted decisions.
    REQUIRE(f.Load(R"(local seen = setmetatable({}, {__index = function(self, k)
        local n = rawget(self, 'n') or 0
        if k == 'raw' then rawset(self, 'n', n + 1) else self.n = n + 1 end
        return n
      end})
      return function(task) return recrules.record{reason = tostring(seen[task.sid])} end)")
                .ok());
    CHECK(f.Run(R"({"sid":"raw"})") ==
          "error: rule.lua:3: attempt to modify a read-only table with rawset");
    CHECK(f.Run(R"({"sid":"field"})").find("rule.lua:3: attempt to modify a read-only table") !=
          std::string::npos);
    CHECK(f.Run(R"({"sid":"raw"})") ==
          "error: rule.lua:3: attempt to modify a read-only table with rawset");
  }
}

TEST_CASE("issue 23: a function with state kept from load is refused at load") {
  LuaRuleFixture f;
  const std::string refused =
      "rule.lua: the top level keeps a function with state (such as a string.gmatch iterator), "
      "which would carry that state from one decision to the next: make it inside decide";
  // Before: the iterator kept its position, so the same task was recorded three times and then
  // skipped three times.
  CHECK(f.Load(R"(local next_word = string.gmatch('record record record skip skip skip', '%a+')
    return function()
      local w = next_word()
      if w == 'skip' then return recrules.skip{reason = w} end
      return recrules.record{reason = tostring(w)}
    end)")
            .message() == refused);
  CHECK(f.Load(R"(local T = {words = string.gmatch('a b', '%a+')}
    return function() return recrules.record{reason = T.words()} end)")
            .message() == refused);
  // Iterating at load, and inside decide, is fine.
  REQUIRE(f.Load(R"(local words = {}
    for w in string.gmatch('a b c', '%a+') do words[#words + 1] = w end
    return function()
      local s = ''
      for w in string.gmatch('x y', '%a+') do s = s .. w end
      return recrules.record{reason = table.concat(words) .. s}
    end)")
              .ok());
  CHECK(f.Run("{}") == "record: abcxy");
  CHECK(f.Run("{}") == "record: abcxy");
}

TEST_CASE("issue 23: no counter, clock or address tells one decision about another") {
  // collectgarbage("count") and os.clock() measured what earlier decisions did.
  CHECK(Attack("return collectgarbage('count')") ==
        "error: rule.lua:2: attempt to read undeclared global 'collectgarbage'");
  CHECK(Attack("return os.clock()") ==
        "error: rule.lua:2: attempt to call a nil value (field "
        "'clock')");
  // Decision tokens count from 1 in every decision; names of tables and functions are numbered
  // per decision instead of being addresses.
  LuaRuleFixture f;
  REQUIRE(f.Load(R"(local helper = function() end
    local at_load = tostring(helper) .. tostring({})
    return function(task)
      local d = recrules.skip{reason = 'x'}
      return recrules.record{reason = tostring(d) .. ' ' .. tostring({}) .. ' ' ..
        tostring(helper) .. ' ' .. tostring(string.upper) .. ' ' .. tostring({}) .. ' ' ..
        string.format('%s %5.20s', helper, {}) .. ' ' .. tostring(task)}
    end)")
              .ok());
  const std::string names =
      "record: userdata: 1 table: 2 function: 3 function: 4 table: 5 function: 3 table: 6 task "
      "(read-only)";
  CHECK(f.Run("{}") == names);
  CHECK(f.Run("{}") == names);
  CHECK(Contains(Attack("return string.format('%p', {})"),
                 "string.format: '%p' (an address) is not available to rules"));
  CHECK(Attack("return tostring(setmetatable({}, {__tostring = function() return 'mine' end}))") ==
        "record: ok: mine");
  CHECK(Attack("return tostring(setmetatable({}, {__name = 'Thing'}))") == "record: ok: Thing: 1");
  CHECK(Contains(Attack("return tostring()"), "bad argument #1 to 'tostring' (value expected)"));
}
