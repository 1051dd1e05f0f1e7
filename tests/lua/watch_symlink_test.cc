// The policy folder watch follows symlinks: a rules/ folder or a rule file that is a symlink to
// a shared rule library (examples/policy/rules -> ../../rules) reloads when the library's file
// is edited, not only on SIGHUP or the reload API.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "lua_test_util.h"

using recrules::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string Rule(int marker) {
  return "return function(task, ctx) return recrules.record{reason = 'marker " +
         std::to_string(marker) + "'} end\n";
}

bool WaitFor(const std::function<bool()>& done, int timeout_ms = 5000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// An engine watching `dir` (debounce 50 ms); Reason() is the reason of a decision now.
struct WatchedEngine {
  explicit WatchedEngine(const TempDir& dir) {
    recrules::EngineOptions options;
    options.watch_policy = true;
    options.watch_debounce_ms = 50;
    auto e = recrules::Engine::Open(dir.path(), options);
    REQUIRE_MESSAGE(e.ok(), e.status().message());
    engine = std::move(e).value();
  }
  std::string Reason() {
    recrules::Decision d;
    REQUIRE(engine->Decide("{}", {}, &d).ok());
    return d.reason;
  }
  std::unique_ptr<recrules::Engine> engine;
};

// Replaces `path` the way editors and deploy tools do: a new file renamed over the old one.
void ReplaceByRename(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  { std::ofstream(tmp, std::ios::trunc) << text; }
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

}  // namespace

TEST_CASE("the folder watch follows symlinked folders and files to their targets") {
  TempDir library;  // a shared rule library outside the policy folder
  TempDir policy;

  SUBCASE("rules/ is a symlink to a folder: editing a rule in the target reloads") {
    library.Write("marked.lua", Rule(1));
    fs::create_directory_symlink(library.path(), policy.file("rules"));
    policy.Write("policy.json", R"({"recrules":{"rules":["rules/marked.lua"]}})");
    WatchedEngine w(policy);
    REQUIRE(w.Reason() == "marker 1");
    library.Write("marked.lua", Rule(2));
    CHECK(WaitFor([&] { return w.Reason() == "marker 2"; }));
    ReplaceByRename(library.file("marked.lua"), Rule(3));
    CHECK(WaitFor([&] { return w.Reason() == "marker 3"; }));
  }
  SUBCASE("a folder inside the symlinked folder is followed too") {
    library.Write("pci/marked.lua", Rule(1));
    fs::create_directory_symlink(library.path(), policy.file("rules"));
    policy.Write("policy.json", R"({"recrules":{"rules":["rules/pci/marked.lua"]}})");
    WatchedEngine w(policy);
    REQUIRE(w.Reason() == "marker 1");
    library.Write("pci/marked.lua", Rule(2));
    CHECK(WaitFor([&] { return w.Reason() == "marker 2"; }));
  }
  SUBCASE("a rule file that is a symlink: its target's edits reload, in place or by rename") {
    library.Write("marked.lua", Rule(1));
    policy.Write("policy.json", R"({"recrules":{"rules":["rules/marked.lua"]}})");
    fs::create_directories(policy.file("rules"));
    fs::create_symlink(library.file("marked.lua"), policy.file("rules/marked.lua"));
    WatchedEngine w(policy);
    REQUIRE(w.Reason() == "marker 1");
    library.Write("marked.lua", Rule(2));
    CHECK(WaitFor([&] { return w.Reason() == "marker 2"; }));
    ReplaceByRename(library.file("marked.lua"), Rule(3));
    CHECK(WaitFor([&] { return w.Reason() == "marker 3"; }));
    // The watch on the replaced file's folder still serves the next edit.
    library.Write("marked.lua", Rule(4));
    CHECK(WaitFor([&] { return w.Reason() == "marker 4"; }));
  }
  SUBCASE("a symlink pointed elsewhere reloads, and the new target is watched") {
    library.Write("v1/marked.lua", Rule(1));
    library.Write("v2/marked.lua", Rule(2));
    fs::create_directory_symlink(library.file("v1"), policy.file("rules"));
    policy.Write("policy.json", R"({"recrules":{"rules":["rules/marked.lua"]}})");
    WatchedEngine w(policy);
    REQUIRE(w.Reason() == "marker 1");
    // Re-pointed atomically, as deploy tools do (ln -sfn): a new link renamed over the old.
    fs::create_directory_symlink(library.file("v2"), policy.file("rules.new"));
    fs::rename(policy.file("rules.new"), policy.file("rules"));
    CHECK(WaitFor([&] { return w.Reason() == "marker 2"; }));
    library.Write("v2/marked.lua", Rule(3));
    CHECK(WaitFor([&] { return w.Reason() == "marker 3"; }));
  }
  SUBCASE("a symlink loop inside the policy does not hang the watch") {
    policy.Write("rules/marked.lua", Rule(1));
    fs::create_directory_symlink(policy.path(), policy.file("rules/loop"));
    policy.Write("policy.json", R"({"recrules":{"rules":["rules/marked.lua"]}})");
    WatchedEngine w(policy);
    REQUIRE(w.Reason() == "marker 1");
    policy.Write("rules/marked.lua", Rule(2));
    CHECK(WaitFor([&] { return w.Reason() == "marker 2"; }));
  }
}
