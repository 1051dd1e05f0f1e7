// The rule API's helpers: the task view, get/matches (the built-in semantics), sample,
// localtime, data files, log, the clock.
#include <doctest/doctest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "lua_test_util.h"

using recrules::testing::LuaRuleFixture;
using recrules::testing::TempDir;

namespace {

const char* kTask = R"({"event":"update","task":{"sid":"WR1","taskSid":"WT1","queueName":"Sales",
  "queueSid":"WQ1","taskChannelUniqueName":"voice",
  "attributes":{"call_sid":"CA1","conference":{"sid":"CF1"},"direction":"inbound",
    "customer":{"consent":{"recording":"denied"},"tier":1,"vip":true,"score":2.5,"nothing":null},
    "tags":["vip","es"],"counts":[1,2,3]}},
  "worker":{"sid":"WK1","name":"alice","attributes":{"skills":["pci"],"contact_uri":"client:alice"}}})";

std::string Reason(const std::string& expr, const std::string& request = kTask) {
  LuaRuleFixture f;
  return f.Decide("return recrules.record{reason = tostring(" + expr + ")}", request);
}

}  // namespace

TEST_CASE("the task view and ctx") {
  CHECK(Reason("task.sid .. task.taskSid .. task.queueName .. task.queueSid .. task.channel") ==
        "record: WR1WT1SalesWQ1voice");
  CHECK(Reason("task.callSid .. task.conferenceSid") == "record: CA1CF1");
  CHECK(Reason("task.attributes.customer.consent.recording") == "record: denied");
  CHECK(Reason("task.attributes.customer.nothing") == "record: nil");
  CHECK(Reason("task.attributes.nope") == "record: nil");
  CHECK(Reason("task.attributes.tags[2] .. #task.attributes.tags") == "record: es2");
  CHECK(Reason("math.type(task.attributes.customer.tier)") == "record: integer");
  CHECK(Reason("task.attributes.customer.score") == "record: 2.5");
  CHECK(Reason("task.worker.sid .. task.worker.name .. task.worker.attributes.contact_uri") ==
        "record: WK1aliceclient:alice");
  CHECK(Reason("task.worker", R"({"attributes":{}})") == "record: nil");
  CHECK(Reason("ctx.event .. ctx.now") == "record: update1700000000");
  CHECK(Reason("ctx.config.pause_recording.enabled") == "record: true");
  CHECK(Reason("tostring(task)") == "record: task (read-only)");
  CHECK(
      Reason(R"((function() local n = 0 for k, v in pairs(task.attributes.customer) do n = n + 1 end
                   local s = 0 for i, v in ipairs(task.attributes.counts) do s = s + v end
                   return n .. ' ' .. s end)())") == "record: 5 6");
}

TEST_CASE("recrules.get walks dot paths like the built-in exclusions") {
  CHECK(Reason("recrules.get(task.attributes, 'customer.consent.recording')") == "record: denied");
  CHECK(Reason("recrules.get(task.attributes, 'customer.nothing')") == "record: nil");
  CHECK(Reason("recrules.get(task.attributes, 'customer.nothing.deeper')") == "record: nil");
  CHECK(Reason("recrules.get(task.attributes, 'direction.deeper')") == "record: nil");
  // Issue 23 item 12: a step that is an array index picks an element (from 0, as the template
  // reads it), in task values and in Lua sequences alike; "01" and strings are not indexed.
  CHECK(Reason("recrules.get(task.attributes, 'tags.1')") == "record: es");
  CHECK(Reason("recrules.get(task.attributes, 'tags.2')") == "record: nil");
  CHECK(Reason("recrules.get(task.attributes, 'tags.01')") == "record: nil");
  CHECK(Reason("recrules.get(task.attributes, 'direction.0')") == "record: nil");
  CHECK(Reason("recrules.matches(task.attributes, 'tags.0', 'vip')") == "record: true");
  CHECK(Reason("recrules.get({a = {{b = 'first'}}}, 'a.0.b')") == "record: first");
  CHECK(Reason("recrules.get(nil, 'a')") == "record: nil");
  CHECK(Reason("recrules.get({a = {b = 'lua'}}, 'a.b')") == "record: lua");
  CHECK(Reason("recrules.get({a = 1}, 'a.b')") == "record: nil");
  LuaRuleFixture f;
  CHECK(f.Decide("return recrules.get(task.attributes, 'a..b')", kTask) ==
        "error: rule.lua:2: recrules.get: path \"a..b\" has an empty step");
  CHECK(f.Decide("return recrules.get(task.attributes, 3)", kTask) ==
        "error: rule.lua:2: recrules.get: bad argument #2 (a dot path string expected, got "
        "number)");
}

