// `recrules audit` on a decision log the real server wrote: `recrules serve` decides two
// TaskRouter calls against the fake Twilio (one recorded dual-channel, one excluded), then audit
// joins that log with the fake's Recordings list.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <chrono>
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
using recrules::testing::ReadFile;
using recrules::testing::ServeProcess;
using recrules::testing::TempDir;

namespace {

const std::string kScript = RECRULES_SOURCE_DIR "/tests/fake_twilio/fake_twilio.js";
const std::string kWorkspace = "WS0123456789abcdef0123456789abcdef";
const std::string kRecordedCall = "CA1111111111111111111111111111111a";
const std::string kExcludedCall = "CA2222222222222222222222222222222b";

const char* kPolicy = R"({"features": {
  "conditional_recording": {"enabled": true, "exclude_queues": ["HR Internal"]},
  "dual_channel_recording": {"enabled": true, "channel": "customer",
                             "exclude_queues": ["HR Internal"], "exclude_attributes": []},
  "pause_recording": {"enabled": true, "include_silence": false}},
 "recrules": {"rules": ["builtin:non_voice", "builtin:exclusions"], "default": "record"}})";

// A signed reservation.accepted for a voice task on `call` in `queue`.
HttpReply Accepted(HttpClient& c, int port, const std::string& task, const std::string& call,
                   const std::string& queue) {
  Fields fields = {{"EventType", "reservation.accepted"},
                   {"WorkspaceSid", kWorkspace},
                   {"TaskSid", task},
                   {"TaskQueueSid", "WQ0123456789abcdef0123456789abcdef"},
                   {"TaskQueueName", queue},
                   {"TaskChannelUniqueName", "voice"},
                   {"TaskAttributes", json{{"call_sid", call}}.dump()},
                   {"ReservationSid", "WR" + task.substr(2)},
                   {"WorkerSid", "WK0123456789abcdef0123456789abcdef"},
                   {"Timestamp", "1700000000"}};
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/taskrouter/events";
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"X-Twilio-Signature",
       recrules::twilio::ComputeTwilioSignature(FakeTwilio::kAuthToken, url, fields)}};
  return c.Request("POST", "/v1/taskrouter/events", Form(fields), headers);
}

std::string Rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct AuditRun {
  int exit_code = -1;
  std::string out;
};

AuditRun RunAudit(const FakeTwilio& fake, const std::string& log, const std::string& err_path) {
  std::time_t now = std::time(nullptr);
  std::string command =
      "TWILIO_ACCOUNT_SID=" + std::string(FakeTwilio::kAccountSid) +
      " TWILIO_AUTH_TOKEN=" + FakeTwilio::kAuthToken + " RECRULES_TWILIO_API_URL=" + fake.url() +
      " " RECRULES_BINARY_DIR "/src/recrules audit --from " + Rfc3339(now - 600) + " --to " +
      Rfc3339(now + 600) + " --log '" + log + "' --format json 2>'" + err_path + "'";
  AuditRun run;
  FILE* p = ::popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) run.out.append(buf, n);
  int status = ::pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

const json* RowOf(const json& doc, const std::string& call) {
  for (const json& row : doc["rows"]) {
    if (row["callSid"] == call) return &row;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("audit: a log written by recrules serve, joined with Twilio's Recordings list") {
  FakeTwilio fake(kScript);
  TempDir dir;
  dir.Write("policy/policy.json", kPolicy);
  const std::string log = dir.file("decisions.jsonl");
  auto serve = std::make_unique<ServeProcess>(
      dir.path(),
      std::vector<std::string>{"--policy", dir.path() + "/policy", "--listen", "127.0.0.1:0",
                               "--decision-log", log},
      std::vector<std::string>{"TWILIO_ACCOUNT_SID=" + std::string(FakeTwilio::kAccountSid),
                               "TWILIO_AUTH_TOKEN=" + std::string(FakeTwilio::kAuthToken),
                               "RECRULES_TWILIO_API_URL=" + fake.url(),
                               "RECRULES_TWILIO_IAM_URL=" + fake.url(),
                               "RECRULES_TWILIO_TASKROUTER_URL=" + fake.url()});
  const int port = serve->WaitForPort();
  REQUIRE_MESSAGE(port > 0, serve->stderr_text());

  HttpClient c(port);
  REQUIRE(Accepted(c, port, "WT1111111111111111111111111111111a", kRecordedCall, "Sales").status ==
          200);
  REQUIRE(Accepted(c, port, "WT2222222222222222222222222222222b", kExcludedCall, "HR Internal")
              .status == 200);
  // The server starts the recording on a worker: wait for it, then for the log to be written.
  REQUIRE(Eventually(
      [&] { return !fake.RequestsTo("/Calls/" + kRecordedCall + "/Recordings.json").empty(); },
      10000));
  serve->Signal(SIGTERM);
  REQUIRE(serve->Exited(15000));

  SUBCASE("what was decided is what was recorded: exit 0") {
    AuditRun run = RunAudit(fake, log, dir.file("audit.err"));
    CHECK_MESSAGE(run.exit_code == 0, ReadFile(dir.file("audit.err")));
    json doc = json::parse(run.out, nullptr, false);
    REQUIRE_MESSAGE(doc.is_object(), run.out);
    const json* recorded = RowOf(doc, kRecordedCall);
    REQUIRE(recorded != nullptr);
    CHECK((*recorded)["verdict"] == "explained");
    CHECK((*recorded)["recordingSid"].get<std::string>().rfind("RE", 0) == 0);
    CHECK((*recorded)["cause"].get<std::string>().find("recrules started it") != std::string::npos);
    const json* excluded = RowOf(doc, kExcludedCall);
    REQUIRE(excluded != nullptr);
    CHECK((*excluded)["verdict"] == "explained");
    CHECK((*excluded)["rule"] == "builtin:exclusions");
    CHECK((*excluded)["cause"].get<std::string>().rfind("not recorded, as decision ", 0) == 0);
  }

  SUBCASE("the Console's flag recorded the excluded call: unexpected, exit 1") {
    fake.Seed({{"recordings",
                {{{"call_sid", kExcludedCall},
                  {"conference_sid", "CF2222222222222222222222222222222b"},
                  {"source", "Conference"},
                  {"start_time", Rfc3339(std::time(nullptr))}}}}});
    AuditRun run = RunAudit(fake, log, dir.file("audit.err"));
    CHECK(run.exit_code == 1);
    json doc = json::parse(run.out, nullptr, false);
    REQUIRE_MESSAGE(doc.is_object(), run.out);
    const json* excluded = RowOf(doc, kExcludedCall);
    REQUIRE(excluded != nullptr);
    CHECK((*excluded)["verdict"] == "unexpected");
    CHECK((*excluded)["cause"].get<std::string>().find("Console's call-recording flag") !=
          std::string::npos);
    CHECK(doc["summary"]["unexpected"] == 1);
    CHECK(doc["summary"]["explained"] == 1);
  }
}
