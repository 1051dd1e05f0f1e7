// Reload with Lua rules: failures keep the old policy, the folder watch, and the hammer (many
// threads deciding while the policy is rewritten hundreds of times).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "lua_test_util.h"

using recrules::testing::TempDir;

namespace {

std::string MarkedRule(int marker) {
  return "local MARK = " + std::to_string(marker) +
         "\nreturn {\n  decide = function(task, ctx)\n"
         "    return recrules.record{reason = 'marker ' .. MARK .. ' data ' .. "
         "recrules.data.marker.value}\n  end,\n"
         "  tests = { { name = 'records', task = {}, expect = 'record' } },\n}\n";
}

void WriteMarked(const TempDir& dir, int marker) {
  dir.Write("rules/marked.lua", MarkedRule(marker));
  dir.Write("data/marker.json", "{\"value\": " + std::to_string(marker) + "}");
}

bool WaitFor(const std::function<bool()>& done, int timeout_ms = 5000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace

TEST_CASE("a reload that fails keeps the old policy and says why") {
  TempDir dir;
  dir.Write("policy.json", R"({"recrules":{"rules":["rules/marked.lua"]}})");
  WriteMarked(dir, 1);
  auto engine = recrules::Engine::Open(dir.path());
  REQUIRE(engine.ok());
  const std::string v1 = (*engine)->PolicyVersion();
  recrules::Decision d;

  SUBCASE("bad Lua syntax") {
    dir.Write("rules/marked.lua", "return function(\n  oops oops\nend");
    auto r = (*engine)->Reload("test");
    CHECK_FALSE(r.ok);
    CHECK(r.error == "rules/marked.lua:2: ')' expected near 'oops'");
  }
  SUBCASE("a failing inline test") {
    dir.Write("rules/marked.lua",
              "return { decide = function() end, tests = { { name = 't', expect = 'skip' } } }");
    auto r = (*engine)->Reload("test");
    CHECK_FALSE(r.ok);
    CHECK(r.error == "rules/marked.lua: inline test \"t\" failed: expected skip, got pass");
  }
  SUBCASE("a missing rule file") {
    dir.Write("policy.json", R"({"recrules":{"rules":["rules/nope.lua"]}})");
    auto r = (*engine)->Reload("test");
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("recrules.rules[0]: ") != std::string::npos);
    CHECK(r.error.find("rules/nope.lua: no such file") != std::string::npos);
  }
  CHECK((*engine)->PolicyVersion() == v1);
  REQUIRE((*engine)->Decide("{}", {}, &d).ok());
  CHECK(d.reason == "marker 1 data 1");
  CHECK((*engine)->Info().last_reload->ok == false);
}

TEST_CASE("the engine watches the policy folder and reloads, debounced") {
  TempDir dir;
  dir.Write("policy.json", R"({"recrules":{"rules":["rules/marked.lua"]}})");
  WriteMarked(dir, 1);
  recrules::EngineOptions options;
  options.watch_policy = true;
  options.watch_debounce_ms = 50;
  auto engine = recrules::Engine::Open(dir.path(), options);
  REQUIRE(engine.ok());
  std::atomic<int> reloads{0};
  (*engine)->Subscribe([&](const recrules::ReloadResult& r) {
    if (r.trigger == "watch") reloads++;
  });
  recrules::Decision d;
  auto reason = [&] {
    REQUIRE((*engine)->Decide("{}", {}, &d).ok());
    return d.reason;
  };
  WriteMarked(dir, 2);
  CHECK(WaitFor([&] { return reason() == "marker 2 data 2"; }));
  // A burst of writes settles into few reloads, ending on the last content.
  int before = reloads.load();
  for (int i = 3; i <= 20; ++i) WriteMarked(dir, i);
  CHECK(WaitFor([&] { return reason() == "marker 20 data 20"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(reloads.load() - before <= 4);
  // A broken file: the watch reload fails and the old policy stays.
  dir.Write("rules/marked.lua", "this is not lua");
  CHECK(WaitFor([&] {
    auto info = (*engine)->Info();
    return info.last_reload && !info.last_reload->ok && info.last_reload->trigger == "watch";
  }));
  CHECK(reason() == "marker 20 data 20");
  // Files in a folder created after start are watched too.
  dir.Write("policy.json", R"({"recrules":{"rules":["rules/marked.lua","extra/more.lua"]}})");
  WriteMarked(dir, 21);
  dir.Write("extra/more.lua", "return function() end");
  CHECK(WaitFor([&] { return reason() == "marker 21 data 21"; }));
  dir.Write("extra/more.lua", "return function() return recrules.skip{reason = 'more'} end");
  dir.Write("policy.json", R"({"recrules":{"rules":["extra/more.lua","rules/marked.lua"]}})");
  CHECK(WaitFor([&] { return reason() == "more"; }));
}

TEST_CASE("reload hammer: decisions on many threads while the policy is rewritten") {
  TempDir dir;
  dir.Write("policy.json", R"({"recrules":{"rules":["builtin:exclusions","rules/marked.lua"]}})");
  WriteMarked(dir, 0);
  // Reloads are explicit here: a watch could compile a rule file written before its data file.
  auto opened = recrules::Engine::Open(dir.path());
  REQUIRE(opened.ok());
  recrules::Engine& engine = **opened;

  std::atomic<bool> stop{false};
  std::atomic<long> decisions{0}, failures{0}, mixed{0};
  std::mutex seen_mu;
  std::map<std::string, std::string> marker_of_version;  // version -> "marker N data N"
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      recrules::Decision d;
      std::map<std::string, std::string> local;
      const std::string request = R"({"sid":"WR)" + std::to_string(t) + R"(","attributes":{}})";
      while (!stop.load()) {
        recrules::Status s = engine.Decide(request, {}, &d);
        decisions++;
        if (!s.ok() || !d.rule_errors.empty() || d.rule != "rules/marked.lua") {
          failures++;
          continue;
        }
        // Rule text and data file are written together with the same marker: a decision that
        // mixed two versions would show two different numbers.
        auto a = d.reason.substr(7, d.reason.find(' ', 7) - 7);
        auto b = d.reason.substr(d.reason.rfind(' ') + 1);
        if (a != b) mixed++;
        auto [it, inserted] = local.emplace(d.policy_version, d.reason);
        if (!inserted && it->second != d.reason) mixed++;
      }
      std::lock_guard<std::mutex> lock(seen_mu);
      for (auto& [v, r] : local) {
        auto [it, inserted] = marker_of_version.emplace(v, r);
        if (!inserted && it->second != r) mixed++;
      }
    });
  }
  int ok_reloads = 0, failed_reloads = 0;
  for (int i = 1; i <= 300; ++i) {
    if (i % 3 == 0) {
      dir.Write("rules/marked.lua", "return function(task\n");  // broken
    } else {
      WriteMarked(dir, i);
    }
    auto r = engine.Reload("hammer");
    (r.ok ? ok_reloads : failed_reloads)++;
  }
  stop = true;
  for (auto& th : threads) th.join();
  MESSAGE("decisions: " << decisions.load() << ", reloads ok/failed: " << ok_reloads << "/"
                        << failed_reloads << ", versions seen: " << marker_of_version.size());
  CHECK(failures.load() == 0);
  CHECK(mixed.load() == 0);
  CHECK(decisions.load() > 300);
  CHECK(failed_reloads >= 100);
  CHECK(marker_of_version.size() > 1);
}