TEST_CASE("recrules.matches: strict JSON equality, array containment") {
  CHECK(Reason("recrules.matches(task.attributes, 'customer.consent.recording', 'denied')") ==
        "record: true");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.consent.recording', 'Denied')") ==
        "record: false");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.tier', 1)") == "record: true");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.tier', 1.0)") == "record: true");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.tier', '1')") == "record: false");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.vip', true)") == "record: true");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.vip', 'true')") == "record: false");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.score', 2.5)") == "record: true");
  CHECK(Reason("recrules.matches(task.attributes, 'tags', 'es')") == "record: true");
  CHECK(Reason("recrules.matches(task.attributes, 'tags', 'fr')") == "record: false");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.consent', {recording = 'denied'})") ==
        "record: true");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.consent', 'denied')") ==
        "record: false");
  CHECK(Reason("recrules.matches(task.attributes, 'customer.nothing', 'x')") == "record: false");
  CHECK(Reason("recrules.matches(task.attributes, 'missing.path', 'x')") == "record: false");
  CHECK(Reason("recrules.matches({list = {'a', 'b'}}, 'list', 'b')") == "record: true");
  CHECK(Reason("recrules.matches({n = 1}, 'n', '1')") == "record: false");
}

TEST_CASE("recrules.sample: deterministic, stable, and close to the percentage") {
  // Golden answers: the same in every process and version (the hash is part of the contract).
  CHECK(Reason("recrules.sample('CA00000000000000000000000000000001', 50)") == "record: true");
  CHECK(Reason("recrules.sample('CA00000000000000000000000000000002', 50)") == "record: false");
  CHECK(Reason("recrules.sample('anything', 0)") == "record: false");
  CHECK(Reason("recrules.sample('anything', 100)") == "record: true");
  for (int percent : {1, 10, 25, 50, 90}) {
    CAPTURE(percent);
    std::string r = Reason(
        "(function() local n = 0 for i = 1, 20000 do if recrules.sample(string.format('CA%032x', "
        "i), " +
        std::to_string(percent) + ") then n = n + 1 end end return n end)()");
    int n = std::stoi(r.substr(r.find(' ') + 1));
    double expected = 20000.0 * percent / 100;
    CHECK(std::abs(n - expected) < 4 * std::sqrt(expected) + 10);
  }
  // Monotone in the percentage: a key sampled at 10% is sampled at 20%.
  CHECK(Reason("(function() for i = 1, 2000 do local k = 'k' .. i if recrules.sample(k, 10) and "
               "not recrules.sample(k, 20) then return 'broken' end end return 'ok' end)()") ==
        "record: ok");
  LuaRuleFixture f;
  CHECK(f.Decide("return recrules.sample('x', 101)") ==
        "error: rule.lua:2: recrules.sample: the percentage must be between 0 and 100");
}

TEST_CASE("recrules.localtime: IANA zones across DST") {
  // 2024-03-10 06:59:59 UTC is 01:59:59 EST; one second later it is 03:00:00 EDT.
  CHECK(Reason("(function() local t = recrules.localtime('America/New_York', 1710053999) return "
               "t.hour .. ':' .. t.min .. ' ' .. t.zone .. ' ' .. tostring(t.isdst) end)()") ==
        "record: 1:59 EST false");
  CHECK(Reason("(function() local t = recrules.localtime('America/New_York', 1710054000) return "
               "t.hour .. ':' .. t.min .. ' ' .. t.zone .. ' ' .. t.offset end)()") ==
        "record: 3:0 EDT -14400");
  // Europe/Berlin, 2024-10-27 01:00 UTC: back to CET (03:00 CEST -> 02:00 CET).
  CHECK(Reason("(function() local t = recrules.localtime('Europe/Berlin', 1729990799) return "
               "t.hour .. t.zone end)()") == "record: 2CEST");
  CHECK(Reason("(function() local t = recrules.localtime('Europe/Berlin', 1729990800) return "
               "t.hour .. t.zone end)()") == "record: 2CET");
  // Far future (past the zone file's transitions): the file's rule still applies DST.
  // 2100-07-01 12:00 UTC is 08:00 EDT.
  CHECK(Reason("(function() local t = recrules.localtime('America/New_York', 4118126400) return "
               "t.year .. '-' .. t.month .. '-' .. t.day .. ' ' .. t.hour .. t.zone end)()") ==
        "record: 2100-7-1 8EDT");
  // Without a time, the decision's clock: 1700000000 is Tue 2023-11-14 22:13:20 UTC.
  CHECK(Reason("(function() local t = recrules.localtime('UTC') return t.wday .. ' ' .. t.hour .. "
               "':' .. t.min .. ' ' .. t.yday end)()") == "record: 3 22:13 318");
  CHECK(Reason("(function() local t = recrules.localtime('Asia/Kolkata') return t.hour .. ':' .. "
               "t.min end)()") == "record: 3:43");
  LuaRuleFixture f;
  // Issue 23: 1e300 gave year 219 250 468 (and NaN was undefined behaviour).
  CHECK(f.Decide("return recrules.localtime('UTC', 1e300)") ==
        "error: rule.lua:2: recrules.localtime: bad argument #2 (unix seconds between "
        "-62135596800 and 253402300799 (years 1 to 9999) expected, got 1e+300)");
  CHECK(f.Decide("return recrules.localtime('UTC', 0/0)").find("bad argument #2 (unix seconds") !=
        std::string::npos);
  CHECK(f.Decide("return recrules.localtime('UTC', -1e100)").find("got -1e+100)") !=
        std::string::npos);
  CHECK(Reason("recrules.localtime('UTC', 253402300799).year") == "record: 9999");
  CHECK(Reason("recrules.localtime('UTC', -62135596800).year") == "record: 1");
  CHECK(f.Decide("return recrules.localtime('Mars/Olympus_Mons')") ==
        "error: rule.lua:2: recrules.localtime: unknown time zone \"Mars/Olympus_Mons\"");
  CHECK(f.Decide("return recrules.localtime('../../etc/passwd')") ==
        "error: rule.lua:2: recrules.localtime: \"../../etc/passwd\" is not a time zone name");
}

