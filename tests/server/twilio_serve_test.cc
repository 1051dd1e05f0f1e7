// `recrules serve` against the fake Twilio (tests/fake_twilio/fake_twilio.js): the Flex template
// endpoints, Flex token checks, TaskRouter signatures, and the server-side dual-channel
// recording on reservation.accepted, both channels.
#include <doctest/doctest.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "fake_twilio/fake_twilio.h"
#include "serve_harness.h"
#include "test_util.h"
#include "twilio/auth.h"

using nlohmann::json;
using recrules::testing::Eventually;
using recrules::testing::FakeTwilio;
using recrules::testing::HttpClient;
using recrules::testing::HttpReply;
using recrules::testing::Lines;
using recrules::testing::ReadFile;
using recrules::testing::ServeProcess;
using recrules::testing::TempDir;

using recrules::testing::Fields;
using recrules::testing::Form;

namespace {

const std::string kScript = RECRULES_SOURCE_DIR "/tests/fake_twilio/fake_twilio.js";
const std::string kCall = "CA0123456789abcdef0123456789abcdef";
const std::string kEndedCall = "CAeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
const std::string kWorkerLeg = "CA7777777777777777777777777777777f";
const std::string kConference = "CF0123456789abcdef0123456789abcdef";
const std::string kTask = "WT0123456789abcdef0123456789abcdef";
const std::string kReservation = "WR0123456789abcdef0123456789abcdef";
const std::string kWorkspace = "WS0123456789abcdef0123456789abcdef";

const std::vector<std::pair<std::string, std::string>> kFormType = {
    {"Content-Type", "application/x-www-form-urlencoded"}};

std::string Policy(bool dual, const std::string& channel = "customer") {
  return R"({"features": {
    "conditional_recording": {"enabled": true, "exclude_queues": ["HR Internal"]},
    "dual_channel_recording": {"enabled": )" +
         std::string(dual ? "true" : "false") + R"(, "channel": ")" + channel +
         R"(", "exclude_queues": ["HR Internal"], "exclude_attributes": []},
    "pause_recording": {"enabled": true, "include_silence": false}},
  "recrules": {"rules": ["builtin:non_voice", "builtin:exclusions", "builtin:already_recorded"],
               "default": "record"}})";
}

json Body(const HttpReply& r) {
  return json::parse(r.body, nullptr, false);
}

// The fake Twilio, seeded, and `recrules serve` pointed at it with its credentials.
struct TwilioFixture {
  FakeTwilio fake{kScript};
  TempDir dir;
  std::string log_path = dir.file("decisions.jsonl");
  std::vector<std::string> args;
  std::unique_ptr<ServeProcess> serve;
  int port = 0;
  std::vector<std::string> env;  // more environment for `recrules serve`, set before Start

  explicit TwilioFixture(const std::string& policy = Policy(false),
                         std::vector<std::string> extra = {},
                         std::function<void(TwilioFixture&)> before_start = nullptr) {
    dir.Write("policy/policy.json", policy);
    if (before_start) before_start(*this);
    fake.Seed(
        {{"tokens",
          {{"tok-alice",
            {{"valid", true},
             {"identity", "alice"},
             {"worker_sid", "WK0123456789abcdef0123456789abcdef"},
             {"expiration", "2099-01-01T00:00:00Z"}}},
           {"tok-bad", {{"valid", false}}},
           {"tok-old", {{"valid", true}, {"expiration", "2001-01-01T00:00:00Z"}}}}},
         {"calls", {{kEndedCall, {{"status", "completed"}}}}},
         {"conferences",
          {{kConference,
            {{"status", "in-progress"},
             {"participants",
              {{{"call_sid", kCall}, {"label", "customer"}},
               {{"call_sid", kWorkerLeg}, {"label", "worker"}}}},
             {"recordings",
              {{{"sid", "RE0123456789abcdef0123456789abcdef"}, {"status", "in-progress"}}}}}}}}});
    args = {"--policy",    dir.path() + "/policy", "--listen",
            "127.0.0.1:0", "--decision-log",       log_path};
    args.insert(args.end(), extra.begin(), extra.end());
    Start();
  }
  void Start() {
    std::vector<std::string> all = {"TWILIO_ACCOUNT_SID=" + std::string(FakeTwilio::kAccountSid),
                                    "TWILIO_AUTH_TOKEN=" + std::string(FakeTwilio::kAuthToken),
                                    "RECRULES_TWILIO_API_URL=" + fake.url(),
                                    "RECRULES_TWILIO_IAM_URL=" + fake.url(),
                                    "RECRULES_TWILIO_TASKROUTER_URL=" + fake.url(),
                                    "RECRULES_API_TOKENS=service-token"};
    all.insert(all.end(), env.begin(), env.end());
    serve = std::make_unique<ServeProcess>(dir.path(), args, all);
    port = serve->WaitForPort();
    REQUIRE_MESSAGE(port > 0, serve->stderr_text());
  }
  int Stop() {
    serve->Signal(SIGTERM);
    REQUIRE(serve->Exited(15000));
    return serve->exit_code();
  }
  // The same server again, on a new port (the fake Twilio keeps its state).
  void Restart() {
    REQUIRE(Stop() == 0);
    Start();
  }
  std::vector<json> LogLines(const std::string& type) {
    std::vector<json> out;
    for (const std::string& l : Lines(ReadFile(log_path))) {
      json j = json::parse(l);
      if (j["type"] == type) out.push_back(j);
    }
    return out;
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
};

HttpReply PostForm(HttpClient& c, const std::string& path, const Fields& fields,
                   std::vector<std::pair<std::string, std::string>> headers = kFormType) {
  return c.Request("POST", path, Form(fields), headers);
}

const std::string kCreate = "/features/dual-channel-recording/flex/create-recording";
const std::string kPauseCall = "/features/pause-recording/flex/pause-call-recording";
const std::string kPauseConf = "/features/pause-recording/flex/pause-conference-recording";
const std::string kResumeCall = "/features/pause-recording/flex/resume-call-recording";
const std::string kResumeConf = "/features/pause-recording/flex/resume-conference-recording";

}  // namespace

