// Attacks on the Lua sandbox beyond tests/lua: string metatable games, coroutines, string.rep
// bombs, patterns that backtrack, load-time attacks, and policy files reaching outside the
// policy folder. Every attack must cost one rule (on_rule_error decides), end within the
// limits, and leave the engine deciding correctly.
#include <doctest/doctest.h>

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "recrules/engine.h"
#include "test_util.h"

using recrules::testing::TempDir;
using recrules::testing::WithLargeTimeLimit;

namespace {

const bool kQuiet = [] {
  spdlog::set_level(spdlog::level::off);
  return true;
}();

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// What one attack did: the decision on an attacking task, and how long it took.
struct Outcome {
  recrules::Decision attacked;
  double seconds = 0;
  std::string error() const { return attacked.rule_errors.empty() ? "" : attacked.rule_errors[0]; }
};

// Runs `body` inside decide when the task says "attack", in a policy whose on_rule_error is
// skip and whose default is record. Afterwards a plain task must still be recorded by default
// (the attacking rule passes), on the same engine and thread.
Outcome Attack(const std::string& body, const std::string& limits = "{}") {
  TempDir dir;
  dir.Write("attack.lua",
            "return function(task, ctx)\n  if not task.attributes.attack then return "
            "nil end\n  do\n" +
                body + "\n  end\n  return recrules.record{reason = 'escaped'}\nend\n");
  dir.Write("policy.json", R"({"recrules":{"rules":["attack.lua"],"default":"record",)"
                           R"("on_rule_error":"skip","limits":)" +
                               WithLargeTimeLimit(limits) + "}}");
  auto engine = recrules::Engine::Open(dir.path());
  REQUIRE_MESSAGE(engine.ok(), engine.status().message());
  Outcome out;
  auto start = std::chrono::steady_clock::now();
  REQUIRE((*engine)->Decide(R"({"attributes":{"attack":true}})", {}, &out.attacked).ok());
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int i = 0; i < 3; ++i) {
    recrules::Decision after;
    REQUIRE((*engine)->Decide(R"({"attributes":{}})", {}, &after).ok());
    CHECK(after.action == recrules::Action::kRecord);
    CHECK(after.rule == "default");
    CHECK(after.rule_errors.empty());
  }
  return out;
}

// The attack failed the rule: on_rule_error skip decided, naming the rule.
// The time bound is loose on purpose (sanitizer builds are slower): without the limits, these
// attacks run for minutes or hours.
void CheckContained(const Outcome& o, const std::string& error_part, double max_seconds = 10) {
  CAPTURE(o.error());
  CHECK(o.attacked.action == recrules::Action::kSkip);
  CHECK(o.attacked.rule == "attack.lua");
  CHECK(Contains(o.error(), error_part));
  CHECK(o.seconds < max_seconds);
}

std::string LoadError(const std::string& lua, const std::string& limits = "{}") {
  TempDir dir;
  dir.Write("attack.lua", lua);
  dir.Write("policy.json", R"({"recrules":{"rules":["attack.lua"],"limits":)" + limits + "}}");
  auto engine = recrules::Engine::Open(dir.path());
  return engine.ok() ? "loaded" : engine.status().message();
}

}  // namespace

