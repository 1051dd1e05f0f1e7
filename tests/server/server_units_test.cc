// Unit tests of the adapter's small parts: form decoding, access rules, metrics text, known
// calls.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/access.h"
#include "server/form.h"
#include "server/memory_call_store.h"
#include "server/metrics.h"
#include "server/recording_actions.h"
#include "server/token_checks.h"
#include "test_util.h"

using namespace recrules::server;
using nlohmann::json;

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

TEST_CASE("token checks: at most max_in_flight wait or run; more are refused, not queued") {
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  TokenChecks checks(/*threads=*/1, /*max_in_flight=*/2);
  auto blocked = [&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++ran;
  };
  CHECK(checks.TryPost(blocked));  // runs, waits
  CHECK(checks.TryPost(blocked));  // queued behind it
  CHECK_FALSE(checks.TryPost(blocked));
  release = true;
  checks.Join();
  CHECK(ran == 2);
}

TEST_CASE("access rules") {
  CHECK(*ParseApiTokens(" a, b ,\tc ") == std::vector<std::string>{"a", "b", "c"});
  CHECK(*ParseApiTokens("one") == std::vector<std::string>{"one"});
  // Issue 23: an empty list or an empty item is refused, not dropped (it opened every route).
  for (const char* none : {"", ",", " ", " , ", ",,"}) {
    CAPTURE(none);
    auto parsed = ParseApiTokens(none);
    REQUIRE_FALSE(parsed.ok());
  }
  CHECK(ParseApiTokens(" ").status().message() ==
        "RECRULES_API_TOKENS is set but holds no token: list tokens separated by commas, or unset "
        "it");
  CHECK(ParseApiTokens(",").status().message() ==
        "RECRULES_API_TOKENS: item 1 of 2 is empty (two commas in a row, or a comma at an end)");
  CHECK(ParseApiTokens("a,,b").status().message() ==
        "RECRULES_API_TOKENS: item 2 of 3 is empty (two commas in a row, or a comma at an end)");
  CHECK_FALSE(ParseApiTokens("a,").ok());
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

TEST_CASE("metrics: recording status callbacks by Twilio's status; other words are one label") {
  Metrics m;
  m.CountRecordingStatus("in-progress");
  m.CountRecordingStatus("absent");
  m.CountRecordingStatus("absent");
  m.CountRecordingStatus("made-up-1");
  m.CountRecordingStatus("made-up-2");
  std::string text = m.Render("v1");
  CHECK(text.find("# TYPE recrules_recordings_total counter") != std::string::npos);
  CHECK(text.find("recrules_recordings_total{status=\"in-progress\"} 1") != std::string::npos);
  CHECK(text.find("recrules_recordings_total{status=\"absent\"} 2") != std::string::npos);
  CHECK(text.find("recrules_recordings_total{status=\"other\"} 2") != std::string::npos);
  CHECK(text.find("made-up") == std::string::npos);
}

TEST_CASE("MemoryCallStore: by call and conference SID, latest task wins, bounded, aged") {
  auto task = [](const std::string& queue, const std::string& call, const std::string& conf) {
    std::string attributes = "{\"call_sid\":\"" + call + "\"";
    if (!conf.empty()) attributes += ",\"conference\":{\"sid\":\"" + conf + "\"}";
    auto t = recrules::Task::FromJson("{\"queueName\":\"" + queue +
                                      "\",\"attributes\":" + attributes + "}}");
    REQUIRE(t.ok());
    return *t;
  };
  SUBCASE("found by either SID; a newer task replaces the older") {
    MemoryCallStore known(10);
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
    MemoryCallStore known(3);
    for (int i = 0; i < 5; ++i) known.Remember("CA" + std::to_string(i), task("q", "x", ""));
    CHECK(known.size() == 3);
    CHECK_FALSE(known.Find("CA0"));
    CHECK_FALSE(known.Find("CA1"));
    CHECK(known.Find("CA2"));
    CHECK(known.Find("CA4"));
  }
  SUBCASE("an entry older than the maximum age is not used") {
    MemoryCallStore known(3, {}, std::chrono::milliseconds(20));
    known.Remember(task("q", "CA1", ""));
    CHECK(known.Find("CA1"));
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    CHECK_FALSE(known.Find("CA1"));
  }
  SUBCASE("a request's JSON text, parsed again when found") {
    MemoryCallStore known(10);
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
    MemoryCallStore known(0);
    CHECK_FALSE(known.enabled());
    known.Remember(task("q", "CA1", ""));
    CHECK_FALSE(known.Find("CA1"));
    CHECK(known.size() == 0);
  }
}

TEST_CASE("MemoryCallStore: one reconciler makes a task's recording match the latest decision") {
  using Want = MemoryCallStore::Want;
  MemoryCallStore known(10);
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

TEST_CASE("MemoryCallStore: a recording recrules paused is never forgotten to make room") {
  using Want = MemoryCallStore::Want;
  MemoryCallStore known(2);
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

namespace {

size_t LineCount(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

const char* kTradingRequest =
    R"({"event":"accept",
        "task":{"queueName":"Trading Desk","attributes":{"call_sid":"CA1","conference":{"sid":"CF1"}}}})";

// As a journal line holds it: on one line.
const char* kOneLineRequest =
    R"({"task":{"queueName":"Trading Desk","attributes":{"call_sid":"CA1"}}})";

FormFields TaskRouterFields(const std::string& call_sid, const std::string& queue) {
  return {{"TaskSid", "WT" + call_sid},
          {"TaskQueueName", queue},
          {"TaskChannelUniqueName", "voice"},
          {"TaskAttributes", "{\"call_sid\":\"" + call_sid + "\"}"}};
}

}  // namespace

TEST_CASE("MemoryCallStore: a state file keeps calls and paused recordings across a restart") {
  recrules::testing::TempDir dir;
  const std::string path = dir.file("state.jsonl");
  {
    MemoryCallStore known(10);
    REQUIRE(known.OpenStateFile(path).ok());  // no file yet: an empty one
    known.RememberRequest("CA1", "CF1", kTradingRequest);
    FormFields fields = TaskRouterFields("CA2", "Sales");
    auto task = recrules::Task::FromForm(fields);
    REQUIRE(task.ok());
    known.Remember(*task, &fields);
    known.Remember("CA9", *task, &fields);  // the worker's leg
    known.SetLeg("WTCA2", "CA9");
    REQUIRE(known.WantPaused("WTCA2", true, 100) == MemoryCallStore::Want::kRunReconciler);
    REQUIRE(known.NextStep("WTCA2"));
    known.StepDone("WTCA2", true, "RE1");
    CHECK_FALSE(known.NextStep("WTCA2"));
    known.Close();
  }
  MemoryCallStore known(10);
  REQUIRE(known.OpenStateFile(path).ok());
  CHECK(known.size() == 4);
  REQUIRE(known.Find("CF1"));
  CHECK(known.Find("CF1")->queue_name() == "Trading Desk");
  CHECK(known.Find("CA1")->call_sid() == "CA1");
  REQUIRE(known.Find("CA9"));
  CHECK(known.Find("CA9")->queue_name() == "Sales");
  CHECK(known.Find("CA2")->task_sid() == "WTCA2");
  CHECK(known.LegOf("WTCA2") == "CA9");
  // The pause recrules made is known: the next record decision resumes it.
  CHECK(known.WantPaused("WTCA2", false, 99) == MemoryCallStore::Want::kStale);
  REQUIRE(known.WantPaused("WTCA2", false, 101) == MemoryCallStore::Want::kRunReconciler);
  auto step = known.NextStep("WTCA2");
  REQUIRE(step);
  CHECK_FALSE(step->pause);
  CHECK(step->paused_sid == "RE1");
  // Opening rewrote the file compactly: a call and its conference share one line.
  known.Close();
  const std::string text = recrules::testing::ReadFile(path);
  CHECK(text.find(R"("sids":["CA1","CF1"])") != std::string::npos);
}

TEST_CASE("MemoryCallStore: a request comes back from the state file as its own text") {
  recrules::testing::TempDir dir;
  const std::string path = dir.file("state.jsonl");
  // Keys out of order and a number with a trailing zero: a JSON writer would change both.
  const std::string attributes = R"({"call_sid":"CA5","z":1,"a":1.50,"s":"x\"y"})";
  {
    MemoryCallStore known(10);
    REQUIRE(known.OpenStateFile(path).ok());
    known.RememberRequest("CA5", "",
                          R"({"task":{"queueName":"Sales","attributes":)" + attributes + "}}");
  }
  for (int restart = 0; restart < 2; ++restart) {  // restored, written again, restored again
    MemoryCallStore known(10);
    REQUIRE(known.OpenStateFile(path).ok());
    REQUIRE(known.Find("CA5"));
    CHECK(known.Find("CA5")->queue_name() == "Sales");
  }
  CHECK(recrules::testing::ReadFile(path).find(attributes) != std::string::npos);
}