TEST_CASE("flex endpoints: create, pause and resume recordings through Twilio") {
  TwilioFixture f;
  HttpClient c(f.port);

  HttpReply created = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
  REQUIRE(created.status == 200);
  json body = Body(created);
  CHECK(body["success"] == true);
  // {recording, success} and nothing else, as the template answers: no message, no null keys.
  CHECK(body.size() == 2);
  std::string recording = body["recording"]["sid"];
  CHECK(recording.rfind("RE", 0) == 0);
  json sent = f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json");
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]["form"]["RecordingChannels"] == "dual");

  SUBCASE("pause the call recording: Twilio.CURRENT and silence by default, as the template") {
    HttpReply r = PostForm(c, kPauseCall, {{"callSid", kCall}, {"Token", "tok-alice"}});
    CHECK(r.status == 200);
    CHECK(Body(r)["recording"]["status"] == "paused");
    json pause = f.fake.RequestsTo("/Recordings/Twilio.CURRENT.json");
    REQUIRE(pause.size() == 1);
    CHECK(pause[0]["form"]["Status"] == "paused");
    CHECK(pause[0]["form"]["PauseBehavior"] == "silence");
    CHECK(Body(r).size() == 2);
    HttpReply resumed = PostForm(
        c, kResumeCall, {{"callSid", kCall}, {"recordingSid", recording}, {"Token", "tok-alice"}});
    CHECK(resumed.status == 200);
    CHECK(Body(resumed)["recording"]["status"] == "in-progress");
    CHECK(Body(resumed).size() == 2);
  }
  SUBCASE("pause with silence, and the conference recording") {
    HttpReply r = PostForm(
        c, kPauseConf,
        {{"conferenceSid", kConference}, {"pauseBehavior", "silence"}, {"Token", "tok-alice"}});
    CHECK(r.status == 200);
    json pause = f.fake.RequestsTo("/Conferences/" + kConference + "/Recordings/");
    REQUIRE(pause.size() == 1);
    CHECK(pause[0]["form"]["PauseBehavior"] == "silence");
    HttpReply resumed = PostForm(c, kResumeConf,
                                 {{"conferenceSid", kConference},
                                  {"recordingSid", "RE0123456789abcdef0123456789abcdef"},
                                  {"Token", "tok-alice"}});
    CHECK(resumed.status == 200);
    CHECK(Body(resumed)["success"] == true);
  }
  SUBCASE("bad fields are 400 in the template's parameter-error shape, before Twilio is asked") {
    f.fake.ClearRequests();
    HttpReply missing = PostForm(c, kResumeCall, {{"callSid", kCall}, {"Token", "tok-alice"}});
    CHECK(missing.status == 400);
    CHECK(Body(missing) == json{{"data", nullptr}, {"message", "recordingSid: missing parameter"}});
    HttpReply no_call = PostForm(c, kCreate, {{"Token", "tok-alice"}});
    CHECK(Body(no_call) == json{{"data", nullptr}, {"message", "callSid: missing parameter"}});
    HttpReply bad_sid = PostForm(c, kCreate, {{"callSid", "nope"}, {"Token", "tok-alice"}});
    CHECK(Body(bad_sid)["message"] == "callSid: expected a call SID (CA + 32 hex digits)");
    HttpReply no_conference = PostForm(c, kPauseConf, {{"Token", "tok-alice"}});
    CHECK(Body(no_conference)["message"] == "conferenceSid: missing parameter");
    HttpReply bad_conference =
        PostForm(c, kPauseConf, {{"conferenceSid", kCall}, {"Token", "tok-alice"}});
    CHECK(Body(bad_conference)["message"] ==
          "conferenceSid: expected a conference SID (CF + 32 hex digits)");
    HttpReply bad_behavior = PostForm(
        c, kPauseCall, {{"callSid", kCall}, {"pauseBehavior", "loud"}, {"Token", "tok-alice"}});
    CHECK(Body(bad_behavior)["message"] == "pauseBehavior: expected skip or silence, got \"loud\"");
    CHECK(f.fake.RequestsTo("/2010-04-01/").empty());
  }
  SUBCASE("Twilio error 21220 is Twilio's 400 and message; create adds a developerComment") {
    HttpReply r = PostForm(c, kPauseCall, {{"callSid", kEndedCall}, {"Token", "tok-alice"}});
    CHECK(r.status == 400);
    json b = Body(r);
    CHECK(b["success"] == false);
    CHECK(b["twilioErrorCode"] == 21220);
    CHECK(b["twilioDocPage"].get<std::string>().find("21220") != std::string::npos);
    CHECK(b["message"] == "Call is not in-progress. Cannot redirect.");
    CHECK(!b.contains("developerComment"));  // the template's pause adds none
    CHECK(!b.contains("recording"));
    HttpReply create = PostForm(c, kCreate, {{"callSid", kEndedCall}, {"Token", "tok-alice"}});
    CHECK(create.status == 400);
    json cb = Body(create);
    CHECK(cb["message"] == "Call is not in-progress. Cannot redirect.");
    CHECK(cb["developerComment"].get<std::string>().find("already ended") != std::string::npos);
  }
  SUBCASE("429 and 503 are retried") {
    f.fake.ClearRequests();
    f.fake.Fault({{"method", "POST"}, {"path", "/Recordings"}, {"status", 429}, {"count", 1}});
    f.fake.Fault({{"method", "POST"}, {"path", "/Recordings"}, {"status", 503}, {"count", 1}});
    HttpReply r = PostForm(c, kPauseCall, {{"callSid", kCall}, {"Token", "tok-alice"}});
    CHECK(r.status == 200);
    CHECK(f.fake.RequestsTo("/Recordings/").size() == 3);
    f.fake.Fault({{"method", "POST"}, {"path", "/Recordings"}, {"status", 503}, {"count", 3}});
    HttpReply failed = PostForm(c, kPauseCall, {{"callSid", kCall}, {"Token", "tok-alice"}});
    CHECK(failed.status == 503);  // Twilio's own status, as the template passes it
    CHECK(Body(failed)["success"] == false);
    std::string metrics = c.Request("GET", "/metrics").body;
    CHECK(metrics.find("recrules_twilio_calls_total{operation=\"pause_call_recording\",result="
                       "\"http_503\"} 1") != std::string::npos);
  }
  CHECK(f.Stop() == 0);
  // Every recording action is a decision log line.
  auto actions = f.LogLines("recording");
  REQUIRE(!actions.empty());
  CHECK(actions[0]["operation"] == "create_call_recording");
  CHECK(actions[0]["source"] == "flex");
  CHECK(actions[0]["identity"] == "alice");
  CHECK(actions[0]["callSid"] == kCall);
  CHECK(actions[0]["recordingSid"] == recording);
  CHECK(actions[0]["result"] == "ok");
}

namespace {

// Trading lines may not pause (rules/trading_lines.lua, from the rule library); pauses are
// silent; HR Internal is not recorded.
std::string TradingPolicy() {
  return R"({"features": {
    "conditional_recording": {"enabled": true, "exclude_queues": ["HR Internal"]},
    "pause_recording": {"enabled": true, "include_silence": true}},
  "recrules": {"rules": ["builtin:exclusions", "rules/trading_lines.lua"], "default": "record"}})";
}

HttpReply DecideOn(HttpClient& c, const json& task) {
  return c.Request(
      "POST", "/v1/decide", task.dump(),
      {{"Content-Type", "application/json"}, {"Authorization", "Bearer service-token"}});
}

json VoiceTask(const std::string& queue, const std::string& call, const std::string& conference) {
  json attributes = {{"call_sid", call}};
  if (!conference.empty()) attributes["conference"] = {{"sid", conference}};
  return {{"sid", kReservation},
          {"taskSid", kTask},
          {"queueName", queue},
          {"taskChannelUniqueName", "voice"},
          {"attributes", attributes}};
}

}  // namespace