TEST_CASE("attack: string metatable tricks reach no global and change nothing") {
  // The string metatable is protected: getmetatable gives its __metatable marker.
  CheckContained(Attack("local mt = getmetatable('')\n"
                        "if mt ~= 'read-only' then return recrules.record{reason = 'mt'} end\n"
                        "return rawget(mt, '__index')"),
                 "bad argument #1 to 'rawget' (table expected, got string)");
  // Methods found through strings are the sandbox's string library, nothing more.
  CheckContained(Attack("return ('x').os.execute('true')"), "attempt to index a nil value");
  CheckContained(Attack("return ('x').dump(tostring)"),
                 "attempt to call a nil value (field 'dump')");
  CheckContained(Attack("local s = ('x') s.upper = nil"), "attempt to index a string value");
  CheckContained(Attack("string.find = function() end"), "attempt to modify a read-only table");
  CheckContained(Attack("setmetatable(getmetatable(''), nil)"),
                 "bad argument #1 to 'setmetatable'");
  // A replacement function in gsub runs in the rule's sandbox, under its rules.
  CheckContained(Attack("string.gsub('abc', '%w', function(c) leaked = c end)"),
                 "attempt to write global 'leaked'");
  // load with an environment of the rule's making: still no library beyond the sandbox.
  CheckContained(Attack("local f = load('return io or os.execute', 'x', 't', {os = os})\n"
                        "return f()()"),
                 "attempt to call a nil value");
  // __index games on the rule's own tables cannot reach the real globals.
  CheckContained(
      Attack("local t = setmetatable({}, {__index = function(_, k) return _ENV[k] end})\n"
             "return t.debug.getinfo(1)"),
      "attempt to read undeclared global 'debug'");
  // The rule environment's metatable is a marker string, whose own __index is nil.
  CheckContained(Attack("return getmetatable(_ENV).__index.package"),
                 "attempt to index a nil value (field '__index')");
}

TEST_CASE("attack: coroutines are not available, however they are reached") {
  CheckContained(Attack("return coroutine.wrap(function() end)"),
                 "attempt to read undeclared global 'coroutine'");
  CheckContained(Attack("return load('return coroutine')()"),
                 "attempt to read undeclared global 'coroutine'");
  CheckContained(Attack("return ('').coroutine.yield()"), "attempt to index a nil value");
  // A yield across the rule boundary would need one; pcall of a missing yield is still an error
  // of the rule, not of the host.
  CheckContained(Attack("local ok, e = pcall(function() return coroutine.yield() end)\nerror(e)"),
                 "attempt to read undeclared global 'coroutine'");
}

TEST_CASE("attack: string.rep bombs stop at the budget or the memory cap") {
  // string.rep is charged its copies before it runs: one too large for the budget never starts.
  CheckContained(Attack("local s = string.rep('x', 1e9)"),
                 "attack.lua:4 (string.rep): instruction limit exceeded");
  CheckContained(Attack("local s = string.rep('x', 1e12)"), "(string.rep): instruction limit");
  CheckContained(Attack("local s = string.rep('abc', 1e7, ',')"), "(string.rep): instruction");
  CheckContained(Attack("local s = string.rep('xy', math.maxinteger)"), "(string.rep)");
  // An empty string repeated copies nothing but still loops in C once per copy.
  CheckContained(Attack("local s = string.rep('', 1e15)"), "(string.rep): instruction limit");
  // Nested concatenation doubling a string: its allocations are charged to the budget.
  CheckContained(Attack("local s = 'x' for i = 1, 64 do s = s .. s end"), "limit exceeded");
  // Many small strings kept alive in a table: the memory cap or the budget, whichever first.
  CheckContained(Attack("local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end"),
                 "limit exceeded");
  CheckContained(Attack("local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end",
                        R"({"instructions":100000000,"time_ms":60000})"),
                 "memory limit exceeded", 20);
  // Under a pcall: the limit still ends the rule.
  CheckContained(Attack("for i = 1, 100 do pcall(string.rep, 'x', 1e9) end"),
                 "instruction limit exceeded");
  CheckContained(Attack("for i = 1, 100 do pcall(string.rep, 'x', 1e7) end",
                        R"({"instructions":100000000,"time_ms":60000})"),
                 "attack.lua:4 (string.rep): instruction limit exceeded", 20);
}