TEST_CASE("MemoryCallStore: the state file is rewritten before it grows without bound") {
  recrules::testing::TempDir dir;
  const std::string path = dir.file("state.jsonl");
  MemoryCallStore known(100);
  REQUIRE(known.OpenStateFile(path).ok());
  // The same 100 calls over and over: 20 000 changes, never more than 100 entries. Each change
  // waits for a rewrite it set off, so that no line arrives during one (those follow its
  // snapshot, and how many do depends on the scheduler).
  for (int i = 0; i < 20000; ++i) {
    const std::string sid = "CA" + std::to_string(i % 100);
    known.RememberRequest(sid, "",
                          R"({"task":{"queueName":"q)" + std::to_string(i) +
                              R"(","attributes":{"call_sid":")" + sid + R"("}}})");
    known.WaitForRewrite();
  }
  known.Close();
  const size_t lines = LineCount(recrules::testing::ReadFile(path));
  CHECK(lines >= 100);
  // Rewritten once 4 x 100 + 1024 lines were appended: at most the 100 entries of the last
  // rewrite and the lines appended since remain, of the 20 000 appended.
  CHECK(lines <= 100 + 4 * 100 + 1024);
  MemoryCallStore again(100);
  REQUIRE(again.OpenStateFile(path).ok());
  CHECK(again.size() == 100);
  CHECK(again.Find("CA99")->queue_name() == "q19999");  // the latest task won
  CHECK(again.Find("CA0")->queue_name() == "q19900");
}