TEST_CASE("flex endpoints: a call the server has decided on is put to the policy first") {
  const std::string kTradingCall = "CA1111111111111111111111111111111a";
  const std::string kSalesCall = "CA2222222222222222222222222222222b";
  const std::string kHrCall = "CA3333333333333333333333333333333c";
  const std::string kUnknownCall = "CA4444444444444444444444444444444d";
  auto write_rule = [](TwilioFixture& f) {
    f.dir.Write("policy/rules/trading_lines.lua",
                ReadFile(RECRULES_SOURCE_DIR "/rules/trading_lines.lua"));
  };

  SUBCASE("known calls: refused, granted with the policy's pause behavior, or not recorded") {
    TwilioFixture f(TradingPolicy(), {}, write_rule);
    HttpClient c(f.port);
    // Recordings to pause, started before the server knew the calls (so not asked about).
    for (const std::string& call : {kSalesCall, kUnknownCall}) {
      REQUIRE(PostForm(c, kCreate, {{"callSid", call}, {"Token", "tok-alice"}}).status == 200);
    }
    REQUIRE(DecideOn(c, VoiceTask("Trading Desk", kTradingCall, kConference)).status == 200);
    REQUIRE(DecideOn(c, VoiceTask("Sales", kSalesCall, "")).status == 200);
    REQUIRE(DecideOn(c, VoiceTask("HR Internal", kHrCall, "")).status == 200);
    f.fake.ClearRequests();

    // A trading line may not pause, by call or by conference: 409, and Twilio is not asked.
    HttpReply refused =
        PostForm(c, kPauseCall, {{"callSid", kTradingCall}, {"Token", "tok-alice"}});
    CHECK(refused.status == 409);
    json b = Body(refused);
    CHECK(b["success"] == false);
    CHECK(b["recording"].is_null());
    std::string message = b["message"];
    CHECK(message.rfind("pause_call_recording refused by the policy: pause refused: trading lines "
                        "are recorded in full (MiFID II) (rule rules/trading_lines.lua, decision ",
                        0) == 0);
    HttpReply by_conference =
        PostForm(c, kPauseConf, {{"conferenceSid", kConference}, {"Token", "tok-alice"}});
    CHECK(by_conference.status == 409);
    CHECK(f.fake.RequestsTo("/Recordings").empty());

    // Elsewhere the pause is granted, silent as the policy says, whatever the form asked.
    HttpReply granted =
        PostForm(c, kPauseCall,
                 {{"callSid", kSalesCall}, {"pauseBehavior", "skip"}, {"Token", "tok-alice"}});
    CHECK(granted.status == 200);
    json pause = f.fake.RequestsTo("/Calls/" + kSalesCall + "/Recordings/");
    REQUIRE(pause.size() == 1);
    CHECK(pause[0]["form"]["PauseBehavior"] == "silence");
    // The form is still checked.
    HttpReply bad =
        PostForm(c, kPauseCall,
                 {{"callSid", kSalesCall}, {"pauseBehavior", "loud"}, {"Token", "tok-alice"}});
    CHECK(bad.status == 400);

    // An excluded call is not recorded: creating its recording is refused.
    HttpReply create = PostForm(c, kCreate, {{"callSid", kHrCall}, {"Token", "tok-alice"}});
    CHECK(create.status == 409);
    CHECK(Body(create)["message"].get<std::string>().rfind(
              "create_call_recording refused by the policy: ", 0) == 0);
    CHECK(f.fake.RequestsTo("/Calls/" + kHrCall).empty());

    // A call the server never decided on goes to Twilio as before.
    HttpReply unknown =
        PostForm(c, kPauseCall, {{"callSid", kUnknownCall}, {"Token", "tok-alice"}});
    CHECK(unknown.status == 200);

    CHECK(f.Stop() == 0);
    std::vector<json> flex;
    for (const json& d : f.LogLines("decision")) {
      if (d["source"] == "flex") flex.push_back(d);
    }
    REQUIRE(flex.size() == 4);  // two refusals, the grant, the create (a bad form is not asked)
    CHECK(flex[0]["event"] == "pause_request");
    CHECK(flex[0]["action"] == "record");
    CHECK(flex[0]["rule"] == "rules/trading_lines.lua");
    CHECK(flex[0]["operation"] == "pause_call_recording");
    CHECK(flex[0]["identity"] == "alice");
    CHECK(flex[0]["callSid"] == kTradingCall);
    CHECK(flex[1]["operation"] == "pause_conference_recording");
    CHECK(flex[2]["action"] == "pause");
    CHECK(flex[3]["event"] == "accept");
    CHECK(flex[3]["action"] == "skip");
    auto actions = f.LogLines("recording");
    REQUIRE(actions.size() == 4);  // two creates, the granted pause, the unknown call's pause
    CHECK(actions[0]["decisionId"].is_null());
    CHECK(actions[2]["operation"] == "pause_call_recording");
    CHECK(actions[2]["decisionId"] == flex[2]["id"]);
    CHECK(actions[2]["taskSid"] == kTask);
    CHECK(actions[2]["callSid"] == kSalesCall);
    CHECK(actions[3]["decisionId"].is_null());
    CHECK(actions[3]["callSid"] == kUnknownCall);
  }
  SUBCASE("--state-file: the calls decided on are still known after a restart") {
    TempDir state;
    TwilioFixture f(TradingPolicy(), {"--state-file", state.file("state.jsonl")}, write_rule);
    {
      HttpClient c(f.port);
      REQUIRE(DecideOn(c, VoiceTask("Trading Desk", kTradingCall, kConference)).status == 200);
      REQUIRE(DecideOn(c, VoiceTask("Sales", kSalesCall, "")).status == 200);
    }
    f.Restart();
    CHECK(f.serve->stderr_text().find(
              "3 call and conference SIDs, 0 recorded legs and 0 recordings restored") !=
          std::string::npos);
    HttpClient c(f.port);
    f.fake.ClearRequests();
    // Still refused by the policy, by call and by conference, without asking Twilio.
    CHECK(PostForm(c, kPauseCall, {{"callSid", kTradingCall}, {"Token", "tok-alice"}}).status ==
          409);
    CHECK(
        PostForm(c, kPauseConf, {{"conferenceSid", kConference}, {"Token", "tok-alice"}}).status ==
        409);
    CHECK(f.fake.RequestsTo("/Recordings").empty());
    // Still granted as the policy says (silent).
    REQUIRE(PostForm(c, kCreate, {{"callSid", kSalesCall}, {"Token", "tok-alice"}}).status == 200);
    REQUIRE(PostForm(c, kPauseCall, {{"callSid", kSalesCall}, {"Token", "tok-alice"}}).status ==
            200);
    json pause = f.fake.RequestsTo("/Calls/" + kSalesCall + "/Recordings/");
    REQUIRE(pause.size() == 1);
    CHECK(pause[0]["form"]["PauseBehavior"] == "silence");
    CHECK(f.Stop() == 0);
  }
  SUBCASE("--known-calls 0: the endpoints never ask the policy") {
    TwilioFixture f(TradingPolicy(), {"--known-calls", "0"}, write_rule);
    HttpClient c(f.port);
    REQUIRE(PostForm(c, kCreate, {{"callSid", kTradingCall}, {"Token", "tok-alice"}}).status ==
            200);
    REQUIRE(DecideOn(c, VoiceTask("Trading Desk", kTradingCall, "")).status == 200);
    HttpReply r = PostForm(c, kPauseCall, {{"callSid", kTradingCall}, {"Token", "tok-alice"}});
    CHECK(r.status == 200);
    CHECK(f.Stop() == 0);
  }
}

TEST_CASE("flex tokens: valid, invalid, expired, missing, cached; static tokens still work") {
  TwilioFixture f;
  HttpClient c(f.port);
  CHECK(PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}}).status == 200);
  CHECK(PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}}).status == 200);
  // Cached: Twilio was asked once.
  CHECK(f.fake.RequestsTo("/Tokens/validate").size() == 1);

  HttpReply bad = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-bad"}});
  CHECK(bad.status == 403);
  CHECK(Body(bad)["success"] == false);
  CHECK(PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-old"}}).status == 403);
  CHECK(PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "never-seen"}}).status == 403);
  HttpReply none = PostForm(c, kCreate, {{"callSid", kCall}});
  CHECK(none.status == 403);  // as the template's token validator answers
  CHECK(Body(none)["message"] ==
        "Unauthorized: Token was not provided (send the form field Token or Authorization: "
        "Bearer <token>)");

  // A Flex token as a bearer token on the JSON API, and the services' static token.
  const std::string task = R"({"task":{"taskChannelUniqueName":"voice"}})";
  CHECK(c.Request("POST", "/v1/decide", task, {{"Authorization", "Bearer tok-alice"}}).status ==
        200);
  CHECK(c.Request("POST", "/v1/decide", task, {{"Authorization", "Bearer tok-bad"}}).status == 403);
  CHECK(c.Request("POST", "/v1/decide", task, {{"Authorization", "Bearer service-token"}}).status ==
        200);
  CHECK(c.Request("POST", "/v1/decide", task).status == 401);
  CHECK(f.Stop() == 0);
}

TEST_CASE("taskrouter events: X-Twilio-Signature over the URL Twilio called") {
  TwilioFixture f(Policy(false), {"--public-url", "https://recrules.example.com/"});
  HttpClient c(f.port);
  Fields fields = {{"EventType", "task.created"}, {"TaskSid", kTask}, {"WorkspaceSid", kWorkspace}};
  auto sign = [&](const std::string& url) {
    return recrules::twilio::ComputeTwilioSignature(FakeTwilio::kAuthToken, url, fields);
  };
  auto post = [&](const std::string& signature) {
    auto headers = kFormType;
    if (!signature.empty()) headers.emplace_back("X-Twilio-Signature", signature);
    return PostForm(c, "/v1/taskrouter/events?source=tr", fields, headers);
  };
  HttpReply ok = post(sign("https://recrules.example.com/v1/taskrouter/events?source=tr"));
  CHECK(ok.status == 200);
  CHECK(Body(ok)["action"] == "ignored");
  // Found by fuzz_http: an EventType that is not UTF-8 made the answer's JSON writer throw, and
  // the server answered 500. The bytes are replaced in the answer instead.
  fields[0].second =
      "task.\x83"
      "created";
  HttpReply odd = post(sign("https://recrules.example.com/v1/taskrouter/events?source=tr"));
  CHECK(odd.status == 200);
  CHECK(Body(odd)["eventType"] ==
        "task.\xEF\xBF\xBD"
        "created");
  fields[0].second = "task.created";
  HttpReply wrong_url = post(sign(f.url("/v1/taskrouter/events?source=tr")));
  CHECK(wrong_url.status == 403);
  CHECK(Body(wrong_url)["error"]["message"].get<std::string>().rfind(
            "X-Twilio-Signature does not match https://recrules.example.com/", 0) == 0);
  CHECK(post("bm90IGEgc2lnbmF0dXJl").status == 403);
  HttpReply missing = post("");
  CHECK(missing.status == 403);
  CHECK(Body(missing)["error"]["message"] == "missing X-Twilio-Signature");
  CHECK(f.Stop() == 0);
}

namespace {

// A signed reservation.accepted callback for a voice task with these attributes.
HttpReply Accepted(TwilioFixture& f, HttpClient& c, const json& attributes,
                   const std::string& event_type = "reservation.accepted",
                   const std::string& timestamp = "1700000000") {
  Fields fields = {{"EventType", event_type},
                   {"WorkspaceSid", kWorkspace},
                   {"TaskSid", kTask},
                   {"TaskQueueSid", "WQ0123456789abcdef0123456789abcdef"},
                   {"TaskQueueName", "Sales"},
                   {"TaskChannelUniqueName", "voice"},
                   {"TaskAttributes", attributes.dump()},
                   {"ReservationSid", kReservation},
                   {"WorkerSid", "WK0123456789abcdef0123456789abcdef"},
                   {"WorkerAttributes", R"({"full_name":"Alice"})"}};
  if (!timestamp.empty()) fields.emplace_back("Timestamp", timestamp);  // empty: not sent
  std::string url = f.url("/v1/taskrouter/events");
  std::string sig = recrules::twilio::ComputeTwilioSignature(FakeTwilio::kAuthToken, url, fields);
  auto headers = kFormType;
  headers.emplace_back("X-Twilio-Signature", sig);
  return PostForm(c, "/v1/taskrouter/events", fields, headers);
}

json TaskAttributes(const FakeTwilio& fake) {
  json state = fake.State();
  json a = state["tasks"][kTask]["attributes"];
  return a.is_string() ? json::parse(a.get<std::string>()) : a;
}

}  // namespace

