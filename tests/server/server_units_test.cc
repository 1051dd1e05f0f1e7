// Unit tests of the adapter's small parts: form decoding, access rules, metrics text, known
// calls.
#include <doctest/doctest.h>

#include <thread>

#include "server/access.h"
#include "server/form.h"
#include "server/known_calls.h"
#include "server/metrics.h"

using namespace recrules::server;

TEST_CASE("ParseForm decodes application/x-www-form-urlencoded") {
  SUBCASE("plus, percent escapes, empty values, repeated keys") {
    auto f = ParseForm("a=1&b=x%20y+z&c=&d&a=2&e=%7B%22k%22%3A1%7D");
    REQUIRE(f.ok());
    REQUIRE(f->size() == 6);
    CHECK((*f)[1] == std::pair<std::string, std::string>{"b", "x y z"});
    CHECK((*f)[2].second.empty());
    CHECK((*f)[3].first == "d");
    CHECK(*FindField(*f, "a") == "1");
    CHECK(*FindField(*f, "e") == "{\"k\":1}");
    CHECK(FindField(*f, "zz") == nullptr);
  }
  SUBCASE("empty input and stray ampersands") {
    CHECK(ParseForm("")->empty());
    CHECK(ParseForm("&&a=1&")->size() == 1);
  }
  SUBCASE("bad escapes name their byte offset") {
    CHECK(ParseForm("a=%2").status().message() ==
          "bad form encoding: invalid percent-escape at byte 2");
    CHECK(ParseForm("ab%zz=1").status().message() ==
          "bad form encoding: invalid percent-escape at byte 2");
    CHECK(ParseForm("a=1&b=%").status().message() ==
          "bad form encoding: invalid percent-escape at byte 6");
  }
}

TEST_CASE("access rules") {
  CHECK(SplitTokens(" a, b ,,c ") == std::vector<std::string>{"a", "b", "c"});
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK(IsLoopbackHost("127.5.6.7"));
  CHECK(IsLoopbackHost("::1"));
  CHECK(IsLoopbackHost("localhost"));
  CHECK_FALSE(IsLoopbackHost("0.0.0.0"));
  CHECK_FALSE(IsLoopbackHost("10.0.0.1"));
  CHECK_FALSE(IsLoopbackHost("::"));

  AccessConfig open;
  CHECK(open.open());
  CHECK(CheckAccessForListen(open, "127.0.0.1").ok());
  CHECK(CheckAccessForListen(open, "0.0.0.0")
            .message()
            .rfind("refusing to listen on 0.0.0.0 without authentication", 0) == 0);
  AccessConfig tokens;
  tokens.api_tokens = {"s3cret"};
  CHECK(CheckAccessForListen(tokens, "0.0.0.0").ok());
  CHECK(IsApiToken(tokens, "s3cret"));
  CHECK_FALSE(IsApiToken(tokens, "s3cre"));
  CHECK_FALSE(IsApiToken(tokens, ""));

  CHECK(BearerToken("Bearer abc") == "abc");
  CHECK(BearerToken("bearer  abc ") == "abc");
  CHECK(BearerToken("Basic abc").empty());
  CHECK(BearerToken("Bearer").empty());

  CHECK(AllowedOrigin(open, "https://flex.twilio.com") == "https://flex.twilio.com");
  CHECK(AllowedOrigin(open, "https://other.example").empty());
  AccessConfig any;
  any.cors_origins = {"*"};
  CHECK(AllowedOrigin(any, "https://other.example") == "*");
  CHECK(AllowedOrigin(any, "").empty());
}

TEST_CASE("metrics: rule errors are counted by rule, without their line") {
  Metrics m;
  recrules::Decision d;
  d.rule = "default";
  d.latency_ns = 3000;
  d.rule_errors = {"consent.lua:12: attempt to index a nil value", "builtin:exclusions: boom"};
  m.CountDecision(d);
  std::string text = m.Render("v1");
  CHECK(text.find("recrules_rule_errors_total{rule=\"consent.lua\"} 1") != std::string::npos);
  CHECK(text.find("recrules_rule_errors_total{rule=\"builtin:exclusions\"} 1") !=
        std::string::npos);
  CHECK(text.find("recrules_decision_latency_seconds_bucket{le=\"5e-06\"} 1") != std::string::npos);
  CHECK(text.find("recrules_decision_latency_seconds_bucket{le=\"2.5e-06\"} 0") !=
        std::string::npos);
  CHECK(text.find("recrules_policy_info{version=\"v1\"} 1") != std::string::npos);
}

