// TwilioClient against the fake Twilio: what each method sends, how answers, Twilio errors and
// wire failures come back, and the retry policy.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "fake_twilio/fake_twilio.h"
#include "twilio/twilio_client.h"

using nlohmann::json;
using recrules::PauseBehavior;
using recrules::testing::ConfigFor;
using recrules::testing::FakeTwilio;
using recrules::twilio::RecordingStatus;
using recrules::twilio::TwilioClient;
using recrules::twilio::TwilioConfig;

namespace {

// Without node there is no fake Twilio: the whole binary is skipped (CTest SKIP_RETURN_CODE 77).
const bool kNodeFound = [] {
  if (FakeTwilio::NodePath().empty()) {
    std::fprintf(stderr, "node not found on PATH: skipping the Twilio client tests\n");
    std::_Exit(77);
  }
  return true;
}();

const std::string kScript = RECRULES_SOURCE_DIR "/tests/fake_twilio/fake_twilio.js";
const std::string kAccount = FakeTwilio::kAccountSid;
const std::string kCall = "CA11111111111111111111111111111111";
const std::string kEndedCall = "CA22222222222222222222222222222222";
const std::string kConference = "CF33333333333333333333333333333333";
const std::string kWorkspace = "WS44444444444444444444444444444444";
const std::string kTask = "WT55555555555555555555555555555555";

std::string BasicAuth(const std::string& user, const std::string& password) {
  // Base64 by hand, so the test does not trust the code it checks.
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = user + ":" + password, out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v =
        (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (size_t rest = in.size() - i; rest > 0) {
    unsigned v = (unsigned char)in[i] << 16 | (rest == 2 ? (unsigned char)in[i + 1] << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return "Basic " + out;
}

std::string CallRecordings(const std::string& call) {
  return "/2010-04-01/Accounts/" + kAccount + "/Calls/" + call + "/Recordings";
}

int64_t GapMs(const json& requests, size_t i) {
  return requests[i]["time_ms"].get<int64_t>() - requests[i - 1]["time_ms"].get<int64_t>();
}

}  // namespace

TEST_CASE("ConfigFor: the fake's credentials and URL everywhere, with the retries asked for") {
  FakeTwilio fake(kScript);
  SUBCASE("defaults") {
    TwilioConfig c = ConfigFor(fake);
    CHECK(c.account_sid == kAccount);
    CHECK(c.auth_token == FakeTwilio::kAuthToken);
    CHECK(c.api_url == fake.url());
    CHECK(c.iam_url == fake.url());
    CHECK(c.taskrouter_url == fake.url());
    CHECK(c.timeout_ms == 1000);
    CHECK(c.max_attempts == 3);
    CHECK(c.backoff_base_ms == 20);
    CHECK(c.backoff_max_ms == 200);
  }
  SUBCASE("retries given") {
    TwilioConfig c =
        ConfigFor(fake, {.max_attempts = 5, .backoff_base_ms = 1, .backoff_max_ms = 7});
    CHECK(c.api_url == fake.url());
    CHECK(c.max_attempts == 5);
    CHECK(c.backoff_base_ms == 1);
    CHECK(c.backoff_max_ms == 7);
  }
}

TEST_CASE("client: each method sends Twilio's request and parses the answer") {
  FakeTwilio fake(kScript);
  TwilioClient client(ConfigFor(fake));
  fake.Seed({{"conferences",
              {{kConference,
                {{"participants",
                  {{{"call_sid", kCall}, {"label", "customer"}},
                   {{"call_sid", "CA77777777777777777777777777777777"}, {"label", "worker"}}}},
                 {"recordings", {{{"sid", "RE88888888888888888888888888888888"}}}}}}}},
             {"tasks",
              {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", {{"call_sid", kCall}}}}}}}});

  SUBCASE("CreateCallRecording: dual-channel, both tracks, basic auth, form body") {
    auto r = client.CreateCallRecording(kCall);
    CHECK(r.ok);
    CHECK(r.http_status == 201);
    CHECK(r.attempts == 1);
    CHECK(r.error_code == 0);
    CHECK(r.message.empty());
    CHECK(r.body["sid"].get<std::string>().rfind("RE", 0) == 0);
    CHECK(r.body["call_sid"] == kCall);
    CHECK(r.body["status"] == "in-progress");
    CHECK(r.body["channels"] == 2);
    auto sent = fake.Requests();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]["method"] == "POST");
    CHECK(sent[0]["path"] == CallRecordings(kCall) + ".json");
    CHECK(sent[0]["headers"]["authorization"] == BasicAuth(kAccount, FakeTwilio::kAuthToken));
    CHECK(sent[0]["content_type"] == "application/x-www-form-urlencoded");
    CHECK(sent[0]["form"] == json{{"RecordingChannels", "dual"}, {"RecordingTrack", "both"}});
  }
  SUBCASE("UpdateCallRecording: pause with PauseBehavior, resume and stop without") {
    auto created = client.CreateCallRecording(kCall);
    REQUIRE(created.ok);
    std::string sid = created.body["sid"];
    fake.ClearRequests();

    auto paused = client.UpdateCallRecording(kCall, "Twilio.CURRENT", RecordingStatus::kPaused,
                                             PauseBehavior::kSkip);
    CHECK(paused.ok);
    CHECK(paused.http_status == 200);
    CHECK(paused.body["sid"] == sid);
    CHECK(paused.body["status"] == "paused");
    auto resumed = client.UpdateCallRecording(kCall, sid, RecordingStatus::kInProgress,
                                              PauseBehavior::kSilence);
    CHECK(resumed.ok);
    CHECK(resumed.body["status"] == "in-progress");
    auto stopped = client.UpdateCallRecording(kCall, sid, RecordingStatus::kStopped);
    CHECK(stopped.ok);
    CHECK(stopped.body["status"] == "stopped");

    auto sent = fake.Requests();
    REQUIRE(sent.size() == 3);
    CHECK(sent[0]["path"] == CallRecordings(kCall) + "/Twilio.CURRENT.json");
    CHECK(sent[0]["form"] == json{{"Status", "paused"}, {"PauseBehavior", "skip"}});
    CHECK(sent[1]["path"] == CallRecordings(kCall) + "/" + sid + ".json");
    CHECK(sent[1]["form"] == json{{"Status", "in-progress"}});  // PauseBehavior only with paused
    CHECK(sent[2]["form"] == json{{"Status", "stopped"}});
  }
  SUBCASE("UpdateConferenceRecording: pause with silence") {
    auto r = client.UpdateConferenceRecording(kConference, "Twilio.CURRENT",
                                              RecordingStatus::kPaused, PauseBehavior::kSilence);
    CHECK(r.ok);
    CHECK(r.body["sid"] == "RE88888888888888888888888888888888");
    CHECK(r.body["conference_sid"] == kConference);
    CHECK(r.body["status"] == "paused");
    auto sent = fake.Requests();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]["path"] == "/2010-04-01/Accounts/" + kAccount + "/Conferences/" + kConference +
                                 "/Recordings/Twilio.CURRENT.json");
    CHECK(sent[0]["form"] == json{{"Status", "paused"}, {"PauseBehavior", "silence"}});
  }
  SUBCASE("ListConferenceParticipants") {
    auto r = client.ListConferenceParticipants(kConference);
    CHECK(r.ok);
    REQUIRE(r.body["participants"].size() == 2);
    CHECK(r.body["participants"][1]["call_sid"] == "CA77777777777777777777777777777777");
    CHECK(r.body["participants"][1]["label"] == "worker");
    auto sent = fake.Requests();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]["method"] == "GET");
    CHECK(sent[0]["path"] == "/2010-04-01/Accounts/" + kAccount + "/Conferences/" + kConference +
                                 "/Participants.json");
  }
  SUBCASE("FetchTask and UpdateTaskAttributes with If-Match") {
    auto fetched = client.FetchTask(kWorkspace, kTask);
    CHECK(fetched.ok);
    CHECK(fetched.etag == "1");
    CHECK(json::parse(fetched.body["attributes"].get<std::string>()) == json{{"call_sid", kCall}});

    std::string attributes =
        R"({"call_sid":"CA1","conversations":{"media":[{"type":"VoiceRecording"}]}})";
    auto updated = client.UpdateTaskAttributes(kWorkspace, kTask, attributes, fetched.etag);
    CHECK(updated.ok);
    CHECK(updated.etag == "2");
    CHECK(updated.body["attributes"] == attributes);

    auto stale = client.UpdateTaskAttributes(kWorkspace, kTask, "{}", "1");
    CHECK_FALSE(stale.ok);
    CHECK(stale.http_status == 412);
    CHECK(stale.attempts == 1);

    auto unconditional = client.UpdateTaskAttributes(kWorkspace, kTask, "{\"a\":1}");
    CHECK(unconditional.ok);
    CHECK(unconditional.etag == "3");

    auto sent = fake.Requests();
    REQUIRE(sent.size() == 4);
    CHECK(sent[0]["method"] == "GET");
    CHECK(sent[0]["path"] == "/v1/Workspaces/" + kWorkspace + "/Tasks/" + kTask);
    CHECK(sent[1]["method"] == "POST");
    CHECK(sent[1]["headers"]["if-match"] == "1");
    CHECK(sent[1]["form"] == json{{"Attributes", attributes}});
    CHECK_FALSE(sent[3]["headers"].contains("if-match"));
  }
  SUBCASE("ValidateToken: JSON body to the IAM endpoint") {
    fake.Seed({{"tokens", {{"tok-1", {{"identity", "alice"}}}}}});
    auto r = client.ValidateToken("tok-1");
    CHECK(r.ok);
    CHECK(r.body["valid"] == true);
    auto sent = fake.Requests();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]["path"] == "/v1/Accounts/" + kAccount + "/Tokens/validate");
    CHECK(sent[0]["content_type"] == "application/json");
    CHECK(sent[0]["json"] == json{{"token", "tok-1"}});
    CHECK(sent[0]["headers"]["authorization"] == BasicAuth(kAccount, FakeTwilio::kAuthToken));
  }
  SUBCASE("SIDs are percent-encoded into the path") {
    auto r = client.UpdateCallRecording("CA../x y", "RE1", RecordingStatus::kStopped);
    CHECK(r.http_status == 404);
    auto sent = fake.Requests();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]["path"] == CallRecordings("CA..%2Fx%20y") + "/RE1.json");
  }
}