TEST_CASE("taskrouter events: reservation.accepted starts a customer-channel recording") {
  TwilioFixture f(Policy(true, "customer"));
  json attributes = {{"call_sid", kCall}, {"direction", "inbound"}, {"custom", {{"keep", 1}}}};
  f.fake.Seed({{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
  HttpClient c(f.port);
  HttpReply r = Accepted(f, c, attributes);
  REQUIRE(r.status == 200);
  CHECK(Body(r)["recording"] == "starting");
  CHECK(Body(r)["decision"]["mode"] == "dual-channel");
  CHECK(Body(r)["decision"]["channel"] == "customer");

  REQUIRE(Eventually([&] { return TaskAttributes(f.fake).contains("conversations"); }, 10000));
  json merged = TaskAttributes(f.fake);
  CHECK(merged["custom"]["keep"] == 1);  // merged, not replaced
  json media = merged["conversations"]["media"];
  REQUIRE(media.size() == 1);
  CHECK(media[0]["type"] == "VoiceRecording");
  CHECK(media[0]["channels"] == json::array({"customer", "others"}));
  json created = f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json");
  REQUIRE(created.size() == 1);
  CHECK(created[0]["form"]["RecordingChannels"] == "dual");
  std::string url = media[0]["url"];
  CHECK(url.find("/Recordings/RE") != std::string::npos);
  // The write was conditional on the version fetched.
  json updates = f.fake.RequestsTo("/Tasks/" + kTask);
  bool conditional = false;
  for (const json& u : updates) {
    if (u["method"] == "POST") conditional = u["headers"].contains("if-match");
  }
  CHECK(conditional);

  CHECK(f.Stop() == 0);
  auto decisions = f.LogLines("decision");
  REQUIRE(decisions.size() == 1);
  CHECK(decisions[0]["source"] == "taskrouter");
  CHECK(decisions[0]["eventType"] == "reservation.accepted");
  CHECK(decisions[0]["taskSid"] == kTask);
  auto actions = f.LogLines("recording");
  REQUIRE(actions.size() >= 3);
  CHECK(actions[0]["operation"] == "create_call_recording");
  CHECK(actions[0]["decisionId"] == decisions[0]["id"]);
  CHECK(actions[0]["callSid"] == kCall);
  CHECK(actions.back()["operation"] == "update_task_attributes");
  CHECK(actions.back()["result"] == "ok");
}

TEST_CASE("taskrouter events: a worker-channel recording on the worker's conference leg") {
  TwilioFixture f(Policy(true, "worker"));
  json attributes = {{"call_sid", kCall}, {"conference", {{"sid", kConference}}}};
  f.fake.Seed({{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
  // The first conditional write loses a race: recrules fetches again and retries.
  f.fake.Fault({{"method", "POST"}, {"path", "/Tasks/"}, {"status", 412}, {"count", 1}});
  HttpClient c(f.port);
  HttpReply r = Accepted(f, c, attributes);
  REQUIRE(r.status == 200);
  CHECK(Body(r)["decision"]["channel"] == "worker");
  REQUIRE(
      Eventually([&] { return TaskAttributes(f.fake).contains("reservation_attributes"); }, 10000));
  json media = TaskAttributes(f.fake)["reservation_attributes"][kReservation]["media"];
  REQUIRE(media.size() == 1);
  CHECK(media[0]["type"] == "VoiceRecording");
  CHECK(f.fake.RequestsTo("/Calls/" + kWorkerLeg + "/Recordings.json").size() == 1);
  CHECK(f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json").empty());
  CHECK(f.fake.RequestsTo("/Conferences/" + kConference + "/Participants.json").size() == 1);

  // The worker's leg is now a known call: a Flex pause on it is put to the policy first.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the leg is remembered last
  HttpReply paused = PostForm(c, kPauseCall, {{"callSid", kWorkerLeg}, {"Token", "tok-alice"}});
  CHECK(paused.status == 200);
  CHECK(f.Stop() == 0);
  auto decisions = f.LogLines("decision");
  REQUIRE(decisions.size() == 2);
  CHECK(decisions[1]["source"] == "flex");
  CHECK(decisions[1]["event"] == "pause_request");
  CHECK(decisions[1]["action"] == "pause");
  CHECK(decisions[1]["operation"] == "pause_call_recording");
}

TEST_CASE("taskrouter events: no recording when the policy skips, or not dual-channel") {
  TwilioFixture f(Policy(true, "customer"));
  HttpClient c(f.port);
  json attributes = {{"call_sid", kCall},
                     {"conversations", {{"media", json::array({{{"url", "x"}}})}}}};
  HttpReply r = Accepted(f, c, attributes);  // already recorded (e.g. before a transfer)
  REQUIRE(r.status == 200);
  CHECK(Body(r)["decision"]["action"] == "skip");
  CHECK(Body(r)["recording"] == "not_started");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(f.fake.RequestsTo("/Recordings").empty());
  CHECK(f.Stop() == 0);
}

TEST_CASE("taskrouter events: SIGTERM waits for a recording in progress and logs it") {
  TwilioFixture f(Policy(true, "customer"));
  json attributes = {{"call_sid", kCall}};
  f.fake.Seed({{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
  // Twilio takes its time to start the recording.
  f.fake.Fault({{"method", "POST"}, {"path", "/Recordings.json"}, {"delay_ms", 1000}});
  HttpClient c(f.port);
  REQUIRE(Accepted(f, c, attributes).status == 200);
  f.serve->Signal(SIGTERM);
  REQUIRE(f.serve->Exited(15000));
  CHECK(f.serve->exit_code() == 0);
  auto actions = f.LogLines("recording");
  REQUIRE(actions.size() >= 3);
  CHECK(actions[0]["operation"] == "create_call_recording");
  CHECK(actions[0]["result"] == "ok");
  CHECK(actions[0]["latencyMs"].get<int>() >= 900);
  CHECK(TaskAttributes(f.fake)["conversations"]["media"].size() == 1);
}

TEST_CASE("taskrouter events: task.updated pauses while the policy says pause, then resumes") {
  // Conference recording (Flex's native one); pci_pause from the rule library; silent pauses.
  TwilioFixture f(
      R"({"features": {"pause_recording": {"enabled": true, "include_silence": true}},
          "recrules": {"rules": ["builtin:exclusions", "rules/pci_pause.lua"],
                       "default": "record"}})",
      {}, [](TwilioFixture& fx) {
        fx.dir.Write("policy/rules/pci_pause.lua",
                     ReadFile(RECRULES_SOURCE_DIR "/rules/pci_pause.lua"));
      });
  HttpClient c(f.port);
  const std::string kRecording = "RE0123456789abcdef0123456789abcdef";
  json attributes = {{"call_sid", kCall}, {"conference", {{"sid", kConference}}}};
  auto recording_status = [&] {
    return f.fake.State()["recordings"][kRecording]["status"].get<std::string>();
  };
  int64_t sent = 1700000000;  // TaskRouter's Timestamp: each event one second later
  auto updated = [&](const json& a) {
    HttpReply r = Accepted(f, c, a, "task.updated", std::to_string(++sent));
    REQUIRE(r.status == 200);
    return Body(r);
  };

  // Nothing to pause and nothing paused: Twilio is not asked.
  json quiet = updated(attributes);
  CHECK(quiet["decision"]["action"] == "record");
  CHECK(quiet["recording"] == "unchanged");

  // The payment IVR begins: the conference recording is paused, silently.
  json capture = attributes;
  capture["ivr"] = {{"stage", "payment"}};
  json paused = updated(capture);
  CHECK(paused["decision"]["action"] == "pause");
  CHECK(paused["decision"]["rule"] == "rules/pci_pause.lua");
  CHECK(paused["recording"] == "pausing");
  REQUIRE(Eventually([&] { return recording_status() == "paused"; }, 10000));
  json pauses = f.fake.RequestsTo("/Conferences/" + kConference + "/Recordings/Twilio.CURRENT");
  REQUIRE(pauses.size() == 1);
  CHECK(pauses[0]["form"]["Status"] == "paused");
  CHECK(pauses[0]["form"]["PauseBehavior"] == "silence");

  // Another update during the capture changes nothing; the agent may not resume either.
  CHECK(updated(capture)["recording"] == "unchanged");
  HttpReply resume = PostForm(
      c, kResumeConf,
      {{"conferenceSid", kConference}, {"recordingSid", kRecording}, {"Token", "tok-alice"}});
  CHECK(resume.status == 409);
  CHECK(Body(resume)["message"].get<std::string>().find("resume refused") != std::string::npos);

  // The capture ends: the recording recrules paused is resumed.
  json resumed = updated(attributes);
  CHECK(resumed["recording"] == "resuming");
  REQUIRE(Eventually([&] { return recording_status() == "in-progress"; }, 10000));
  json resumes = f.fake.RequestsTo("/Conferences/" + kConference + "/Recordings/" + kRecording);
  REQUIRE(resumes.size() == 1);
  CHECK(resumes[0]["form"]["Status"] == "in-progress");
  CHECK(f.fake.RequestsTo("/Recordings/Twilio.CURRENT").size() == 1);

  // The capture's first event, replayed (or delivered late): older than the last one applied,
  // so the recording stays as it is.
  HttpReply replay = Accepted(f, c, capture, "task.updated", "1700000002");
  REQUIRE(replay.status == 200);
  CHECK(Body(replay)["decision"]["action"] == "pause");
  CHECK(Body(replay)["recording"] == "stale");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(recording_status() == "in-progress");
  CHECK(f.fake.RequestsTo("/Recordings/Twilio.CURRENT").size() == 1);

  // An event without a Timestamp cannot be ordered: it is applied.
  HttpReply untimed = Accepted(f, c, capture, "task.updated", "");
  REQUIRE(untimed.status == 200);
  CHECK(Body(untimed)["recording"] == "pausing");
  REQUIRE(Eventually([&] { return recording_status() == "paused"; }, 10000));

  CHECK(f.Stop() == 0);
  auto stale = f.LogLines("stale_event");
  REQUIRE(stale.size() == 1);
  CHECK(stale[0]["taskSid"] == kTask);
  CHECK(stale[0]["timestamp"] == "1700000002");
  std::vector<json> updates;
  for (const json& d : f.LogLines("decision")) {
    if (d.value("eventType", "") == "task.updated") updates.push_back(d);
  }
  REQUIRE(updates.size() == 6);
  CHECK(updates[1]["event"] == "update");
  CHECK(updates[1]["action"] == "pause");
  auto actions = f.LogLines("recording");
  REQUIRE(actions.size() == 3);
  CHECK(actions[0]["operation"] == "pause_conference_recording");
  CHECK(actions[0]["source"] == "taskrouter");
  CHECK(actions[0]["decisionId"] == updates[1]["id"]);
  CHECK(actions[0]["recordingSid"] == kRecording);
  CHECK(actions[1]["operation"] == "resume_conference_recording");
  CHECK(actions[1]["decisionId"] == updates[3]["id"]);
}

TEST_CASE("taskrouter events: an agent's own pause is not resumed by task.updated") {
  TwilioFixture f(Policy(false));
  HttpClient c(f.port);
  json attributes = {{"call_sid", kCall}, {"conference", {{"sid", kConference}}}};
  REQUIRE(
      PostForm(c, kPauseConf, {{"conferenceSid", kConference}, {"Token", "tok-alice"}}).status ==
      200);
  f.fake.ClearRequests();
  HttpReply r = Accepted(f, c, attributes, "task.updated");
  REQUIRE(r.status == 200);
  CHECK(Body(r)["decision"]["action"] == "record");
  CHECK(Body(r)["recording"] == "unchanged");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(f.fake.RequestsTo("/Recordings").empty());
  CHECK(f.Stop() == 0);
}

TEST_CASE(
    "taskrouter events: with --state-file, a pause recrules made is resumed after a restart") {
  TempDir state;
  TwilioFixture f(
      R"({"features": {"pause_recording": {"enabled": true, "include_silence": true}},
          "recrules": {"rules": ["builtin:exclusions", "rules/pci_pause.lua"],
                       "default": "record"}})",
      {"--state-file", state.file("state.jsonl")}, [](TwilioFixture& fx) {
        fx.dir.Write("policy/rules/pci_pause.lua",
                     ReadFile(RECRULES_SOURCE_DIR "/rules/pci_pause.lua"));
      });
  const std::string kRecording = "RE0123456789abcdef0123456789abcdef";
  json attributes = {{"call_sid", kCall}, {"conference", {{"sid", kConference}}}};
  json capture = attributes;
  capture["ivr"] = {{"stage", "payment"}};
  auto recording_status = [&] {
    return f.fake.State()["recordings"][kRecording]["status"].get<std::string>();
  };
  {
    HttpClient c(f.port);
    HttpReply paused = Accepted(f, c, capture, "task.updated", "1700000001");
    REQUIRE(paused.status == 200);
    CHECK(Body(paused)["recording"] == "pausing");
    REQUIRE(Eventually([&] { return recording_status() == "paused"; }, 10000));
  }
  f.Restart();
  CHECK(f.serve->stderr_text().find(
            "2 call and conference SIDs, 0 recorded legs and 1 recordings restored") !=
        std::string::npos);
  HttpClient c(f.port);
  // The task, kept from its TaskRouter fields: the agent may still not resume mid-capture.
  HttpReply resume = PostForm(
      c, kResumeConf,
      {{"conferenceSid", kConference}, {"recordingSid", kRecording}, {"Token", "tok-alice"}});
  CHECK(resume.status == 409);
  // A replayed older event is still recognised as one.
  HttpReply replay = Accepted(f, c, attributes, "task.updated", "1700000000");
  CHECK(Body(replay)["recording"] == "stale");
  // The capture ends: the recording recrules paused before the restart is resumed.
  HttpReply resumed = Accepted(f, c, attributes, "task.updated", "1700000002");
  REQUIRE(resumed.status == 200);
  CHECK(Body(resumed)["recording"] == "resuming");
  REQUIRE(Eventually([&] { return recording_status() == "in-progress"; }, 10000));
  json resumes = f.fake.RequestsTo("/Conferences/" + kConference + "/Recordings/" + kRecording);
  REQUIRE(resumes.size() == 1);
  CHECK(resumes[0]["form"]["Status"] == "in-progress");
  CHECK(f.Stop() == 0);
}

// Issue 18: the template's plugin, unchanged, against recrules ---------------------------------

namespace {

// A signed TaskRouter callback for a voice task: `extra` fields are added (or replace).
HttpReply SignedEvent(TwilioFixture& f, HttpClient& c, const std::string& event_type,
                      const json& attributes, const Fields& extra = {}) {
  Fields fields = {{"EventType", event_type},
                   {"WorkspaceSid", kWorkspace},
                   {"TaskSid", kTask},
                   {"TaskQueueName", "Sales"},
                   {"TaskChannelUniqueName", "voice"},
                   {"TaskAttributes", attributes.dump()},
                   {"ReservationSid", kReservation},
                   {"WorkerSid", "WK0123456789abcdef0123456789abcdef"}};
  for (const auto& [name, value] : extra) {
    bool replaced = false;
    for (auto& field : fields) {
      if (field.first == name) {
        field.second = value;
        replaced = true;
      }
    }
    if (!replaced) fields.emplace_back(name, value);
  }
  std::string url = f.url("/v1/taskrouter/events");
  auto headers = kFormType;
  headers.emplace_back("X-Twilio-Signature", recrules::twilio::ComputeTwilioSignature(
                                                 FakeTwilio::kAuthToken, url, fields));
  return PostForm(c, "/v1/taskrouter/events", fields, headers);
}

// Trading lines may not pause; dual-channel on the worker's leg, as the plugin records it.
std::string TradingDualPolicy() {
  return R"({"features": {
    "dual_channel_recording": {"enabled": true, "channel": "worker"},
    "pause_recording": {"enabled": true, "include_silence": false}},
  "recrules": {"rules": ["rules/trading_lines.lua", "builtin:exclusions"],
               "default": "record"}})";
}

void WriteTradingRule(TwilioFixture& f) {
  f.dir.Write("policy/rules/trading_lines.lua",
              ReadFile(RECRULES_SOURCE_DIR "/rules/trading_lines.lua"));
}

}  // namespace

TEST_CASE("issue 18: one recording per leg, whoever asks") {
  SUBCASE("the plugin asks twice (a retry): one Twilio call, the same recording") {
    TwilioFixture f;
    HttpClient c(f.port);
    HttpReply first = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
    REQUIRE(first.status == 200);
    HttpReply again = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
    CHECK(again.status == 200);
    CHECK(Body(again)["success"] == true);
    CHECK(Body(again)["recording"]["sid"] == Body(first)["recording"]["sid"]);
    CHECK(Body(again).size() == 2);  // {recording, success}: the log says it was already there
    CHECK(f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json").size() == 1);
    CHECK(f.Stop() == 0);
    auto actions = f.LogLines("recording");
    REQUIRE(actions.size() == 2);
    CHECK(actions[1]["result"] == "already_recorded");
    CHECK(actions[1]["recordingSid"] == Body(first)["recording"]["sid"]);
  }
  SUBCASE("recrules recorded the leg on reservation.accepted: the plugin gets that recording") {
    TwilioFixture f(Policy(true, "customer"));
    json attributes = {{"call_sid", kCall}};
    f.fake.Seed(
        {{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
    HttpClient c(f.port);
    REQUIRE(SignedEvent(f, c, "reservation.accepted", attributes).status == 200);
    REQUIRE(Eventually([&] { return TaskAttributes(f.fake).contains("conversations"); }, 10000));
    HttpReply plugin = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
    CHECK(plugin.status == 200);
    std::string url = TaskAttributes(f.fake)["conversations"]["media"][0]["url"];
    CHECK(url.find(Body(plugin)["recording"]["sid"].get<std::string>()) != std::string::npos);
    CHECK(f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json").size() == 1);
    CHECK(f.Stop() == 0);
  }
  SUBCASE("concurrent: reservation.accepted and the plugin's requests, one Twilio POST") {
    TwilioFixture f(Policy(true, "customer"));
    json attributes = {{"call_sid", kCall}};
    f.fake.Seed(
        {{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
    // Twilio takes its time: every request below arrives while the first is in flight.
    f.fake.Fault({{"method", "POST"}, {"path", "/Recordings.json"}, {"delay_ms", 500}});
    std::vector<std::thread> plugins;
    std::vector<HttpReply> answers(4);
    {
      HttpClient c(f.port);
      REQUIRE(SignedEvent(f, c, "reservation.accepted", attributes).status == 200);
    }
    for (size_t i = 0; i < answers.size(); ++i) {
      plugins.emplace_back([&, i] {
        HttpClient client(f.port);
        answers[i] = PostForm(client, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
      });
    }
    for (auto& t : plugins) t.join();
    std::string sid;
    for (const HttpReply& a : answers) {
      CHECK(a.status == 200);
      if (sid.empty()) sid = Body(a)["recording"]["sid"];
      CHECK(Body(a)["recording"]["sid"] == sid);
    }
    CHECK(f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json").size() == 1);
    CHECK(f.Stop() == 0);
  }
  SUBCASE("a failed start is not kept: the next request tries again") {
    TwilioFixture f;
    HttpClient c(f.port);
    f.fake.Fault({{"method", "POST"}, {"path", "/Recordings.json"}, {"status", 500}, {"count", 1}});
    CHECK(PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}}).status == 500);
    CHECK(PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}}).status == 200);
    CHECK(f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json").size() == 2);
    CHECK(f.Stop() == 0);
  }
  SUBCASE("--state-file: still one recording after a restart") {
    TempDir state;
    TwilioFixture f(Policy(false), {"--state-file", state.file("state.jsonl")});
    std::string sid;
    {
      HttpClient c(f.port);
      HttpReply r = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
      REQUIRE(r.status == 200);
      sid = Body(r)["recording"]["sid"];
    }
    f.Restart();
    HttpClient c(f.port);
    HttpReply again = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
    CHECK(again.status == 200);
    CHECK(Body(again)["recording"]["sid"] == sid);
    CHECK(f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json").size() == 1);
    CHECK(f.Stop() == 0);
  }
}

TEST_CASE("issue 18: the worker's leg is tied to the task, so the policy is asked") {
  TwilioFixture f(TradingDualPolicy(), {}, WriteTradingRule);
  HttpClient c(f.port);
  // Flex writes the conference's legs into the task once it has started; TaskRouter reports it.
  json attributes = {
      {"call_sid", kCall},
      {"conference",
       {{"sid", kConference}, {"participants", {{"customer", kCall}, {"worker", kWorkerLeg}}}}}};
  REQUIRE(SignedEvent(f, c, "task.updated", attributes,
                      {{"TaskQueueName", "Trading Desk"}, {"TimestampMs", "1700000000000"}})
              .status == 200);
  f.fake.ClearRequests();
  // The plugin records the worker's leg (granted: trading lines are recorded) ...
  HttpReply created = PostForm(c, kCreate, {{"callSid", kWorkerLeg}, {"Token", "tok-alice"}});
  CHECK(created.status == 200);
  // ... and may not pause it: refused, and Twilio is not asked.
  HttpReply paused = PostForm(
      c, kPauseCall, {{"callSid", kWorkerLeg}, {"pauseBehavior", "skip"}, {"Token", "tok-alice"}});
  CHECK(paused.status == 409);
  CHECK(Body(paused)["success"] == false);
  CHECK(Body(paused)["twilioErrorCode"].is_null());  // not 21220: the plugin says "pause failed"
  CHECK(f.fake.RequestsTo("/Recordings/").empty());
  CHECK(f.Stop() == 0);
  std::vector<json> flex;
  for (const json& d : f.LogLines("decision")) {
    if (d["source"] == "flex") flex.push_back(d);
  }
  REQUIRE(flex.size() == 2);
  CHECK(flex[0]["event"] == "accept");
  CHECK(flex[1]["event"] == "pause_request");
  CHECK(flex[1]["rule"] == "rules/trading_lines.lua");
}

TEST_CASE("issue 18: a browser origin that may not read the answer causes nothing") {
  SUBCASE("not allowed: 403 before any action, preflight too") {
    TwilioFixture f;
    HttpClient c(f.port);
    auto headers = kFormType;
    headers.emplace_back("Origin", "http://localhost:3000");
    HttpReply r = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}}, headers);
    CHECK(r.status == 403);
    CHECK(r.body.find("Origin http://localhost:3000 is not allowed: add it with --cors-origin") !=
          std::string::npos);
    HttpReply preflight =
        c.Request("OPTIONS", kCreate, "",
                  {{"Origin", "http://localhost:3000"}, {"Access-Control-Request-Method", "POST"}});
    CHECK(preflight.status == 403);
    CHECK(f.fake.RequestsTo("/Recordings").empty());
    CHECK(f.fake.RequestsTo("/Tokens/validate").empty());
    // The Flex UI's own origin, the default, is answered.
    auto flex = kFormType;
    flex.emplace_back("Origin", "https://flex.twilio.com");
    CHECK(PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}}, flex).status == 200);
    CHECK(f.Stop() == 0);
  }
  SUBCASE("--cors-origin allows a plugin in local development") {
    TwilioFixture f(Policy(false), {"--cors-origin", "https://flex.twilio.com", "--cors-origin",
                                    "http://localhost:3000"});
    HttpClient c(f.port);
    auto headers = kFormType;
    headers.emplace_back("Origin", "http://localhost:3000");
    HttpReply r = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}}, headers);
    CHECK(r.status == 200);
    CHECK(r.header("access-control-allow-origin") == "http://localhost:3000");
    CHECK(f.Stop() == 0);
  }
}