TEST_CASE("attack: patterns that backtrack are charged to the instruction budget") {
  // Each of these would run for minutes inside Lua's C matcher, where the count hook never fires.
  CheckContained(Attack("return string.find(string.rep('a', 300000), '.-b')"),
                 "instruction limit exceeded");
  CheckContained(Attack("return string.find(string.rep('a', 5000), 'a*a*a*a*b')"),
                 "(string.find on a 5000-byte subject): instruction limit exceeded");
  CheckContained(Attack("return (string.rep('a', 100000)):match('(a-)(a-)(a-)c')"),
                 "(string.match on a 100000-byte subject): instruction limit exceeded");
  CheckContained(Attack("return string.gsub(string.rep('a', 100000), 'a-a-b', '')"),
                 "string.gsub on a 100000-byte subject");
  CheckContained(Attack("for w in string.rep('ab', 50000):gmatch('a.-.-c') do end"),
                 "string.gmatch on a 100000-byte subject");
  // A pcall does not swallow it: the budget is spent.
  CheckContained(Attack("for i = 1, 10 do pcall(string.find, string.rep('a', 100000), '.-b') end"),
                 "instruction limit exceeded");
  // Small and linear matching stays cheap and correct.
  Outcome ok = Attack(
      "local a, b = string.find('+15550001111', '^%+1(%d%d%d)')\n"
      "local s = string.gsub(string.rep('a b ', 20000), '%s+', '')\n"
      "local n = select(2, string.rep('x,', 50000):gsub(',', ''))\n"
      "local p = string.find(string.rep('a', 100000), 'b', 1, true)\n"
      "return recrules.skip{reason = a .. ':' .. #s .. ':' .. n .. ':' .. tostring(p)}");
  CHECK(ok.attacked.rule_errors.empty());
  CHECK(ok.attacked.reason == "1:40000:50000:nil");
}

TEST_CASE("attack: deep nesting and long loops under pcall end at the limits") {
  CheckContained(Attack("local function f() return pcall(f) end\nfor i = 1, 1e9 do f() end",
                        R"({"time_ms":60000})"),
                 "instruction limit exceeded");
  CheckContained(Attack("local t = {} for i = 1, 1e6 do t = {t} end return #tostring(t)"),
                 "limit exceeded");
}

TEST_CASE("attack: load-time attacks are refused by the loader with the file's name") {
  CHECK(LoadError("while true do end") ==
        "attack.lua:1: instruction limit exceeded (1000000 instructions per decision)");
  CHECK(LoadError("local t = {}\nfor i = 1, 1e9 do t[i] = i end\nreturn function() end",
                  R"({"instructions":100000000})")
            .rfind("attack.lua", 0) == 0);
  CHECK(Contains(LoadError("local t = {}\nfor i = 1, 1e9 do t[i] = i end\nreturn function() end",
                           R"({"instructions":100000000})"),
                 "memory limit exceeded"));
  CHECK(LoadError("local s = string.rep('x', 1e9)\nreturn function() end") ==
        "attack.lua:1 (string.rep): instruction limit exceeded (1000000 instructions per "
        "decision)");
  CHECK(LoadError("local x = string.find(string.rep('a', 1e5), '.-b')\nreturn function() end") ==
        "attack.lua:1 (string.find on a 100000-byte subject): instruction limit exceeded (1000000 "
        "instructions per decision)");
  CHECK(LoadError("return coroutine.wrap(function() end)") ==
        "attack.lua:1: attempt to read undeclared global 'coroutine'");
}