TEST_CASE("KnownCalls: by call and conference SID, latest task wins, bounded, aged") {
  auto task = [](const std::string& queue, const std::string& call, const std::string& conf) {
    std::string attributes = "{\"call_sid\":\"" + call + "\"";
    if (!conf.empty()) attributes += ",\"conference\":{\"sid\":\"" + conf + "\"}";
    auto t = recrules::Task::FromJson("{\"queueName\":\"" + queue +
                                      "\",\"attributes\":" + attributes + "}}");
    REQUIRE(t.ok());
    return *t;
  };
  SUBCASE("found by either SID; a newer task replaces the older") {
    KnownCalls known(10);
    known.Remember(task("Sales", "CA1", "CF1"));
    REQUIRE(known.Find("CA1"));
    CHECK(known.Find("CA1")->queue_name() == "Sales");
    CHECK(known.Find("CF1")->queue_name() == "Sales");
    CHECK_FALSE(known.Find("CA2"));
    CHECK_FALSE(known.Find(""));
    known.Remember(task("Trading Desk", "CA1", ""));
    CHECK(known.Find("CA1")->queue_name() == "Trading Desk");
    CHECK(known.Find("CF1")->queue_name() == "Sales");
    known.Remember("CA9", task("Sales", "CA1", ""));  // e.g. the worker's leg
    CHECK(known.Find("CA9"));
    CHECK(known.size() == 3);
  }
  SUBCASE("the first remembered leaves first when full") {
    KnownCalls known(3);
    for (int i = 0; i < 5; ++i) known.Remember("CA" + std::to_string(i), task("q", "x", ""));
    CHECK(known.size() == 3);
    CHECK_FALSE(known.Find("CA0"));
    CHECK_FALSE(known.Find("CA1"));
    CHECK(known.Find("CA2"));
    CHECK(known.Find("CA4"));
  }
  SUBCASE("an entry older than the maximum age is not used") {
    KnownCalls known(3, {}, std::chrono::milliseconds(20));
    known.Remember(task("q", "CA1", ""));
    CHECK(known.Find("CA1"));
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    CHECK_FALSE(known.Find("CA1"));
  }
  SUBCASE("a request's JSON text, parsed again when found") {
    KnownCalls known(10);
    known.RememberRequest("CA7", "CF7",
                          R"({"event":"accept","task":{"queueName":"Sales","attributes":)"
                          R"({"call_sid":"CA7","conference":{"sid":"CF7"}}}})");
    REQUIRE(known.Find("CA7"));
    CHECK(known.Find("CA7")->queue_name() == "Sales");
    CHECK(known.Find("CF7")->conference_sid() == "CF7");
    known.RememberRequest("", "", "{}");  // no SID: nothing to remember
    CHECK(known.size() == 2);
  }
  SUBCASE("capacity 0 remembers nothing") {
    KnownCalls known(0);
    CHECK_FALSE(known.enabled());
    known.Remember(task("q", "CA1", ""));
    CHECK_FALSE(known.Find("CA1"));
    CHECK(known.size() == 0);
  }
}

TEST_CASE("KnownCalls: one reconciler makes a task's recording match the latest decision") {
  using Want = KnownCalls::Want;
  KnownCalls known(10);
  // Nothing paused and nothing wanted: no reconciler.
  CHECK(known.WantPaused("WT1", false, 100) == Want::kAsIs);
  // A pause is wanted: one reconciler, whose step is a pause.
  CHECK(known.WantPaused("WT1", true, 101) == Want::kRunReconciler);
  CHECK(known.WantPaused("WT1", true, 101) == Want::kAsIs);  // already running
  auto step = known.NextStep("WT1");
  REQUIRE(step);
  CHECK(step->pause);
  // While the pause is in flight, the decision flips to record: the same reconciler resumes.
  CHECK(known.WantPaused("WT1", false, 102) == Want::kAsIs);
  known.StepDone("WT1", true, "RE1");
  step = known.NextStep("WT1");
  REQUIRE(step);
  CHECK_FALSE(step->pause);
  CHECK(step->paused_sid == "RE1");
  known.StepDone("WT1", true, "");
  CHECK_FALSE(known.NextStep("WT1"));  // as wanted: the reconciler ends
  // An event sent before the last one recorded (out of order, or replayed) changes nothing.
  CHECK(known.WantPaused("WT1", true, 101) == Want::kStale);
  CHECK_FALSE(known.NextStep("WT1"));
  // A failed step ends the reconciler; the next decision starts another.
  CHECK(known.WantPaused("WT1", true, 103) == Want::kRunReconciler);
  REQUIRE(known.NextStep("WT1"));
  known.StepDone("WT1", false, "");
  CHECK(known.WantPaused("WT1", true, 103) == Want::kRunReconciler);  // same second: not stale
  CHECK(known.WantPaused("WT1", false, 0) == Want::kAsIs);            // no timestamp: applied
  CHECK(known.WantPaused("WT1", true, 103) == Want::kAsIs);           // the order kept from before
  // Tasks are independent.
  CHECK(known.WantPaused("WT2", true, 1) == Want::kRunReconciler);
  // The dual-channel leg, by task.
  CHECK(known.LegOf("WT1").empty());
  known.SetLeg("WT1", "CA9");
  CHECK(known.LegOf("WT1") == "CA9");
}

TEST_CASE("KnownCalls: a recording recrules paused is never forgotten to make room") {
  using Want = KnownCalls::Want;
  KnownCalls known(2);
  REQUIRE(known.WantPaused("WT-paused", true, 1) == Want::kRunReconciler);
  REQUIRE(known.NextStep("WT-paused"));
  known.StepDone("WT-paused", true, "RE1");
  CHECK_FALSE(known.NextStep("WT-paused"));  // paused, as wanted; the reconciler ended
  // Many newer tasks come and go past the capacity of 2.
  for (int i = 0; i < 10; ++i) known.SetLeg("WT" + std::to_string(i), "CA" + std::to_string(i));
  CHECK(known.LegOf("WT0").empty());  // an ordinary old entry was forgotten
  CHECK(known.LegOf("WT9") == "CA9");
  // The paused one is still known: when the decision says record, it is resumed.
  REQUIRE(known.WantPaused("WT-paused", false, 2) == Want::kRunReconciler);
  auto step = known.NextStep("WT-paused");
  REQUIRE(step);
  CHECK_FALSE(step->pause);
  CHECK(step->paused_sid == "RE1");
}