TEST_CASE("issue 18: task.updated within one second is ordered by TimestampMs") {
  TwilioFixture f(
      R"({"features": {"pause_recording": {"enabled": true, "include_silence": true}},
          "recrules": {"rules": ["builtin:exclusions", "rules/pci_pause.lua"],
                       "default": "record"}})",
      {}, [](TwilioFixture& fx) {
        fx.dir.Write("policy/rules/pci_pause.lua",
                     ReadFile(RECRULES_SOURCE_DIR "/rules/pci_pause.lua"));
      });
  HttpClient c(f.port);
  json attributes = {{"call_sid", kCall}, {"conference", {{"sid", kConference}}}};
  json capture = attributes;
  capture["ivr"] = {{"stage", "payment"}};
  // The payment began (…000100) and ended (…000900) in the same second; the end arrives first.
  HttpReply ended = SignedEvent(f, c, "task.updated", attributes,
                                {{"Timestamp", "1700000000"}, {"TimestampMs", "1700000000900"}});
  REQUIRE(ended.status == 200);
  HttpReply late = SignedEvent(f, c, "task.updated", capture,
                               {{"Timestamp", "1700000000"}, {"TimestampMs", "1700000000100"}});
  REQUIRE(late.status == 200);
  CHECK(Body(late)["decision"]["action"] == "pause");
  CHECK(Body(late)["recording"] == "stale");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(f.fake.RequestsTo("/Recordings/").empty());
  CHECK(f.Stop() == 0);
}

