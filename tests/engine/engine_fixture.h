// An engine over a policy written from a string, for tests.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "../test_util.h"
#include "recrules/engine.h"

namespace recrules::testing {

class PolicyFixture {
 public:
  explicit PolicyFixture(const std::string& policy_json) {
    path_ = dir_.Write("policy.json", policy_json);
    auto e = Engine::Open(dir_.path());
    if (!e.ok()) FAIL("policy did not load: " << e.status().message());
    engine_ = std::move(e).value();
  }
  Engine& engine() { return *engine_; }
  const TempDir& dir() const { return dir_; }

  // Decides `request` from its text, and checks that the same request parsed beforehand (a
  // kept task, read through its key layout: once to learn the layout, once to use it) is
  // decided alike.
  Decision Decide(const std::string& request, DecideOptions options = {}) {
    Decision d;
    Status s = engine_->Decide(request, options, &d);
    if (!s.ok()) FAIL("decide failed: " << s.message());
    auto parsed = ParseRequest(request);
    REQUIRE(parsed.ok());
    for (int pass = 0; pass < 2; ++pass) {
      Decision kept;
      REQUIRE(engine_->Decide(*parsed, options, &kept).ok());
      CHECK(kept.action == d.action);
      CHECK(kept.rule == d.rule);
      CHECK(kept.matched == d.matched);
      CHECK(kept.reason == d.reason);
    }
    return d;
  }

 private:
  TempDir dir_;
  std::string path_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace recrules::testing