TEST_CASE("MemoryCallStore: changes made while the state file is rewritten are all kept") {
  recrules::testing::TempDir dir;
  const std::string path = dir.file("state.jsonl");
  constexpr int kThreads = 4, kCalls = 50, kRounds = 300;
  {
    MemoryCallStore known(kThreads * kCalls);
    REQUIRE(known.OpenStateFile(path).ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&known, t] {
        for (int round = 0; round < kRounds; ++round) {
          for (int c = 0; c < kCalls; ++c) {
            const std::string sid = "CA" + std::to_string(t) + "x" + std::to_string(c);
            known.RememberRequest(sid, "",
                                  R"({"task":{"queueName":"r)" + std::to_string(round) +
                                      R"(","attributes":{"call_sid":")" + sid + R"("}}})");
            if (c == 0) known.SetLeg("WT" + std::to_string(t), "CA" + std::to_string(round));
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    known.Close();
  }
  MemoryCallStore known(kThreads * kCalls);
  REQUIRE(known.OpenStateFile(path).ok());
  CHECK(known.size() == size_t(kThreads * kCalls));
  int latest = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int c = 0; c < kCalls; ++c) {
      auto task = known.Find("CA" + std::to_string(t) + "x" + std::to_string(c));
      latest += task && task->queue_name() == "r" + std::to_string(kRounds - 1);
    }
    CHECK(known.LegOf("WT" + std::to_string(t)) == "CA" + std::to_string(kRounds - 1));
  }
  CHECK(latest == kThreads * kCalls);
}