TEST_CASE("attack: rule and data files must stay inside the policy folder") {
  TempDir outside;
  outside.Write("secret.json", R"({"password": "hunter2"})");
  outside.Write("evil.lua", "return function() return recrules.skip{reason = 'evil'} end");
  const std::string good_rule = "return function() return nil end";
  auto open = [](const TempDir& dir) {
    auto engine = recrules::Engine::Open(dir.path());
    return engine.ok() ? std::string("loaded") : engine.status().message();
  };
  SUBCASE("a rule named with .. or an absolute path") {
    TempDir dir;
    dir.Write("policy.json", R"({"recrules":{"rules":["../../etc/passwd.lua"]}})");
    CHECK(open(dir) == dir.file("policy.json") +
                           ": recrules.rules[0]: \"../../etc/passwd.lua\" must be a path inside "
                           "the policy folder");
    dir.Write("policy.json", R"({"recrules":{"rules":["rules/../../x.lua"]}})");
    CHECK(Contains(open(dir), "\"rules/../../x.lua\" must be a path inside the policy folder"));
    dir.Write("policy.json", "{\"recrules\":{\"rules\":[\"" + outside.file("evil.lua") + "\"]}}");
    CHECK(Contains(open(dir), "must be a path inside the policy folder"));
  }
  SUBCASE("a rule file linked out of the folder must be a regular .lua file") {
    TempDir dir;
    dir.Write("policy.json", R"({"recrules":{"rules":["evil.lua"]}})");
    std::filesystem::create_symlink(outside.file("secret.json"), dir.file("evil.lua"));
    CHECK(open(dir) == dir.file("policy.json") + ": recrules.rules[0]: \"evil.lua\" links to " +
                           std::filesystem::canonical(outside.file("secret.json")).string() +
                           ", not to a .lua file");
    std::filesystem::remove(dir.file("evil.lua"));
    std::filesystem::create_symlink("/dev/zero", dir.file("evil.lua"));
    CHECK(open(dir) ==
          dir.file("policy.json") +
              ": recrules.rules[0]: \"evil.lua\" links to /dev/zero, not to a .lua file");
    std::filesystem::remove(dir.file("evil.lua"));
    REQUIRE(::mkfifo(dir.file("evil.lua").c_str(), 0600) == 0);
    CHECK(open(dir) ==
          dir.file("policy.json") + ": recrules.rules[0]: \"evil.lua\" not a regular file");
    std::filesystem::remove(dir.file("evil.lua"));
    // A shared rule library linked in (how examples/policy holds rules/) loads.
    std::filesystem::create_symlink(outside.file("evil.lua"), dir.file("evil.lua"));
    CHECK(open(dir) == "loaded");
  }
  SUBCASE("a data file that is a symbolic link out of the folder, or not a file") {
    TempDir dir;
    dir.Write("rule.lua", good_rule);
    dir.Write("policy.json", R"({"recrules":{"rules":["rule.lua"]}})");
    std::filesystem::create_directories(dir.file("data"));
    std::filesystem::create_symlink(outside.file("secret.json"), dir.file("data/secret.json"));
    CHECK(open(dir) == "data/secret.json: resolves outside the policy folder (to " +
                           std::filesystem::canonical(outside.file("secret.json")).string() + ")");
    std::filesystem::remove(dir.file("data/secret.json"));
    std::filesystem::create_symlink("/dev/zero", dir.file("data/zero.json"));
    CHECK(open(dir) == "data/zero.json: resolves outside the policy folder (to /dev/zero)");
    std::filesystem::remove(dir.file("data/zero.json"));
    REQUIRE(::mkfifo(dir.file("data/fifo.json").c_str(), 0600) == 0);
    CHECK(open(dir) == "data/fifo.json: not a regular file");
    std::filesystem::remove(dir.file("data/fifo.json"));
    // The data folder itself linked elsewhere.
    std::filesystem::remove(dir.file("data"));
    std::filesystem::create_directory_symlink(outside.path(), dir.file("data"));
    CHECK(Contains(open(dir), "data/secret.json: resolves outside the policy folder"));
  }
  SUBCASE("links inside the folder, and a policy folder reached through a link, still load") {
    TempDir dir;
    dir.Write("rules/real.lua", good_rule);
    dir.Write("data/real.json", "{}");
    std::filesystem::create_symlink("rules/real.lua", dir.file("alias.lua"));
    std::filesystem::create_symlink("real.json", dir.file("data/alias.json"));
    dir.Write("policy.json", R"({"recrules":{"rules":["alias.lua","rules/real.lua"]}})");
    CHECK(open(dir) == "loaded");
    TempDir other;
    std::filesystem::create_directory_symlink(dir.path(), other.file("linked-policy"));
    auto engine = recrules::Engine::Open(other.file("linked-policy"));
    CHECK(engine.ok());
  }
  SUBCASE("recrules.data has no path access at run time") {
    TempDir dir;
    dir.Write("data/list.json", R"({"a": 1})");
    dir.Write("rule.lua", R"(return function()
      local d = recrules.data
      local x = d['../../etc/passwd'] or d['/etc/passwd'] or d['list/../list']
      return recrules.skip{reason = tostring(x) .. ':' .. tostring(d.list.a)}
    end)");
    dir.Write("policy.json", R"({"recrules":{"rules":["rule.lua"]}})");
    auto engine = recrules::Engine::Open(dir.path());
    REQUIRE(engine.ok());
    recrules::Decision d;
    REQUIRE((*engine)->Decide("{}", {}, &d).ok());
    CHECK(d.reason == "nil:1");
  }
}

