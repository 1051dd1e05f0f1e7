// Recording status callbacks (issue 19): every recording `recrules serve` starts asks Twilio
// for in-progress, completed and absent callbacks on /v1/twilio/recording-status; the fake
// Twilio posts them signed, and each is a decision log line, a counter and, when absent, an
// error. `recrules why` tells them.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "fake_twilio/fake_twilio.h"
#include "serve_harness.h"
#include "test_util.h"
#include "twilio/auth.h"

using nlohmann::json;
using recrules::testing::Eventually;
using recrules::testing::FakeTwilio;
using recrules::testing::Fields;
using recrules::testing::Form;
using recrules::testing::HttpClient;
using recrules::testing::HttpReply;
using recrules::testing::Lines;
using recrules::testing::ReadFile;
using recrules::testing::ServeProcess;
using recrules::testing::TempDir;

namespace {

const std::string kScript = RECRULES_SOURCE_DIR "/tests/fake_twilio/fake_twilio.js";
const std::string kWorkspace = "WS0123456789abcdef0123456789abcdef";
const std::string kTask = "WT1111111111111111111111111111111a";
const std::string kCall = "CA1111111111111111111111111111111a";
const std::string kFlexCall = "CA3333333333333333333333333333333c";
const std::string kRoute = "/v1/twilio/recording-status";

const char* kPolicy = R"({"features": {
  "dual_channel_recording": {"enabled": true, "channel": "customer"},
  "pause_recording": {"enabled": true, "include_silence": false}},
 "recrules": {"rules": ["builtin:non_voice"], "default": "record"}})";

const std::vector<std::pair<std::string, std::string>> kFormType = {
    {"Content-Type", "application/x-www-form-urlencoded"}};

// A loopback port free at the time of asking: the public URL (which Twilio signs and calls)
// must be known before the server starts.
int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// `recrules serve` against the fake Twilio; `public_url`: serve's --public-url (none if empty).
struct Server {
  FakeTwilio fake{kScript};
  TempDir dir;
  std::string log = dir.file("decisions.jsonl");
  std::unique_ptr<ServeProcess> serve;
  int port = 0;

