// `recrules why` on decision logs the real server wrote (against the fake Twilio), rotated into
// several files: one call followed across its legs, from any of its SIDs.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "fake_twilio/fake_twilio.h"
#include "server/serve_harness.h"
#include "test_util.h"
#include "twilio/auth.h"

using nlohmann::json;
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
const std::string kCall = "CA0123456789abcdef0123456789abcdef";
const std::string kWorkerLeg = "CA7777777777777777777777777777777f";
const std::string kConference = "CF0123456789abcdef0123456789abcdef";
const std::string kTask = "WT0123456789abcdef0123456789abcdef";
const std::string kReservation = "WR0123456789abcdef0123456789abcdef";
const std::string kWorkspace = "WS0123456789abcdef0123456789abcdef";
const std::string kOtherCall = "CA99999999999999999999999999999999";
const std::string kOtherTask = "WT99999999999999999999999999999999";

struct Run {
  int rc = -1;
  std::string out;
};

// Runs `recrules why ARGS` (stdout and stderr together, bounded by `timeout`).
Run Why(const std::string& args) {
  std::string cmd =
      "timeout 60 " + std::string(RECRULES_BINARY_DIR) + "/src/recrules why " + args + " 2>&1";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}

// A signed TaskRouter event for the task.
HttpReply Event(HttpClient& c, int port, const std::string& type, const std::string& task,
                const json& attributes) {
  Fields fields = {{"EventType", type},
                   {"WorkspaceSid", kWorkspace},
                   {"TaskSid", task},
                   {"TaskQueueSid", "WQ0123456789abcdef0123456789abcdef"},
                   {"TaskQueueName", "Sales"},
                   {"TaskChannelUniqueName", "voice"},
                   {"TaskAttributes", attributes.dump()},
                   {"ReservationSid", task == kTask ? kReservation : "WR" + task.substr(2)},
                   {"WorkerSid", "WK0123456789abcdef0123456789abcdef"},
                   {"Timestamp", "1700000000"}};
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/taskrouter/events";
  std::string sig = recrules::twilio::ComputeTwilioSignature(FakeTwilio::kAuthToken, url, fields);
  return c.Request(
      "POST", "/v1/taskrouter/events", Form(fields),
      {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Twilio-Signature", sig}});
}

// The log of one served call, written once for all the cases below: the server is started with
// a small rotation size, so the call's lines land in several files.
struct ServedLog {
  TempDir dir;
  std::string log = dir.file("decisions.jsonl");
  std::string recording;  // the worker leg's recording, as Twilio named it

  ServedLog() {
    FakeTwilio fake(kScript);
    dir.Write("policy/policy.json", R"({"features": {
        "dual_channel_recording": {"enabled": true, "channel": "worker"},
        "pause_recording": {"enabled": true, "include_silence": false}},
      "recrules": {"rules": ["trading_lines.lua", "builtin:exclusions"], "default": "record"}})");
    // Trading lines are recorded in full: an agent's pause is refused.
    dir.Write("policy/trading_lines.lua",
              ReadFile(RECRULES_SOURCE_DIR "/examples/policy/rules/trading_lines.lua"));
    json attributes = {
        {"call_sid", kCall}, {"conference", {{"sid", kConference}}}, {"line_type", "trading"}};
    fake.Seed(
        {{"tokens",
          {{"tok-alice",
            {{"valid", true}, {"identity", "alice"}, {"expiration", "2099-01-01T00:00:00Z"}}}}},
         {"tasks", {{kTask, {{"workspace_sid", kWorkspace}, {"attributes", attributes}}}}},
         {"conferences",
          {{kConference,
            {{"status", "in-progress"},
             {"participants",
              {{{"call_sid", kCall}, {"label", "customer"}},
               {{"call_sid", kWorkerLeg}, {"label", "worker"}}}}}}}}});
    {
      // A small rotation size: the call's lines land in several files.
      ServeProcess serve(
          dir.path(),
          {"--policy", dir.path() + "/policy", "--listen", "127.0.0.1:0", "--decision-log", log,
           "--decision-log-max-bytes", "1200", "--decision-log-keep", "50"},
          {"TWILIO_ACCOUNT_SID=" + std::string(FakeTwilio::kAccountSid),
           "TWILIO_AUTH_TOKEN=" + std::string(FakeTwilio::kAuthToken),
           "RECRULES_TWILIO_API_URL=" + fake.url(), "RECRULES_TWILIO_IAM_URL=" + fake.url(),
           "RECRULES_TWILIO_TASKROUTER_URL=" + fake.url()});
      const int port = serve.WaitForPort();
      REQUIRE_MESSAGE(port > 0, serve.stderr_text());
      HttpClient c(port);
      // Another call first, so that its lines lie between this call's.
      REQUIRE(Event(c, port, "reservation.accepted", kOtherTask,
                    {{"call_sid", kOtherCall}, {"line_type", "sales"}})
                  .status == 200);
      REQUIRE(Event(c, port, "reservation.accepted", kTask, attributes).status == 200);
      // The worker's leg is remembered once the recording started on it.
      REQUIRE(recrules::testing::Eventually(
          [&] { return Count(ReadFile(log) + ReadFile(log + ".1"), "update_task_attributes") > 0; },
          10000));
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      HttpReply pause = c.Request("POST", "/features/pause-recording/flex/pause-call-recording",
                                  Form({{"callSid", kWorkerLeg}, {"Token", "tok-alice"}}),
                                  {{"Content-Type", "application/x-www-form-urlencoded"}});
      CHECK(pause.status == 409);
      serve.Signal(SIGTERM);
      REQUIRE(serve.Exited(15000));
    }
    REQUIRE(std::filesystem::exists(log + ".2"));  // rotated at least twice
    // The recording's SID, as Twilio gave it.
    for (int i = 0; i <= 50 && recording.empty(); ++i) {
      std::string path = i == 0 ? log : log + "." + std::to_string(i);
      for (const std::string& l : Lines(ReadFile(path))) {
        json j = json::parse(l);
        if (j["type"] == "recording" && j["operation"] == "create_call_recording" &&
            j["callSid"] == kWorkerLeg) {
          recording = j["recordingSid"];
        }
      }
    }
    REQUIRE(recording.size() == 34);
  }
};