TEST_CASE("issue 18: answers as the template's functions give them") {
  TwilioFixture f;
  HttpClient c(f.port);
  SUBCASE("recording: the twilio library's camelCase object, ISO dates") {
    HttpReply r = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
    REQUIRE(r.status == 200);
    json recording = Body(r)["recording"];
    CHECK(recording["callSid"] == kCall);
    CHECK(recording["accountSid"] == FakeTwilio::kAccountSid);
    CHECK(recording["channels"] == 2);
    CHECK_FALSE(recording.contains("call_sid"));
    std::string start = recording["startTime"];
    CHECK(start.size() == 24);
    CHECK(start.substr(19) == ".000Z");
  }
  SUBCASE("Twilio's 404 is passed on with its code") {
    HttpReply r = PostForm(c, kResumeCall,
                           {{"callSid", kCall},
                            {"recordingSid", "RE9999999999999999999999999999999f"},
                            {"Token", "tok-alice"}});
    CHECK(r.status == 404);
    CHECK(Body(r)["twilioErrorCode"] == 20404);
  }
  SUBCASE("parameters from the query string or a JSON body, as Twilio Functions merge them") {
    HttpReply query =
        c.Request("POST", kCreate + "?callSid=" + kCall + "&Token=tok-alice", "", kFormType);
    CHECK(query.status == 200);
    HttpReply body =
        c.Request("POST", kPauseCall, json{{"callSid", kCall}, {"Token", "tok-alice"}}.dump(),
                  {{"Content-Type", "application/json"}});
    CHECK(body.status == 200);
    CHECK(Body(body)["recording"]["status"] == "paused");
    HttpReply bad = c.Request("POST", kPauseCall, "[1]", {{"Content-Type", "application/json"}});
    CHECK(bad.status == 400);
    CHECK(Body(bad)["message"] == "request body: expected a JSON object of parameters");
  }
  CHECK(f.Stop() == 0);
}