TEST_CASE("client: an API key, when set, is the basic-auth credential") {
  const std::string key = "SK66666666666666666666666666666666";
  FakeTwilio fake(kScript, {.api_key = key, .api_secret = "key-secret"});
  TwilioConfig config = ConfigFor(fake);
  config.api_key = key;
  config.api_secret = "key-secret";
  TwilioClient client(config);
  auto r = client.CreateCallRecording(kCall);
  CHECK(r.ok);
  auto sent = fake.Requests();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]["auth_user"] == key);
  CHECK(sent[0]["headers"]["authorization"] == BasicAuth(key, "key-secret"));
  CHECK(sent[0]["path"] == CallRecordings(kCall) + ".json");  // still the account's URL
}

TEST_CASE("client: Twilio errors come back with code, message and more_info") {
  FakeTwilio fake(kScript);
  TwilioClient client(ConfigFor(fake));
  fake.Seed({{"calls", {{kEndedCall, {{"status", "completed"}}}}}});

  SUBCASE("21220: the call is no longer in progress; not retried") {
    auto r = client.CreateCallRecording(kEndedCall);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 400);
    CHECK(r.error_code == 21220);
    CHECK(r.message == "Call is not in-progress. Cannot redirect.");
    CHECK(r.more_info == "https://www.twilio.com/docs/errors/21220");
    CHECK(r.body["status"] == 400);
    CHECK(r.attempts == 1);
    auto pause = client.UpdateCallRecording(kEndedCall, "Twilio.CURRENT", RecordingStatus::kPaused,
                                            PauseBehavior::kSkip);
    CHECK(pause.error_code == 21220);
    CHECK(fake.Requests().size() == 2);
  }
  SUBCASE("20404: unknown recording") {
    auto r = client.UpdateCallRecording(kCall, "RE00000000000000000000000000000000",
                                        RecordingStatus::kPaused, PauseBehavior::kSkip);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 404);
    CHECK(r.error_code == 20404);
    CHECK(r.message == "The requested resource " + CallRecordings(kCall) +
                           "/RE00000000000000000000000000000000.json was not found");
  }
  SUBCASE("20003: wrong credentials") {
    TwilioConfig config = ConfigFor(fake);
    config.auth_token = "wrong";
    TwilioClient wrong(config);
    auto r = wrong.CreateCallRecording(kCall);
    CHECK(r.http_status == 401);
    CHECK(r.error_code == 20003);
    CHECK(r.message == "Authenticate");
    CHECK(r.attempts == 1);
  }
}