  explicit Server(bool public_url) {
    dir.Write("policy/policy.json", kPolicy);
    const int wanted = public_url ? FreeLoopbackPort() : 0;
    std::vector<std::string> args = {"--policy",       dir.path() + "/policy",
                                     "--listen",       "127.0.0.1:" + std::to_string(wanted),
                                     "--decision-log", log};
    if (public_url) {
      args.insert(args.end(), {"--public-url", "http://127.0.0.1:" + std::to_string(wanted)});
    }
    serve = std::make_unique<ServeProcess>(
        dir.path(), args,
        std::vector<std::string>{
            "TWILIO_ACCOUNT_SID=" + std::string(FakeTwilio::kAccountSid),
            "TWILIO_AUTH_TOKEN=" + std::string(FakeTwilio::kAuthToken),
            "RECRULES_TWILIO_API_URL=" + fake.url(), "RECRULES_TWILIO_IAM_URL=" + fake.url(),
            "RECRULES_TWILIO_TASKROUTER_URL=" + fake.url(), "RECRULES_API_TOKENS=service-token"});
    port = serve->WaitForPort();
    REQUIRE_MESSAGE(port > 0, serve->stderr_text());
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  std::vector<json> StatusLines() const {
    std::vector<json> out;
    for (const std::string& l : Lines(ReadFile(log))) {
      json j = json::parse(l, nullptr, false);
      if (j.is_object() && j["type"] == "recording_status") out.push_back(j);
    }
    return out;
  }
  // The recording_status line with this recording and status, or null.
  json StatusLine(const std::string& recording, const std::string& status) const {
    for (const json& j : StatusLines()) {
      if (j["recordingSid"] == recording && j["status"] == status) return j;
    }
    return nullptr;
  }
};

HttpReply SignedAccepted(Server& s, HttpClient& c) {
  Fields fields = {{"EventType", "reservation.accepted"},
                   {"WorkspaceSid", kWorkspace},
                   {"TaskSid", kTask},
                   {"TaskQueueName", "Sales"},
                   {"TaskChannelUniqueName", "voice"},
                   {"TaskAttributes", json{{"call_sid", kCall}}.dump()},
                   {"ReservationSid", "WR" + kTask.substr(2)},
                   {"WorkerSid", "WK0123456789abcdef0123456789abcdef"}};
  auto headers = kFormType;
  headers.emplace_back("X-Twilio-Signature",
                       recrules::twilio::ComputeTwilioSignature(
                           FakeTwilio::kAuthToken, s.url("/v1/taskrouter/events"), fields));
  return c.Request("POST", "/v1/taskrouter/events", Form(fields), headers);
}

// The form of the create-recording request Twilio received for `call`.
json CreateForm(const FakeTwilio& fake, const std::string& call) {
  json creates = fake.RequestsTo("/Calls/" + call + "/Recordings.json");
  return creates.empty() ? json(nullptr) : creates[0]["form"];
}

std::string WhyOutput(const std::string& sid, const std::string& log) {
  std::string cmd = "timeout 60 " + std::string(RECRULES_BINARY_DIR) + "/src/recrules why " + sid +
                    " --log '" + log + "' 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string Rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// `recrules audit` over the last and next ten minutes, as JSON; *exit_code its exit code.
json AuditJson(const Server& s, int* exit_code) {
  std::time_t now = std::time(nullptr);
  std::string cmd =
      "TWILIO_ACCOUNT_SID=" + std::string(FakeTwilio::kAccountSid) +
      " TWILIO_AUTH_TOKEN=" + FakeTwilio::kAuthToken + " RECRULES_TWILIO_API_URL=" + s.fake.url() +
      " timeout 60 " + RECRULES_BINARY_DIR "/src/recrules audit --from " + Rfc3339(now - 600) +
      " --to " + Rfc3339(now + 600) + " --log '" + s.log + "' --format json 2>/dev/null";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return json::parse(out, nullptr, false);
}

}  // namespace

TEST_CASE("recording status callbacks: asked for, signed, logged, counted, told by why") {
  Server s(true);
  HttpClient c(s.port);
  const std::string callback_url = s.url(kRoute);

  // The server-side dual-channel start on reservation.accepted asks for the callbacks.
  REQUIRE(SignedAccepted(s, c).status == 200);
  REQUIRE(Eventually([&] { return !CreateForm(s.fake, kCall).is_null(); }, 10000));
  json form = CreateForm(s.fake, kCall);
  CHECK(form["RecordingChannels"] == "dual");
  CHECK(form["RecordingStatusCallback"] == callback_url);
  CHECK(form["RecordingStatusCallbackEvent"] == "in-progress completed absent");
  CHECK(form["RecordingStatusCallbackMethod"] == "POST");
  json recordings = s.fake.State()["recordings"];
  REQUIRE(recordings.size() == 1);
  const std::string recording = recordings.begin().key();

  // in-progress: posted by the fake right after the create, signed; logged with the task.
  REQUIRE(Eventually([&] { return !s.StatusLine(recording, "in-progress").is_null(); }, 10000));
  json started = s.StatusLine(recording, "in-progress");
  CHECK(started["callSid"] == kCall);
  CHECK(started["taskSid"] == kTask);
  CHECK(started["recordingSource"] == "StartCallRecordingAPI");
  CHECK(started["errorCode"].is_null());
  CHECK(started["time"].is_string());
  json callbacks = s.fake.Callbacks();
  REQUIRE(callbacks.size() == 1);
  CHECK(callbacks[0]["http_status"] == 200);
  CHECK(callbacks[0]["url"] == callback_url);

  // completed: when the call ends; its duration logged as a number.
  json ended = s.fake.EndRecording(recording, "completed", 0, 42);
  CHECK(ended["callback"]["http_status"] == 200);
  REQUIRE(Eventually([&] { return !s.StatusLine(recording, "completed").is_null(); }, 5000));
  CHECK(s.StatusLine(recording, "completed")["duration"] == 42);

  // The Flex plugin's create-recording asks for them too; an absent recording is an error
  // naming the call and Twilio's code.
  HttpReply flex = c.Request("POST", "/features/dual-channel-recording/flex/create-recording",
                             Form({{"callSid", kFlexCall}}),
                             {{"Content-Type", "application/x-www-form-urlencoded"},
                              {"Authorization", "Bearer service-token"}});
  REQUIRE_MESSAGE(flex.status == 200, flex.body);
  json flex_form = CreateForm(s.fake, kFlexCall);
  CHECK(flex_form["RecordingStatusCallback"] == callback_url);
  CHECK(flex_form["RecordingStatusCallbackEvent"] == "in-progress completed absent");
  const std::string flex_recording = json::parse(flex.body)["recording"]["sid"];
  REQUIRE(
      Eventually([&] { return !s.StatusLine(flex_recording, "in-progress").is_null(); }, 10000));
  CHECK(s.fake.EndRecording(flex_recording, "absent", 13617)["callback"]["http_status"] == 200);
  REQUIRE(Eventually([&] { return !s.StatusLine(flex_recording, "absent").is_null(); }, 5000));
  CHECK(s.StatusLine(flex_recording, "absent")["errorCode"] == 13617);
  CHECK(s.StatusLine(flex_recording, "absent")["callSid"] == kFlexCall);
  const std::string err = s.serve->stderr_text();
  CHECK_MESSAGE(err.find("Twilio reports recording " + flex_recording + " of call " + kFlexCall +
                         " absent (Twilio error 13617)") != std::string::npos,
                err);
  CHECK(err.find("no --public-url") == std::string::npos);

  // Counted by status.
  HttpReply metrics = c.Request("GET", "/metrics");
  CHECK(metrics.body.find("recrules_recordings_total{status=\"in-progress\"} 2") !=
        std::string::npos);
  CHECK(metrics.body.find("recrules_recordings_total{status=\"completed\"} 1") !=
        std::string::npos);
  CHECK(metrics.body.find("recrules_recordings_total{status=\"absent\"} 1") != std::string::npos);

  // Not Twilio: refused, nothing logged or counted.
  const std::string forged_sid = "RE9999999999999999999999999999999f";
  Fields forged = {{"RecordingSid", forged_sid},
                   {"CallSid", kCall},
                   {"RecordingStatus", "absent"},
                   {"ErrorCode", "13617"}};
  HttpReply unsigned_reply = c.Request("POST", kRoute, Form(forged), kFormType);
  CHECK(unsigned_reply.status == 403);
  CHECK(json::parse(unsigned_reply.body)["error"]["message"] == "missing X-Twilio-Signature");
  auto wrong = kFormType;
  wrong.emplace_back("X-Twilio-Signature", recrules::twilio::ComputeTwilioSignature(
                                               "not-the-auth-token", callback_url, forged));
  CHECK(c.Request("POST", kRoute, Form(forged), wrong).status == 403);
  // Signed, but not a recording status: 400 naming the field.
  Fields no_sid = {{"CallSid", kCall}, {"RecordingStatus", "completed"}};
  auto signed_headers = kFormType;
  signed_headers.emplace_back(
      "X-Twilio-Signature",
      recrules::twilio::ComputeTwilioSignature(FakeTwilio::kAuthToken, callback_url, no_sid));
  HttpReply bad = c.Request("POST", kRoute, Form(no_sid), signed_headers);
  CHECK(bad.status == 400);
  CHECK(bad.body.find("RecordingSid: missing field") != std::string::npos);
  // A call SID that is not one (here with a newline, which would forge a line in the server's
  // log): 400 naming the field.
  Fields bad_call = {{"RecordingSid", forged_sid},
                     {"CallSid", "CA\nerror: forged"},
                     {"RecordingStatus", "absent"}};
  auto bad_call_headers = kFormType;
  bad_call_headers.emplace_back(
      "X-Twilio-Signature",
      recrules::twilio::ComputeTwilioSignature(FakeTwilio::kAuthToken, callback_url, bad_call));
  HttpReply bad_call_reply = c.Request("POST", kRoute, Form(bad_call), bad_call_headers);
  CHECK(bad_call_reply.status == 400);
  CHECK(bad_call_reply.body.find("CallSid: expected a call SID") != std::string::npos);

  s.serve->Signal(SIGTERM);
  REQUIRE(s.serve->Exited(15000));
  CHECK(s.StatusLine(forged_sid, "absent").is_null());
  CHECK(s.StatusLines().size() == 4);

  // `recrules why` tells what Twilio reported, by the recording or the task.
  std::string why = WhyOutput(flex_recording, s.log);
  CHECK_MESSAGE(why.find("Twilio reported: recording " + flex_recording + " of call " + kFlexCall +
                         " is absent (Twilio error 13617)") != std::string::npos,
                why);
  why = WhyOutput(kTask, s.log);
  CHECK_MESSAGE(why.find("Twilio reported: recording " + recording + " of call " + kCall +
                         " is completed") != std::string::npos,
                why);
}

TEST_CASE("recording status callbacks: without --public-url none is asked for, with a warning") {
  Server s(false);
  HttpClient c(s.port);
  REQUIRE(SignedAccepted(s, c).status == 200);
  REQUIRE(Eventually([&] { return !CreateForm(s.fake, kCall).is_null(); }, 10000));
  json form = CreateForm(s.fake, kCall);
  CHECK(form["RecordingChannels"] == "dual");
  CHECK_FALSE(form.contains("RecordingStatusCallback"));
  CHECK_FALSE(form.contains("RecordingStatusCallbackEvent"));
  CHECK(s.serve->stderr_text().find("no --public-url: recordings are started without status "
                                    "callbacks") != std::string::npos);
  s.serve->Signal(SIGTERM);
  REQUIRE(s.serve->Exited(15000));
}

TEST_CASE("recording status callbacks: audit names the absent recording the server logged") {
  Server s(true);
  HttpClient c(s.port);
  REQUIRE(SignedAccepted(s, c).status == 200);
  REQUIRE(Eventually([&] { return !CreateForm(s.fake, kCall).is_null(); }, 10000));
  const std::string recording = s.fake.State()["recordings"].begin().key();
  REQUIRE(Eventually([&] { return !s.StatusLine(recording, "in-progress").is_null(); }, 10000));
  CHECK(s.fake.EndRecording(recording, "absent", 13617)["callback"]["http_status"] == 200);
  REQUIRE(Eventually([&] { return !s.StatusLine(recording, "absent").is_null(); }, 5000));
  s.serve->Signal(SIGTERM);
  REQUIRE(s.serve->Exited(15000));
  // Twilio no longer lists it: only the callback in the log tells what became of it.
  s.fake.Reset();
  int exit_code = -1;
  json doc = AuditJson(s, &exit_code);
  REQUIRE(doc.is_object());
  CHECK(exit_code == 1);
  const json* row = nullptr;
  for (const json& r : doc["rows"]) {
    if (r["callSid"] == kCall) row = &r;
  }
  REQUIRE(row != nullptr);
  CHECK((*row)["verdict"] == "missing");
  CHECK_MESSAGE((*row)["cause"].get<std::string>().find(
                    "Twilio reported it absent (error_code 13617)") != std::string::npos,
                row->dump());
}