const ServedLog& Served() {
  static ServedLog served;
  return served;
}

}  // namespace

TEST_CASE("why: a worker-leg recording and a refused Flex pause, from any SID of the call") {
  const std::string& log = Served().log;
  const std::string& recording = Served().recording;

  Run by_recording = Why(recording + " --log " + log);
  REQUIRE_MESSAGE(by_recording.rc == 0, by_recording.out);
  const std::string& out = by_recording.out;
  INFO(out);
  // The accept decision (it names only the customer's call), the recording on the worker's
  // leg, the task's attributes, the refused pause on the worker's leg.
  CHECK(out.find("TaskRouter: reservation " + kReservation + " accepted") != std::string::npos);
  CHECK(out.find("decided: record, a dual-channel recording of the worker's leg") !=
        std::string::npos);
  CHECK(out.find("recrules asked Twilio to start a dual-channel recording of call " + kWorkerLeg) !=
        std::string::npos);
  CHECK(out.find("Twilio answered: done (HTTP 201, recording " + recording) != std::string::npos);
  CHECK(out.find("write the recording's media link into task " + kTask) != std::string::npos);
  CHECK(out.find("Flex plugin (user alice) asked to pause the call recording") !=
        std::string::npos);
  CHECK(out.find("decided: refused (HTTP 409 to the plugin; Twilio is not asked): the recording "
                 "goes on") != std::string::npos);
  CHECK(out.find("why: pause refused: trading lines are recorded in full (MiFID II)") !=
        std::string::npos);
  CHECK(out.find("call legs: " + kCall + ", " + kWorkerLeg) != std::string::npos);
  CHECK(out.find(kOtherCall) == std::string::npos);  // another call's lines are not taken
  CHECK(out.find(kOtherTask) == std::string::npos);
  // In time order: the accept first, the pause last.
  CHECK(out.find("accepted") < out.find("start a dual-channel"));
  CHECK(out.find("start a dual-channel") < out.find("asked to pause"));

  // The same history from the customer's call, the task, the conference and the worker's leg.
  for (const std::string& sid : {kCall, kTask, kConference, kWorkerLeg, kReservation}) {
    Run r = Why(sid + " --log " + log);
    CHECK(r.rc == 0);
    CHECK(r.out.substr(r.out.find('\n')) == out.substr(out.find('\n')));
  }
}

TEST_CASE("why --json: every entry with its file, line and log fields") {
  const std::string& log = Served().log;
  const std::string& recording = Served().recording;
  {
    Run r = Why(kConference + " --json --log " + log);
    REQUIRE(r.rc == 0);
    json j = json::parse(r.out);
    CHECK(j["sid"] == kConference);
    CHECK(j["sids"]["recordings"] == json::array({recording}));
    CHECK(j["sids"]["calls"] == json::array({kCall, kWorkerLeg}));
    REQUIRE(j["entries"].size() >= 5);
    CHECK(j["entries"][0]["type"] == "decision");
    CHECK(j["entries"][0]["log"]["eventType"] == "reservation.accepted");
    const json& last = j["entries"].back();
    CHECK(last["log"]["operation"] == "pause_call_recording");
    // file:line points at the line itself.
    std::vector<std::string> lines = Lines(ReadFile(last["file"].get<std::string>()));
    CHECK(json::parse(lines.at(last["line"].get<size_t>() - 1)) == last["log"]);
    CHECK(j["skipped"].empty());
  }
}

TEST_CASE("why from stdin: a malformed line is named and skipped") {
  const std::string& log = Served().log;
  const TempDir& dir = Served().dir;
  {
    std::string all;
    for (int i = 50; i >= 1; --i) {
      std::string path = log + "." + std::to_string(i);
      if (std::filesystem::exists(path)) all += ReadFile(path);
    }
    all += ReadFile(log);
    all += "{\"type\":\"decision\",\"callSid\":\"" + kCall + "\", cut off\n";
    dir.Write("all.jsonl", all);
    Run r = Why(kCall + " < " + dir.file("all.jsonl"));
    CHECK(r.rc == 0);
    CHECK(r.out.find("recrules why: stdin:" + std::to_string(Lines(all).size()) +
                     ": skipped: not JSON") != std::string::npos);
    CHECK(r.out.find("start a dual-channel recording of call " + kWorkerLeg) != std::string::npos);
  }
}

TEST_CASE("why: a SID the log does not name is exit 1") {
  const std::string& log = Served().log;
  {
    Run r = Why("CAabcabcabcabcabcabcabcabcabcabcab --log " + log);
    CHECK(r.rc == 1);
    CHECK(r.out.find("recrules why: call CAabcabcabcabcabcabcabcabcabcabcab: not in the decision "
                     "log") == 0);
  }
}
