// The engine: events and their defaults, explain traces, reload.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "engine_fixture.h"

using recrules::Action;
using recrules::DecideOptions;
using recrules::Decision;
using recrules::Engine;
using recrules::Event;
using recrules::PauseBehavior;
using recrules::ReloadResult;
using recrules::testing::PolicyFixture;

namespace {

const char* kPolicy = R"({"features":{"conditional_recording":{"enabled":true,
  "exclude_queues":["Legal"]},"pause_recording":{"enabled":true,"include_silence":true}}})";
const char* kTask = R"({"sid":"WR1","taskSid":"WT1","queueName":"Sales","queueSid":"WQ1",
  "taskChannelUniqueName":"voice","attributes":{"call_sid":"CA1","conference":{"sid":"CF1"}}})";

std::string WithEvent(const char* event) {
  return std::string(R"({"event":")") + event + R"(","task":)" + kTask + "}";
}

}  // namespace

TEST_CASE("a decision carries every field of DESIGN.md §3") {
  PolicyFixture f(kPolicy);
  Decision d = f.Decide(kTask);
  CHECK(d.id.size() == 16);
  CHECK(d.event == Event::kAccept);
  CHECK(d.action == Action::kRecord);
  CHECK(d.conference_record);
  CHECK(d.rule == "default");
  CHECK(d.policy_version == f.engine().PolicyVersion());
  CHECK(d.task_sid == "WT1");
  CHECK(d.reservation_sid == "WR1");
  CHECK(d.call_sid == "CA1");
  CHECK(d.conference_sid == "CF1");
  CHECK(d.trace.empty());
  std::string json = d.ToJson();
  CHECK(
      json.find(
          R"("action":"record","mode":"conference","channel":null,"conferenceRecord":true,"pauseBehavior":null,"rule":"default")") !=
      std::string::npos);
  CHECK(json.find(R"("policy":")" + d.policy_version + "\"") != std::string::npos);
  CHECK(f.Decide(kTask).id != d.id);
}

// latencyUs is written without printf; it must read as printf's "%.3f" of microseconds did.
TEST_CASE("a decision's latency is microseconds with three decimals") {
  Decision d;
  for (int64_t ns : {int64_t(0), int64_t(7), int64_t(999), int64_t(1000), int64_t(1234),
                     int64_t(12345678), int64_t(-2500), int64_t(1) << 50}) {
    CAPTURE(ns);
    d.latency_ns = ns;
    char expected[64];
    std::snprintf(expected, sizeof expected, "\"latencyUs\":%.3f", double(ns) / 1000.0);
    CHECK(d.ToJson().find(expected) != std::string::npos);
  }
}

TEST_CASE("each event has its own default") {
  PolicyFixture f(kPolicy);
  SUBCASE("update follows the policy default") {
    CHECK(f.Decide(WithEvent("update")).action == Action::kRecord);
  }
  SUBCASE("a pause request is granted when pause_recording is enabled") {
    Decision d = f.Decide(WithEvent("pause_request"));
    CHECK(d.action == Action::kPause);
    CHECK(d.pause_behavior == PauseBehavior::kSilence);  // include_silence: true
    CHECK(d.ToJson().find(R"("pauseBehavior":"silence")") != std::string::npos);
  }
  SUBCASE("a resume request is granted") {
    CHECK(f.Decide(WithEvent("resume_request")).action == Action::kRecord);
  }
  SUBCASE("a pause request is refused when pause_recording is not enabled") {
    PolicyFixture off(R"({"features":{}})");
    Decision d = off.Decide(WithEvent("pause_request"));
    CHECK(d.action == Action::kRecord);
    CHECK(d.reason == "pause request refused: features.pause_recording is not enabled");
  }
  SUBCASE("DecideOptions::event overrides the request's event") {
    DecideOptions o;
    o.event = Event::kResumeRequest;
    CHECK(f.Decide(kTask, o).event == Event::kResumeRequest);
  }
}

TEST_CASE("explain traces every rule consulted") {
  PolicyFixture f(kPolicy);
  DecideOptions o;
  o.explain = true;
  Decision d = f.Decide(R"({"queueName":"Legal","taskChannelUniqueName":"voice"})", o);
  REQUIRE(d.trace.size() == 2);
  CHECK(d.trace[0].rule == "builtin:non_voice");
  CHECK(d.trace[0].outcome == "pass");
  CHECK(d.trace[1].rule == "builtin:exclusions");
  CHECK(d.trace[1].outcome == "skip");
  CHECK(d.trace[1].matched == "features.conditional_recording.exclude_queues[0]");
  CHECK(d.ToJson().find(R"("trace":[{"rule":"builtin:non_voice","outcome":"pass")") !=
        std::string::npos);
}