namespace {

// Decides `task` with one rule `decide` (a function body) and returns the decision and time.
Outcome DecideWith(const std::string& decide, const std::string& task,
                   const std::string& limits = "{}") {
  TempDir dir;
  dir.Write("rule.lua", "return function(task, ctx)\n" + decide + "\nend\n");
  dir.Write("policy.json", R"({"recrules":{"rules":["rule.lua"],"default":"record",)"
                           R"("on_rule_error":"skip","limits":)" +
                               WithLargeTimeLimit(limits) + "}}");
  auto engine = recrules::Engine::Open(dir.path());
  REQUIRE_MESSAGE(engine.ok(), engine.status().message());
  Outcome out;
  auto start = std::chrono::steady_clock::now();
  REQUIRE((*engine)->Decide(task, {}, &out.attacked).ok());
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace

// Issue 23: simdjson finds array element i, or a key, by walking from the start, so these
// loops were quadratic: 150 000 elements took 11.7 s in one decision, 40 000 keys 1.1 s. They
// are linear now (a few milliseconds); the bound is loose for sanitizer builds.
TEST_CASE("attack: ipairs and pairs over a large task array or object are linear") {
  std::string items;
  for (int i = 0; i < 150000; ++i) items += i ? ",1" : "1";
  const std::string array_task = R"({"attributes":{"list":[)" + items + "]}}";
  for (std::string loop :
       {"for _, v in ipairs(list) do n = n + v end", "for _, v in pairs(list) do n = n + v end",
        "for i = 1, #list do n = n + list[i] end"}) {
    CAPTURE(loop);
    Outcome o = DecideWith("local list, n = task.attributes.list, 0\n" + loop +
                               "\nreturn recrules.skip{reason = tostring(n)}",
                           array_task);
    CAPTURE(o.error());
    CHECK(o.attacked.reason == "150000");
    CHECK(o.seconds < 3);
  }
  std::string fields;
  for (int i = 0; i < 40000; ++i) fields += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  Outcome o = DecideWith(
      "local n = 0 for k, v in pairs(task.attributes.o) do n = n + v end\n"
      "return recrules.skip{reason = tostring(n)}",
      R"({"attributes":{"o":{)" + fields + "}}}");
  CAPTURE(o.error());
  CHECK(o.attacked.reason == "40000");
  CHECK(o.seconds < 3);
  // What stays quadratic (a fresh view each time, looked up from the start) is charged to the
  // budget by the elements walked, so it ends at the limit instead of stalling the thread.
  o = DecideWith(
      "local n = 0 for i = 1, 150000 do n = n + task.attributes.list[i] end\n"
      "return recrules.skip{reason = tostring(n)}",
      array_task);
  CHECK(o.attacked.action == recrules::Action::kSkip);
  CHECK(Contains(o.error(), "task values): instruction limit exceeded"));
  CHECK(o.seconds < 3);
  o = DecideWith(
      "local o, n = task.attributes.o, 0 for i = 1, 1e6 do n = n + (o.k39999 or 0) end\n"
      "return recrules.skip{reason = tostring(n)}",
      R"({"attributes":{"o":{)" + fields + "}}}");
  CHECK(Contains(o.error(), "rule.lua:2 (walking 40000 task values): instruction limit exceeded"));
  CHECK(o.seconds < 3);
}

// Issue 23: C functions doing work in proportion to their arguments ran for seconds on one
// instruction each (s:upper() on 3 MB in a loop: 8.3 s within the budget).
TEST_CASE("attack: work in C is charged to the budget by its size") {
  CheckContained(Attack("local s = string.rep('a', 3e6) for i = 1, 1e6 do s = s:upper() end"),
                 "instruction limit exceeded");
  CheckContained(Attack("local s = string.rep('a', 1e6) for i = 1, 1e6 do local t = s .. s end"),
                 "instruction limit exceeded");
  CheckContained(Attack("local s = string.rep(' ', 1e6) for i = 1, 1e6 do load(s) end"),
                 "attack.lua:4 (load of a 1000000-byte chunk): instruction limit exceeded");
  CheckContained(Attack("load(function() return 'x' end)"),
                 "bad argument #1 to 'load' (a string expected, got function; reader functions "
                 "are not available to rules)");
  CheckContained(Attack("local t = {list = {}} for i = 1, 1e5 do t.list[i] = i end\n"
                        "for i = 1, 1e6 do recrules.matches(t, 'list', -1) end"),
                 "(recrules.matches over 100001 items): instruction limit exceeded");
  CheckContained(
      Attack("local s = string.rep('a', 1e6) for i = 1, 1e6 do s:find('b', 1, true) end"),
      "(string.find on a 1000000-byte subject): instruction limit exceeded");
  CheckContained(Attack("local t = {} for i = 1, 1e5 do t[i] = i end\n"
                        "for i = 1, 1e6 do table.insert(t, 1, i) table.remove(t, 1) end"),
                 "instruction limit exceeded");
  CheckContained(Attack("local t = {} for i = 1, 2e5 do t[i] = i end\n"
                        "for i = 1, 1e6 do local a, b = table.unpack(t) end"),
                 "(table.unpack): instruction limit exceeded");
  CheckContained(Attack("local s = string.rep('a', 1e5) for i = 1, 1e6 do s:byte(1, -1) end"),
                 "(string.byte): instruction limit exceeded");
  // An expected table is serialised for every element it is compared with.
  std::string big = "{";
  for (int i = 0; i < 2000; ++i) big += "'value number " + std::to_string(i) + "',";
  big += "}";
  TempDir dir;
  dir.Write("rule.lua", "local BIG = " + big + R"(
    return function(task)
      for i = 1, 1e6 do recrules.matches(task.attributes, 'list', BIG) end
    end)");
  dir.Write("policy.json", R"({"recrules":{"rules":["rule.lua"],"on_rule_error":"skip",)"
                           R"("limits":)" +
                               WithLargeTimeLimit("{}") + "}}");
  auto engine = recrules::Engine::Open(dir.path());
  REQUIRE(engine.ok());
  recrules::Decision d;
  auto start = std::chrono::steady_clock::now();
  REQUIRE((*engine)->Decide(R"({"attributes":{"list":[1,2,3,4,5,6,7,8,9,10]}})", {}, &d).ok());
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 10);
  REQUIRE(d.rule_errors.size() == 1);
  CHECK(Contains(d.rule_errors[0], "-byte expected table): instruction limit exceeded"));
}

// Issue 23: what the instruction budget cannot see (long string comparisons, big varargs: one
// VM instruction each) is bounded by the wall-clock limit, checked by the same hook.
TEST_CASE("attack: limits.time_ms ends a rule that runs too long") {
  CheckContained(Attack("while true do end", R"({"instructions":10000000000,"time_ms":50})"),
                 "attack.lua:4: time limit exceeded (50 ms per decision)");
  CheckContained(Attack("local a, b = string.rep('a', 4e6), string.rep('a', 4e6)\n"
                        "local n = 0 while true do if a == b then n = n + 1 end end",
                        R"({"instructions":10000000000,"time_ms":50})"),
                 "time limit exceeded (50 ms per decision)");
  // pcall cannot swallow it either.
  CheckContained(Attack("for i = 1, 1e9 do pcall(function() while true do end end) end",
                        R"({"instructions":10000000000,"time_ms":50})"),
                 "time limit exceeded (50 ms per decision)");
  CHECK(Contains(LoadError("return function() end", R"({"time_ms":0})"),
                 "policy.json: recrules.limits.time_ms: must be between 1 and 60000, got 0"));
}