TEST_CASE(
    "MemoryCallStore: a state file's bad lines are skipped; one that cannot be written is an "
    "error") {
  recrules::testing::TempDir dir;
  SUBCASE("a torn last line, garbage, an old entry") {
    const std::string path = dir.Write(
        "state.jsonl", std::string("{\"at\":") +
                           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              MemoryCallStore::Clock::now().time_since_epoch())
                                              .count()) +
                           ",\"sids\":[\"CA1\"],\"request\":" + kOneLineRequest +
                           "}\nnot json\n{\"at\":1,\"sids\":[\"CA2\"],\"request\":{}}\n"
                           "{\"recording\":\"WT1\",\"leg\":7}\n{\"at\":1,\"sids\":[\"CA3");
    MemoryCallStore known(10);
    REQUIRE(known.OpenStateFile(path).ok());
    CHECK(known.size() == 1);
    CHECK(known.Find("CA1"));
    CHECK_FALSE(known.Find("CA2"));  // older than the maximum age
    CHECK(known.LegOf("WT1").empty());
  }
  SUBCASE("a folder that does not exist") {
    MemoryCallStore known(10);
    const std::string path = dir.file("missing/state.jsonl");
    recrules::Status s = known.OpenStateFile(path);
    CHECK_FALSE(s.ok());
    CHECK(s.message().find("--state-file " + path) == 0);
  }
  SUBCASE("no known calls: nothing to keep") {
    MemoryCallStore known(0);
    CHECK(known.OpenStateFile(dir.file("missing/state.jsonl")).ok());
  }
}

TEST_CASE("RecordingAsTwilioNode: the twilio library's RecordingInstance as JSON") {
  // The expected objects were printed by the `twilio` npm package (5.x, the template's) from
  // the same payload: JSON.stringify(new RecordingInstance(version, payload, ...)).
  json payload = json::parse(R"({
    "account_sid": "AC0123456789abcdef0123456789abcdef", "api_version": "2010-04-01",
    "call_sid": "CA0123456789abcdef0123456789abcdef", "conference_sid": null,
    "date_created": "Tue, 14 Nov 2023 22:13:20 +0000",
    "date_updated": "Tue, 14 Nov 2023 22:13:21 +0000",
    "start_time": "Tue, 14 Nov 2023 22:13:20 +0000", "duration": "-1",
    "sid": "RE0123456789abcdef0123456789abcdef", "price": null, "price_unit": "USD",
    "status": "in-progress", "channels": 2, "source": "StartCallRecordingAPI",
    "error_code": null, "track": "both", "encryption_details": null,
    "uri": "/2010-04-01/Accounts/AC0/Calls/CA0/Recordings/RE0.json",
    "subresource_uris": {"x": "y"}, "extra_field": 1})");
  CHECK(recrules::server::RecordingAsTwilioNode(payload, false) == json::parse(R"({
    "accountSid":"AC0123456789abcdef0123456789abcdef","apiVersion":"2010-04-01",
    "callSid":"CA0123456789abcdef0123456789abcdef","conferenceSid":null,
    "dateCreated":"2023-11-14T22:13:20.000Z","dateUpdated":"2023-11-14T22:13:21.000Z",
    "startTime":"2023-11-14T22:13:20.000Z","duration":"-1",
    "sid":"RE0123456789abcdef0123456789abcdef","price":null,
    "uri":"/2010-04-01/Accounts/AC0/Calls/CA0/Recordings/RE0.json","encryptionDetails":null,
    "priceUnit":"USD","status":"in-progress","channels":2,"source":"StartCallRecordingAPI",
    "errorCode":null,"track":"both"})"));
  // A conference recording has no track; a null date stays null; "2" is parsed as 2.
  payload["conference_sid"] = "CF0123456789abcdef0123456789abcdef";
  payload["start_time"] = nullptr;
  payload["channels"] = "2";
  CHECK(recrules::server::RecordingAsTwilioNode(payload, true) == json::parse(R"({
    "accountSid":"AC0123456789abcdef0123456789abcdef","apiVersion":"2010-04-01",
    "callSid":"CA0123456789abcdef0123456789abcdef",
    "conferenceSid":"CF0123456789abcdef0123456789abcdef",
    "dateCreated":"2023-11-14T22:13:20.000Z","dateUpdated":"2023-11-14T22:13:21.000Z",
    "startTime":null,"duration":"-1","sid":"RE0123456789abcdef0123456789abcdef","price":null,
    "priceUnit":"USD","status":"in-progress","channels":2,"source":"StartCallRecordingAPI",
    "errorCode":null,"encryptionDetails":null,
    "uri":"/2010-04-01/Accounts/AC0/Calls/CA0/Recordings/RE0.json"})"));
}