// A rule that can only pass under its policy (here the dual-channel guards, with dual-channel
// recording off) is not run for a decision, but an explained decision still lists it.
TEST_CASE("explain lists rules that can only pass under the policy") {
  PolicyFixture f(R"({"features":{"conditional_recording":{"enabled":true}},"recrules":{"rules":[
    "builtin:internal_calls","builtin:already_recorded","builtin:exclusions"]}})");
  DecideOptions o;
  o.explain = true;
  Decision d = f.Decide(
      R"({"queueName":"Q","attributes":{"client_call":true,"conversations":{"media":[{}]}}})", o);
  CHECK(d.action == Action::kRecord);
  CHECK(d.rule == "default");
  REQUIRE(d.trace.size() == 3);
  for (const auto& entry : d.trace) CHECK(entry.outcome == "pass");
  CHECK(d.trace[0].rule == "builtin:internal_calls");
  CHECK(d.trace[2].rule == "builtin:exclusions");
  CHECK(f.Decide(R"({"queueName":"Q","attributes":{"client_call":true}})").rule == "default");
}

TEST_CASE("bad input is an error, not a decision") {
  PolicyFixture f(kPolicy);
  Decision d;
  auto s = f.engine().Decide("{\"task\": nope}", {}, &d);
  CHECK(s.code() == recrules::StatusCode::kInvalidInput);
  CHECK(s.message().rfind("request: malformed JSON at line 1, column 11", 0) == 0);
}

// Issue 23 item 2: a running serve died (stack overflow) reloading a 100 000-deep policy.json.
TEST_CASE("a reload of a policy nested too deep keeps the old policy") {
  PolicyFixture f(kPolicy);
  const std::string v1 = f.engine().PolicyVersion();
  f.dir().Write("policy.json", R"({"features":{"x":)" + std::string(100000, '[') +
                                   std::string(100000, ']') + "}}");
  ReloadResult bad = f.engine().Reload("test");
  CHECK_FALSE(bad.ok);
  CHECK(bad.error.find("policy.json: JSON nesting is deeper than 64 levels") != std::string::npos);
  CHECK(f.Decide(kTask).policy_version == v1);
}

TEST_CASE("reload swaps in a valid policy and keeps the old one when the new one is bad") {
  PolicyFixture f(kPolicy);
  const std::string v1 = f.engine().PolicyVersion();
  std::vector<ReloadResult> seen;
  int id = f.engine().Subscribe([&](const ReloadResult& r) { seen.push_back(r); });

  f.dir().Write("policy.json", R"({"features":{"conditional_recording":{"enabled":true,
    "exclude_queues":["Sales"]}}})");
  ReloadResult ok = f.engine().Reload("test");
  CHECK(ok.ok);
  CHECK(ok.previous_version == v1);
  CHECK(ok.version != v1);
  CHECK(f.Decide(kTask).action == Action::kSkip);
  CHECK(f.Decide(kTask).policy_version == ok.version);

  f.dir().Write("policy.json", R"({"features":{"conditional_recording":{"enabled":"yes"}}})");
  ReloadResult bad = f.engine().Reload("test");
  CHECK_FALSE(bad.ok);
  CHECK(bad.version == ok.version);
  CHECK(bad.error.find("features.conditional_recording.enabled: expected a boolean, got string") !=
        std::string::npos);
  CHECK(f.Decide(kTask).policy_version == ok.version);  // old policy still in force
  auto info = f.engine().Info();
  REQUIRE(info.last_reload);
  CHECK_FALSE(info.last_reload->ok);

  REQUIRE(seen.size() == 2);
  CHECK(seen[0].ok);
  CHECK_FALSE(seen[1].ok);
  f.engine().Unsubscribe(id);
  f.engine().Reload("test");
  CHECK(seen.size() == 2);
}

TEST_CASE("decisions from many threads during reloads each see exactly one version") {
  PolicyFixture f(
      R"({"features":{"conditional_recording":{"enabled":true,"exclude_queues":["A"]}}})");
  const std::string policy_a =
      R"({"features":{"conditional_recording":{"enabled":true,"exclude_queues":["Sales"]}}})";
  const std::string policy_b =
      R"({"features":{"conditional_recording":{"enabled":true,"exclude_queues":["Other"]}}})";
  // Learn each version's expected action.
  f.dir().Write("policy.json", policy_a);
  const std::string va = f.engine().Reload().version;
  f.dir().Write("policy.json", policy_b);
  const std::string vb = f.engine().Reload().version;

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, decisions{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      Decision d;
      while (!stop.load()) {
        if (!f.engine().Decide(kTask, {}, &d).ok()) ++failures;
        bool consistent = (d.policy_version == va && d.action == Action::kSkip) ||
                          (d.policy_version == vb && d.action == Action::kRecord);
        if (!consistent) ++failures;
        ++decisions;
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    f.dir().Write("policy.json",
                  i % 3 == 2 ? std::string("{broken") : (i % 2 ? policy_a : policy_b));
    f.engine().Reload("test");
  }
  stop = true;
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(decisions.load() > 0);
}