TEST_CASE("client: retries 429 and 503 with bounded, jittered backoff") {
  FakeTwilio fake(kScript);
  TwilioConfig config = ConfigFor(fake);

  SUBCASE("429 twice, then success: three attempts, short backoff") {
    TwilioClient client(config);
    fake.Fault({{"path", "/Recordings"}, {"status", 429}, {"count", 2}});
    auto r = client.CreateCallRecording(kCall);
    CHECK(r.ok);
    CHECK(r.http_status == 201);
    CHECK(r.attempts == 3);
    auto sent = fake.Requests();
    REQUIRE(sent.size() == 3);
    // backoff 20 ms then 40 ms, each jittered into [d/2, d]; scheduling slack on top
    CHECK(GapMs(sent, 1) >= 9);
    CHECK(GapMs(sent, 2) >= 19);
    CHECK(r.elapsed_ms < 1000);
    CHECK(fake.State()["recordings"].size() == 1);  // the 429s created nothing
  }
  SUBCASE("503 on every attempt: gives up after max_attempts with Twilio's error") {
    TwilioClient client(config);
    fake.Fault({{"path", "/Recordings"}, {"status", 503}, {"count", 5}});
    auto r = client.UpdateCallRecording(kCall, "Twilio.CURRENT", RecordingStatus::kPaused,
                                        PauseBehavior::kSkip);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 503);
    CHECK(r.error_code == 20503);
    CHECK(r.message == "Service Unavailable (after 3 attempts)");
    CHECK(r.attempts == 3);
    CHECK(fake.Requests().size() == 3);
  }
  SUBCASE("Retry-After is honoured") {
    config.backoff_max_ms = 5000;
    TwilioClient client(config);
    fake.Fault({{"path", "/Participants"}, {"status", 429}, {"retry_after", "1"}});
    auto r = client.ListConferenceParticipants(kConference);
    CHECK(r.attempts == 2);
    CHECK(r.http_status == 404);  // the conference is not seeded: the second answer is real
    auto sent = fake.Requests();
    REQUIRE(sent.size() == 2);
    CHECK(GapMs(sent, 1) >= 950);
    CHECK(GapMs(sent, 1) < 3000);
  }
  SUBCASE("Retry-After is capped by backoff_max_ms") {
    config.backoff_max_ms = 300;
    TwilioClient client(config);
    fake.Fault({{"path", "/Participants"}, {"status", 429}, {"retry_after", "30"}});
    auto r = client.ListConferenceParticipants(kConference);
    CHECK(r.attempts == 2);
    auto sent = fake.Requests();
    REQUIRE(sent.size() == 2);
    CHECK(GapMs(sent, 1) >= 280);
    CHECK(GapMs(sent, 1) < 2000);
  }
  SUBCASE("max_attempts 1 disables retries") {
    config.max_attempts = 1;
    TwilioClient client(config);
    fake.Fault({{"status", 429}});
    auto r = client.FetchTask(kWorkspace, kTask);
    CHECK(r.http_status == 429);
    CHECK(r.message == "Too Many Requests");
    CHECK(r.attempts == 1);
  }
}