TEST_CASE("MemoryCallStore: a leg is claimed once, whoever asks") {
  using State = CallStore::Claim::State;
  const auto ttl = std::chrono::milliseconds(10000);
  SUBCASE("claimed, then pending for others, then recorded for all") {
    MemoryCallStore store(10);
    CHECK(store.ClaimLeg("CA1", ttl).state == State::kClaimed);
    CHECK(store.ClaimLeg("CA1", ttl).state == State::kPending);
    store.LegRecorded("CA1", LegRecording{"RE1", "taskrouter", R"({"sid":"RE1"})"});
    CallStore::Claim again = store.ClaimLeg("CA1", ttl);
    CHECK(again.state == State::kRecorded);
    CHECK(again.recording.sid == "RE1");
    CHECK(again.recording.started_by == "taskrouter");
    CHECK(store.RecordingOf("CA1")->sid == "RE1");
    CHECK_FALSE(store.RecordingOf("CA2"));
  }
  SUBCASE("a failed start is released; a claim whose holder died lapses") {
    MemoryCallStore store(10);
    REQUIRE(store.ClaimLeg("CA1", ttl).state == State::kClaimed);
    store.ReleaseLeg("CA1");
    CHECK(store.ClaimLeg("CA1", ttl).state == State::kClaimed);
    REQUIRE(store.ClaimLeg("CA2", std::chrono::milliseconds(10)).state == State::kClaimed);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(store.ClaimLeg("CA2", ttl).state == State::kClaimed);
  }
  SUBCASE("threads racing for one leg: one wins") {
    MemoryCallStore store(100);
    std::atomic<int> won{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&] {
        for (int leg = 0; leg < 50; ++leg) {
          if (store.ClaimLeg("CA" + std::to_string(leg), ttl).state == State::kClaimed) ++won;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(won == 50);
  }
  SUBCASE("kept in the state file") {
    recrules::testing::TempDir dir;
    const std::string path = dir.file("state.jsonl");
    {
      MemoryCallStore store(10);
      REQUIRE(store.OpenStateFile(path).ok());
      REQUIRE(store.ClaimLeg("CA1", ttl).state == State::kClaimed);
      store.LegRecorded("CA1", LegRecording{"RE1", "flex", R"({"sid":"RE1","channels":2})"});
    }
    MemoryCallStore store(10);
    REQUIRE(store.OpenStateFile(path).ok());
    CallStore::Claim claim = store.ClaimLeg("CA1", ttl);
    CHECK(claim.state == State::kRecorded);
    CHECK(json::parse(claim.recording.twilio_json) == json{{"sid", "RE1"}, {"channels", 2}});
  }
}

TEST_CASE("MemoryCallStore: a task is found by every leg Flex writes, and reservations once") {
  auto task = recrules::Task::FromJson(
      R"({"queueName":"Trading Desk","attributes":{"call_sid":"CA1","conference":{"sid":"CF1",)"
      R"("participants":{"customer":"CA1","worker":"CA2","supervisor":""}}}})");
  REQUIRE(task.ok());
  CHECK(ParticipantLegs(*task) == std::vector<std::string>{"CA1", "CA2"});
  MemoryCallStore store(10);
  store.Remember(*task);
  REQUIRE(store.Find("CA2"));
  CHECK(store.Find("CA2")->queue_name() == "Trading Desk");
  CHECK(store.Find("CF1"));
  CHECK(store.FirstAccept("WR1"));
  CHECK_FALSE(store.FirstAccept("WR1"));
  store.ForgetAccept("WR1");
  CHECK(store.FirstAccept("WR1"));
}