TEST_CASE("the clock: ctx.now, os.time() and os.date() follow the decision's clock") {
  CHECK(Reason("os.time() == ctx.now") == "record: true");
  CHECK(Reason("os.date('!%Y-%m-%d %H:%M', nil)") == "record: 2023-11-14 22:13");
  CHECK(Reason("os.date('!%Y')") == "record: 2023");
  CHECK(Reason("os.time({year = 2024, month = 1, day = 1, hour = 12}) > 0") == "record: true");
}

TEST_CASE("recrules.data: JSON files beside the policy, read-only") {
  TempDir dir;
  dir.Write("data/dnr.json", R"({"numbers": {"+15550001111": "lawyer"}, "list": [1, 2]})");
  dir.Write("rule.lua", R"(return function(task)
    local who = recrules.data.dnr.numbers[task.attributes.from]
    if who then return recrules.skip{reason = 'do not record: ' .. who} end
    if task.attributes.poke then recrules.data.dnr.list[1] = 5 end
  end)");
  dir.Write("policy.json", R"({"recrules":{"rules":["rule.lua"]}})");
  auto engine = recrules::Engine::Open(dir.path());
  REQUIRE(engine.ok());
  recrules::Decision d;
  REQUIRE((*engine)->Decide(R"({"attributes":{"from":"+15550001111"}})", {}, &d).ok());
  CHECK(d.reason == "do not record: lawyer");
  REQUIRE((*engine)->Decide(R"({"attributes":{"poke":true}})", {}, &d).ok());
  REQUIRE(d.rule_errors.size() == 1);
  CHECK(d.rule_errors[0].find("attempt to modify a read-only table") != std::string::npos);
  // Data files are part of the policy version.
  std::string v1 = (*engine)->PolicyVersion();
  dir.Write("data/dnr.json", R"({"numbers": {}})");
  auto r = (*engine)->Reload("test");
  CHECK(r.ok);
  CHECK((*engine)->PolicyVersion() != v1);
  // A bad data file keeps the old policy.
  dir.Write("data/dnr.json", "{\"numbers\": ");
  r = (*engine)->Reload("test");
  CHECK_FALSE(r.ok);
  CHECK(r.error.rfind("data/dnr.json: malformed JSON at line 1", 0) == 0);
}

TEST_CASE("recrules.log reaches the engine's logger") {
  LuaRuleFixture f;
  CHECK(f.Decide("recrules.log.info('hello') recrules.log.warn('careful') "
                 "recrules.log.error('bad') return nil") == "pass");
  CHECK(f.Decide("recrules.log.info({})") ==
        "error: rule.lua:2: recrules.log: a message string expected, got table");
}

// Issue 23: task values reached the log raw, so a newline forged a log line and ANSI escapes
// reached the terminal of whoever read it.
TEST_CASE("issue 23: recrules.log and error messages escape control characters") {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  spdlog::set_level(spdlog::level::info);
  LuaRuleFixture f;
  REQUIRE(f.Load(R"(return function(task)
    recrules.log.info(task.attributes.note)
    error(task.attributes.note)
  end)")
              .ok());
  // JSON escapes: a newline, CR, tab, ESC (ANSI colours), DEL, U+009B (a C1 CSI), NUL.
  const std::string forged =
      R"(x\ninfo policy reloaded (api)\r\t\u001b[31mred\u001b[0m \u007f \u009b2J \u0000)";
  std::string result = f.Run(R"({"attributes":{"note":")" + forged + R"("}})");
  spdlog::set_default_logger(previous);
  const std::string escaped =
      R"(x\ninfo policy reloaded (api)\r\t\x1b[31mred\x1b[0m \x7f \u009b2J \x00)";
  CHECK(result == "error: rule.lua:3: " + escaped);
  std::string logged = out.str();
  CHECK(logged.find("rule rule.lua: " + escaped + "\n") != std::string::npos);
  CHECK(std::count(logged.begin(), logged.end(), '\n') == 1);
  CHECK(logged.find('\x1b') == std::string::npos);
}