TEST_CASE("client: connection resets, timeouts, malformed answers, Twilio down") {
  FakeTwilio fake(kScript);
  TwilioConfig config = ConfigFor(fake);
  config.timeout_ms = 300;
  TwilioClient client(config);
  auto created = client.CreateCallRecording(kCall);
  REQUIRE(created.ok);
  fake.ClearRequests();

  // An update may travel on a kept-alive connection; curl itself then sends it once more on a
  // fresh one when the reused connection dies, so one reset can cost one attempt or two.
  SUBCASE("reset on an update: retried, then succeeds") {
    fake.Fault({{"path", "/Recordings/"}, {"reset", true}});
    auto r = client.UpdateCallRecording(kCall, "Twilio.CURRENT", RecordingStatus::kPaused,
                                        PauseBehavior::kSkip);
    CHECK(r.ok);
    CHECK(r.attempts <= 2);
    CHECK(fake.Requests().size() == 2);
  }
  SUBCASE("reset on every attempt: the wire error comes back, no HTTP status") {
    fake.Fault({{"path", "/Recordings/"}, {"reset", true}, {"count", 10}});
    auto r = client.UpdateCallRecording(kCall, "Twilio.CURRENT", RecordingStatus::kPaused,
                                        PauseBehavior::kSkip);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 0);
    CHECK(r.attempts == 3);
    bool reset_words = r.message.rfind("connection to Twilio was reset: ", 0) == 0 ||
                       r.message.rfind("Twilio closed the connection without answering", 0) == 0;
    CHECK_MESSAGE(reset_words, r.message);
    CHECK(r.message.find("(after 3 attempts)") != std::string::npos);
    CHECK(fake.Requests().size() >= 3);
    CHECK(fake.Requests().size() <= 4);  // at most one hidden resend, on the kept-alive connection
  }
  SUBCASE("reset on a create is not retried: Twilio may have started the recording") {
    fake.Fault({{"path", "/Recordings.json"}, {"reset", true}});
    auto r = client.CreateCallRecording(kCall);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 0);
    CHECK(r.attempts == 1);
    CHECK(fake.Requests().size() == 1);
  }
  SUBCASE("slow answer past timeout_ms on an update: retried") {
    fake.Fault({{"path", "/Recordings/"}, {"delay_ms", 1500}});
    auto r = client.UpdateCallRecording(kCall, "Twilio.CURRENT", RecordingStatus::kPaused,
                                        PauseBehavior::kSkip);
    CHECK(r.ok);
    CHECK(r.attempts == 2);
    CHECK(r.elapsed_ms >= 280);  // curl's timer may fire a hair early
    CHECK(r.elapsed_ms < 1500);
  }
  SUBCASE("slow answer on a create: one attempt, timed out") {
    fake.Fault({{"path", "/Recordings.json"}, {"delay_ms", 1500}});
    auto r = client.CreateCallRecording(kCall);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 0);
    CHECK(r.attempts == 1);
    CHECK(r.message == "Twilio did not answer within 300 ms");
    CHECK(r.elapsed_ms >= 280);  // curl's timer may fire a hair early
    CHECK(r.elapsed_ms < 1500);
  }
  SUBCASE("malformed JSON in a 200 answer: not ok, body null, not retried") {
    fake.Fault({{"path", "/Participants"}, {"malformed", true}});
    auto r = client.ListConferenceParticipants(kConference);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 200);
    CHECK(r.body.is_null());
    CHECK(r.message == "Twilio answered HTTP 200 with a body that is not JSON");
    CHECK(r.attempts == 1);
  }
  SUBCASE("malformed JSON in an error answer") {
    fake.Fault({{"path", "/Participants"}, {"malformed", true}, {"status", 500}});
    auto r = client.ListConferenceParticipants(kConference);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 500);
    CHECK(r.error_code == 0);
    CHECK(r.message == "Twilio answered HTTP 500");
  }
  SUBCASE("Twilio down: connection refused, retried, then the wire error") {
    fake.Stop();
    auto r = client.FetchTask(kWorkspace, kTask);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 0);
    CHECK(r.attempts == 3);
    CHECK_MESSAGE(r.message.rfind("could not connect to Twilio: ", 0) == 0, r.message);
    CHECK(r.elapsed_ms < 2000);
  }
}

TEST_CASE("client: many threads share one client") {
  FakeTwilio fake(kScript);
  TwilioClient client(ConfigFor(fake));
  constexpr int kThreads = 8, kEach = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string call = "CA" + std::string(31, '0') + std::to_string(t);
      for (int i = 0; i < kEach; ++i) {
        auto r = i == 0 ? client.CreateCallRecording(call)
                        : client.UpdateCallRecording(
                              call, "Twilio.CURRENT",
                              i % 2 ? RecordingStatus::kPaused : RecordingStatus::kInProgress,
                              PauseBehavior::kSkip);
        if (r.ok) ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == kThreads * kEach);
  CHECK(fake.Requests().size() == kThreads * kEach);
}