namespace {

const std::string kUpdateTask = "/common/flex/taskrouter/update-task-attributes";

// The media object the template's plugin writes after create-recording (dualChannelHelper).
json TemplateMedia(const std::string& recording_sid, int64_t start_ms) {
  return {{"url", "https://api.twilio.com/2010-04-01/Accounts/" +
                      std::string(FakeTwilio::kAccountSid) + "/Recordings/" + recording_sid},
          {"type", "VoiceRecording"},
          {"start_time", start_ms},
          {"channels", json::array({"customer", "others"})}};
}

}  // namespace

TEST_CASE("issue 18: update-task-attributes with the template's contract") {
  json attributes = {{"call_sid", kCall}, {"custom", {{"keep", 1}, {"list", {1, 2, 3}}}}};
  auto seeded = [&](TwilioFixture& f) {
    f.fake.Seed(
        {{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
  };
  SUBCASE("the plugin's media link is merged into the task, conditionally") {
    TwilioFixture f(Policy(false), {}, [](TwilioFixture& fx) {
      fx.env.push_back("TWILIO_FLEX_WORKSPACE_SID=" + kWorkspace);
    });
    seeded(f);
    HttpClient c(f.port);
    HttpReply created = PostForm(c, kCreate, {{"callSid", kCall}, {"Token", "tok-alice"}});
    REQUIRE(created.status == 200);
    const std::string sid = Body(created)["recording"]["sid"];
    json update = {{"conversations", {{"media", json::array({TemplateMedia(sid, 1699999999000)})}}},
                   {"custom", {{"list", {9}}}}};
    HttpReply r =
        PostForm(c, kUpdateTask,
                 {{"Token", "tok-alice"}, {"taskSid", kTask}, {"attributesUpdate", update.dump()}});
    CHECK(r.status == 200);
    CHECK(Body(r) == json{{"success", true}});
    json merged = TaskAttributes(f.fake);
    CHECK(merged["conversations"]["media"][0] == TemplateMedia(sid, 1699999999000));
    CHECK(merged["custom"]["keep"] == 1);
    CHECK(merged["custom"]["list"] == json::array({9, 2, 3}));  // lodash merges arrays by index
    bool conditional = false;
    for (const json& u : f.fake.RequestsTo("/Tasks/" + kTask)) {
      if (u["method"] == "POST") conditional = u["headers"].contains("if-match");
    }
    CHECK(conditional);
    // Bad parameters: 400 in the template's shape; an unknown task: Twilio's 404.
    HttpReply bad = PostForm(
        c, kUpdateTask, {{"Token", "tok-alice"}, {"taskSid", kTask}, {"attributesUpdate", "[]"}});
    CHECK(bad.status == 400);
    CHECK(Body(bad)["message"] == "attributesUpdate: expected a JSON object");
    HttpReply unknown = PostForm(c, kUpdateTask,
                                 {{"Token", "tok-alice"},
                                  {"taskSid", "WT9999999999999999999999999999999f"},
                                  {"attributesUpdate", "{}"}});
    CHECK(unknown.status == 404);
    CHECK(Body(unknown)["success"] == false);
    CHECK(f.Stop() == 0);
  }
  SUBCASE("without TWILIO_FLEX_WORKSPACE_SID: the workspace of the TaskRouter events") {
    TwilioFixture f;
    seeded(f);
    HttpClient c(f.port);
    Fields fields = {{"Token", "tok-alice"}, {"taskSid", kTask}, {"attributesUpdate", "{}"}};
    CHECK(PostForm(c, kUpdateTask, fields).status == 503);
    REQUIRE(SignedEvent(f, c, "task.created", attributes).status == 200);
    CHECK(PostForm(c, kUpdateTask, fields).status == 200);
    CHECK(f.Stop() == 0);
  }
  SUBCASE("the task seen through it ties its legs: a trading line's worker leg is guarded") {
    TwilioFixture f(TradingDualPolicy(), {}, [](TwilioFixture& fx) {
      WriteTradingRule(fx);
      fx.env.push_back("TWILIO_FLEX_WORKSPACE_SID=" + kWorkspace);
    });
    json trading = {
        {"call_sid", kCall},
        {"conference",
         {{"sid", kConference}, {"participants", {{"customer", kCall}, {"worker", kWorkerLeg}}}}}};
    f.fake.Seed({{"tasks",
                  {{kTask,
                    {{"workspace_sid", kWorkspace},
                     {"task_queue_friendly_name", "Trading Desk"},
                     {"attributes", trading}}}}}});
    HttpClient c(f.port);
    // No TaskRouter events at all: the plugin records the worker's leg, then writes its link.
    HttpReply created = PostForm(c, kCreate, {{"callSid", kWorkerLeg}, {"Token", "tok-alice"}});
    REQUIRE(created.status == 200);
    json update = {{"reservation_attributes",
                    {{kReservation,
                      {{"media", json::array({TemplateMedia(Body(created)["recording"]["sid"],
                                                            1699999999000)})}}}}}};
    REQUIRE(
        PostForm(c, kUpdateTask,
                 {{"Token", "tok-alice"}, {"taskSid", kTask}, {"attributesUpdate", update.dump()}})
            .status == 200);
    HttpReply paused = PostForm(c, kPauseCall, {{"callSid", kWorkerLeg}, {"Token", "tok-alice"}});
    CHECK(paused.status == 409);
    CHECK(f.fake.RequestsTo("/Recordings/").empty());
    CHECK(f.Stop() == 0);
  }
}

TEST_CASE("issue 18: the server-side media object is the template's") {
  SUBCASE("start_time: epoch ms one second before the accept; the public media URL") {
    TwilioFixture f(Policy(true, "customer"));
    json attributes = {{"call_sid", kCall}};
    f.fake.Seed(
        {{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
    HttpClient c(f.port);
    REQUIRE(SignedEvent(f, c, "reservation.accepted", attributes,
                        {{"Timestamp", "1700000000"}, {"TimestampMs", "1700000000250"}})
                .status == 200);
    REQUIRE(Eventually([&] { return TaskAttributes(f.fake).contains("conversations"); }, 10000));
    json media = TaskAttributes(f.fake)["conversations"]["media"];
    REQUIRE(media.size() == 1);
    json created = f.fake.RequestsTo("/Calls/" + kCall + "/Recordings.json");
    REQUIRE(created.size() == 1);
    CHECK(f.Stop() == 0);
    const std::string sid = f.LogLines("recording").at(0)["recordingSid"];
    CHECK(media[0] == TemplateMedia(sid, 1699999999250));
  }
  SUBCASE("RECRULES_TWILIO_MEDIA_URL: another base for the link only") {
    TwilioFixture f(Policy(true, "customer"), {}, [](TwilioFixture& fx) {
      fx.env.push_back("RECRULES_TWILIO_MEDIA_URL=https://media.example.com/");
    });
    json attributes = {{"call_sid", kCall}};
    f.fake.Seed(
        {{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
    HttpClient c(f.port);
    REQUIRE(SignedEvent(f, c, "reservation.accepted", attributes).status == 200);
    REQUIRE(Eventually([&] { return TaskAttributes(f.fake).contains("conversations"); }, 10000));
    std::string url = TaskAttributes(f.fake)["conversations"]["media"][0]["url"];
    CHECK(url.rfind("https://media.example.com/2010-04-01/Accounts/" +
                        std::string(FakeTwilio::kAccountSid) + "/Recordings/RE",
                    0) == 0);
    CHECK(f.Stop() == 0);
  }
}

TEST_CASE("issue 18: TaskRouter callbacks signed with a SharedKey") {
  const std::string kSecret = "shared-key-secret";
  Fields fields = {{"EventType", "task.created"}, {"TaskSid", kTask}, {"WorkspaceSid", kWorkspace}};
  auto post = [&](TwilioFixture& f, HttpClient& c, const std::string& settings,
                  recrules::twilio::SignatureAlgorithm algorithm, const std::string& secret) {
    auto headers = kFormType;
    headers.emplace_back("X-Twilio-Signature",
                         recrules::twilio::ComputeTwilioSignature(
                             secret, f.url("/v1/taskrouter/events"), fields, algorithm));
    headers.emplace_back("X-Twilio-Webhooks-Signature-Settings", settings);
    return PostForm(c, "/v1/taskrouter/events", fields, headers);
  };
  const auto kSha256 = recrules::twilio::SignatureAlgorithm::kHmacSha256;
  const std::string kSettings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256";
  SUBCASE("TWILIO_WEBHOOK_SHARED_KEY set: accepted, and only with that secret") {
    TwilioFixture f(Policy(false), {}, [&](TwilioFixture& fx) {
      fx.env.push_back("TWILIO_WEBHOOK_SHARED_KEY=" + kSecret);
    });
    HttpClient c(f.port);
    CHECK(post(f, c, kSettings, kSha256, kSecret).status == 200);
    HttpReply wrong = post(f, c, kSettings, kSha256, FakeTwilio::kAuthToken);
    CHECK(wrong.status == 403);
    CHECK(Body(wrong)["error"]["message"].get<std::string>().find("signed with the SharedKey") !=
          std::string::npos);
    HttpReply odd = post(f, c, "key=k,algorithm=HMAC_SHA512", kSha256, kSecret);
    CHECK(odd.status == 403);
    // Without the settings header the auth token signs, as before.
    auto headers = kFormType;
    headers.emplace_back("X-Twilio-Signature",
                         recrules::twilio::ComputeTwilioSignature(
                             FakeTwilio::kAuthToken, f.url("/v1/taskrouter/events"), fields));
    CHECK(PostForm(c, "/v1/taskrouter/events", fields, headers).status == 200);
    CHECK(f.Stop() == 0);
  }
  SUBCASE("not set: refused, saying what to set") {
    TwilioFixture f;
    HttpClient c(f.port);
    HttpReply r = post(f, c, kSettings, kSha256, kSecret);
    CHECK(r.status == 403);
    CHECK(Body(r)["error"]["message"] ==
          "the request is signed with a SharedKey (X-Twilio-Webhooks-Signature-Settings), and "
          "TWILIO_WEBHOOK_SHARED_KEY is not set");
    CHECK(f.Stop() == 0);
  }
}

TEST_CASE("a pause naming no pauseBehavior: silence, unless the policy decided the pause") {
  TwilioFixture f(R"({"features": {"pause_recording": {"enabled": true, "include_silence": false}},
    "recrules": {"rules": ["builtin:exclusions"], "default": "record"}})");
  HttpClient c(f.port);
  const std::string kDecided = "CA5555555555555555555555555555555e";
  REQUIRE(DecideOn(c, VoiceTask("Sales", kDecided, "")).status == 200);
  for (const std::string& call : {kCall, kDecided}) {
    REQUIRE(PostForm(c, kCreate, {{"callSid", call}, {"Token", "tok-alice"}}).status == 200);
    REQUIRE(PostForm(c, kPauseCall, {{"callSid", call}, {"Token", "tok-alice"}}).status == 200);
  }
  json undecided = f.fake.RequestsTo("/Calls/" + kCall + "/Recordings/");
  REQUIRE(undecided.size() == 1);
  CHECK(undecided[0]["form"]["PauseBehavior"] == "silence");  // the template's default
  json decided = f.fake.RequestsTo("/Calls/" + kDecided + "/Recordings/");
  REQUIRE(decided.size() == 1);
  CHECK(decided[0]["form"]["PauseBehavior"] == "skip");  // include_silence: false
  CHECK(f.Stop() == 0);
}

TEST_CASE("issue 18: a leg tied to no task is decided under the worker's accepted task") {
  // A trading line (by attribute) accepted by tok-alice's worker; the task names no conference,
  // so recrules cannot know the worker's leg from TaskRouter.
  TwilioFixture f(TradingPolicy(), {}, [](TwilioFixture& fx) {
    fx.dir.Write("policy/rules/trading_lines.lua",
                 ReadFile(RECRULES_SOURCE_DIR "/rules/trading_lines.lua"));
  });
  f.fake.Seed({{"tokens",
                {{"tok-bob",
                  {{"valid", true},
                   {"identity", "bob"},
                   {"worker_sid", "WK9999999999999999999999999999999f"},
                   {"expiration", "2099-01-01T00:00:00Z"}}}}}});
  HttpClient c(f.port);
  REQUIRE(Accepted(f, c, {{"call_sid", kCall}, {"line_type", "trading"}}).status == 200);
  // The plugin records the worker's leg: granted (trading lines are recorded), and tied.
  REQUIRE(PostForm(c, kCreate, {{"callSid", kWorkerLeg}, {"Token", "tok-alice"}}).status == 200);
  f.fake.ClearRequests();
  HttpReply paused = PostForm(c, kPauseCall, {{"callSid", kWorkerLeg}, {"Token", "tok-alice"}});
  CHECK(paused.status == 409);
  CHECK(Body(paused)["message"].get<std::string>().find("trading lines") != std::string::npos);
  // Tied now: another caller's pause of that leg is refused as well.
  CHECK(PostForm(c, kPauseCall, {{"callSid", kWorkerLeg}, {"Token", "tok-bob"}}).status == 409);
  CHECK(f.fake.RequestsTo("/Recordings/").empty());
  // A worker with no accepted task recrules saw: the leg is not put to the policy.
  const std::string kOtherLeg = "CA6666666666666666666666666666666e";
  REQUIRE(PostForm(c, kCreate, {{"callSid", kOtherLeg}, {"Token", "tok-bob"}}).status == 200);
  CHECK(PostForm(c, kPauseCall, {{"callSid", kOtherLeg}, {"Token", "tok-bob"}}).status == 200);
  CHECK(f.Stop() == 0);
}

TEST_CASE("issue 18: update-task-attributes does not change the task TaskRouter reported") {
  // Twilio's task names no queue here; TaskRouter said Trading Desk: the policy keeps that.
  TwilioFixture f(TradingDualPolicy(), {}, [](TwilioFixture& fx) {
    WriteTradingRule(fx);
    fx.env.push_back("TWILIO_FLEX_WORKSPACE_SID=" + kWorkspace);
  });
  json attributes = {
      {"call_sid", kCall},
      {"conference",
       {{"sid", kConference}, {"participants", {{"customer", kCall}, {"worker", kWorkerLeg}}}}}};
  f.fake.Seed({{"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}}});
  HttpClient c(f.port);
  REQUIRE(SignedEvent(f, c, "task.updated", attributes,
                      {{"TaskQueueName", "Trading Desk"}, {"TimestampMs", "1700000000000"}})
              .status == 200);
  REQUIRE(PostForm(c, kCreate, {{"callSid", kWorkerLeg}, {"Token", "tok-alice"}}).status == 200);
  const std::string update = R"({"zeta":1,"alpha":{"media":[]}})";  // as sent, not sorted
  REQUIRE(PostForm(c, kUpdateTask,
                   {{"Token", "tok-alice"}, {"taskSid", kTask}, {"attributesUpdate", update}})
              .status == 200);
  f.fake.ClearRequests();
  CHECK(PostForm(c, kPauseCall, {{"callSid", kWorkerLeg}, {"Token", "tok-alice"}}).status == 409);
  CHECK(f.fake.RequestsTo("/Recordings/").empty());
  // The task's members keep their order, new ones follow in the order sent (as lodash's merge
  // into the parsed attributes writes them).
  json written = f.fake.State()["tasks"][kTask]["attributes"];
  REQUIRE(written.is_string());
  const std::string text = written;
  CHECK(text.find("\"call_sid\"") < text.find("\"conference\""));
  CHECK(text.find("\"conference\"") < text.find("\"zeta\""));
  CHECK(text.find("\"zeta\"") < text.find("\"alpha\""));
  CHECK(f.Stop() == 0);
}
