// Attacks on `recrules serve` over loopback: auth bypass attempts (static tokens, Flex tokens,
// X-Twilio-Signature, header case games, replays), oversized headers and bodies, and slow
// clients holding connections. Every wait is bounded.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fake_twilio/fake_twilio.h"
#include "server/serve_harness.h"
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
using Headers = std::vector<std::pair<std::string, std::string>>;
using Clock = std::chrono::steady_clock;

using recrules::testing::Fields;
using recrules::testing::Form;

namespace {

const std::string kScript = RECRULES_SOURCE_DIR "/tests/fake_twilio/fake_twilio.js";
const std::string kTask = R"({"task":{"taskChannelUniqueName":"voice","attributes":{}}})";
const std::string kCall = "CA0123456789abcdef0123456789abcdef";
const std::string kTaskSid = "WT0123456789abcdef0123456789abcdef";
const std::string kReservation = "WR0123456789abcdef0123456789abcdef";
const std::string kWorkspace = "WS0123456789abcdef0123456789abcdef";

json Body(const HttpReply& r) {
  return json::parse(r.body, nullptr, false);
}

std::string ErrorMessage(const HttpReply& r) {
  json b = Body(r);
  if (b.is_discarded() || !b.contains("error")) return "";
  return b["error"]["message"].get<std::string>();
}

const char* kPolicy = R"({"features": {
    "dual_channel_recording": {"enabled": true, "channel": "customer",
                               "exclude_queues": [], "exclude_attributes": []}},
  "recrules": {"rules": ["builtin:non_voice", "builtin:exclusions", "builtin:already_recorded"],
               "default": "record"}})";

// `recrules serve` on a fresh copy of kPolicy, with `env` and extra arguments.
struct Serve {
  TempDir dir;
  std::string log_path = dir.file("decisions.jsonl");
  std::unique_ptr<ServeProcess> process;
  int port = 0;
  Serve(std::vector<std::string> env, std::vector<std::string> extra = {}) {
    dir.Write("policy/policy.json", kPolicy);
    std::vector<std::string> args = {"--policy",    dir.path() + "/policy", "--listen",
                                     "127.0.0.1:0", "--decision-log",       log_path,
                                     "--no-watch"};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<ServeProcess>(dir.path(), args, std::move(env));
    port = process->WaitForPort();
    REQUIRE_MESSAGE(port > 0, process->stderr_text());
  }
  std::string url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port) + target;
  }
  int Stop() {
    process->Signal(SIGTERM);
    REQUIRE(process->Exited(15000));
    return process->exit_code();
  }
  std::vector<json> LogLines(const std::string& type) const {
    std::vector<json> out;
    for (const std::string& line : Lines(ReadFile(log_path))) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j["type"] == type) out.push_back(j);
    }
    return out;
  }
};

// A decision still comes back right on a fresh connection (after an attack).
void CheckStillDeciding(int port, const Headers& auth = {}) {
  HttpClient c(port);
  HttpReply r = c.Request("POST", "/v1/decide", kTask, auth);
  CHECK(r.status == 200);
  CHECK(Body(r)["action"] == "record");
}

// A raw request on a new connection; the reply (status 0 when the server closed without one).
HttpReply Raw(int port, const std::string& bytes, int timeout_ms = 5000) {
  HttpClient c(port, timeout_ms);
  if (!c.SendRaw(bytes)) return {};
  return c.ReadReply();
}

}  // namespace

TEST_CASE("attack: static bearer tokens and header case games") {
  Serve s({"RECRULES_API_TOKENS=service-token,second-token"});
  HttpClient c(s.port);
  auto decide = [&](const Headers& h) { return c.Request("POST", "/v1/decide", kTask, h); };
  CHECK(decide({}).status == 401);
  CHECK(decide({{"Authorization", "Bearer service-token"}}).status == 200);
  CHECK(decide({{"Authorization", "Bearer second-token"}}).status == 200);
  // Header names and the auth scheme are case-insensitive (RFC 9110); tokens are not. A
  // bearer token that is not one of ours is 403, a request without one 401.
  CHECK(decide({{"authorization", "bearer service-token"}}).status == 200);
  CHECK(decide({{"AUTHORIZATION", "BEARER service-token"}}).status == 200);
  CHECK(decide({{"Authorization", "Bearer SERVICE-TOKEN"}}).status == 403);
  // Spaces around the token are not part of it; anything else is.
  CHECK(decide({{"Authorization", "Bearer    service-token   "}}).status == 200);
  CHECK(decide({{"Authorization", "Bearer service-token,second-token"}}).status == 403);
  CHECK(decide({{"Authorization", "Bearer service-toke"}}).status == 403);
  CHECK(decide({{"Authorization", "Bearer service-tokenx"}}).status == 403);
  CHECK(decide({{"Authorization", "Bearer\tservice-token"}}).status == 401);
  CHECK(decide({{"Authorization", "Bearerservice-token"}}).status == 401);
  CHECK(decide({{"Authorization", "Basic c2VydmljZS10b2tlbjo="}}).status == 401);
  CHECK(decide({{"Authorization", "service-token"}}).status == 401);
  CHECK(decide({{"Authorization", "Bearer "}}).status == 401);
  CHECK(decide({{"Authorization", std::string("Bearer service-token\0x", 22)}}).status != 200);
  // Two Authorization headers are ambiguous (which one did a proxy check?): refused either way.
  HttpReply twice =
      decide({{"Authorization", "Bearer wrong"}, {"Authorization", "Bearer service-token"}});
  CHECK(twice.status == 400);
  CHECK(ErrorMessage(twice) == "more than one Authorization header");
  CHECK(decide({{"Authorization", "Bearer service-token"}, {"authorization", "Bearer wrong"}})
            .status == 400);
  // The token in the query string or a form field is not a bearer token for the JSON API.
  CHECK(c.Request("POST", "/v1/decide?Token=service-token", kTask).status == 401);
  // Guarded routes beyond decide; health and metrics stay open.
  CHECK(c.Request("GET", "/v1/policy").status == 401);
  CHECK(c.Request("POST", "/v1/admin/reload").status == 401);
  CHECK(c.Request("POST", "/v1/admin/reload", "", {{"Authorization", "Bearer service-token"}})
            .status == 200);
  CHECK(c.Request("GET", "/healthz").status == 200);
  // Without Twilio's auth token, TaskRouter callbacks need a static token.
  CHECK(c.Request("POST", "/v1/taskrouter/events", "EventType=task.created",
                  {{"Content-Type", "application/x-www-form-urlencoded"}})
            .status == 403);
  // Path games do not reach a guarded route unguarded.
  CHECK(c.Request("POST", "/v1/decide/", kTask).status == 404);
  CHECK(c.Request("POST", "//v1/decide", kTask).status == 404);
  CHECK(c.Request("POST", "/V1/DECIDE", kTask).status == 404);
  CHECK(c.Request("POST", "/v1/./decide", kTask).status == 404);
  CHECK(c.Request("POST", "/v1/%64ecide", kTask).status == 404);
  CHECK(s.Stop() == 0);
  // Only decisions that were authorized were logged.
  CHECK(s.LogLines("decision").size() == 5);
}

TEST_CASE("attack: open access only on loopback") {
  TempDir dir;
  dir.Write("policy/policy.json", kPolicy);
  ServeProcess open_wide(dir.path(), {"--policy", dir.path() + "/policy", "--listen", "0.0.0.0:0"});
  REQUIRE(open_wide.Exited(10000));
  CHECK(open_wide.exit_code() != 0);
  CHECK(open_wide.stderr_text().find("refusing to listen on 0.0.0.0 without authentication") !=
        std::string::npos);
  // Loopback without tokens: open, as documented.
  Serve s({});
  CheckStillDeciding(s.port);
  CHECK(s.Stop() == 0);
}

namespace {

// The fake Twilio and `recrules serve` with Twilio credentials (signatures and Flex tokens on).
struct TwilioServe {
  FakeTwilio fake{kScript};
  std::unique_ptr<Serve> serve;
  TwilioServe() {
    fake.Seed({{"tokens", {{"tok-alice", {{"valid", true}, {"identity", "alice"}}}}}});
    serve = std::make_unique<Serve>(std::vector<std::string>{
        "TWILIO_ACCOUNT_SID=" + std::string(FakeTwilio::kAccountSid),
        "TWILIO_AUTH_TOKEN=" + std::string(FakeTwilio::kAuthToken),
        "RECRULES_TWILIO_API_URL=" + fake.url(), "RECRULES_TWILIO_IAM_URL=" + fake.url(),
        "RECRULES_TWILIO_TASKROUTER_URL=" + fake.url()});
  }
};

Fields AcceptedFields(const std::string& queue = "Sales") {
  return {{"EventType", "reservation.accepted"},
          {"WorkspaceSid", kWorkspace},
          {"TaskSid", kTaskSid},
          {"TaskQueueSid", "WQ0123456789abcdef0123456789abcdef"},
          {"TaskQueueName", queue},
          {"TaskChannelUniqueName", "voice"},
          {"TaskAttributes", json{{"call_sid", kCall}}.dump()},
          {"ReservationSid", kReservation},
          {"WorkerSid", "WK0123456789abcdef0123456789abcdef"}};
}

std::string Sign(const std::string& url, const Fields& fields) {
  return recrules::twilio::ComputeTwilioSignature(FakeTwilio::kAuthToken, url, fields);
}

HttpReply PostEvent(HttpClient& c, const std::string& target, const std::string& body,
                    Headers headers) {
  headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  return c.Request("POST", target, body, headers);
}

}  // namespace

TEST_CASE("attack: X-Twilio-Signature bypass attempts and replays") {
  TwilioServe t;
  Serve& s = *t.serve;
  HttpClient c(s.port);
  const std::string target = "/v1/taskrouter/events";
  Fields ignored = {{"EventType", "task.created"}, {"TaskSid", kTaskSid}};
  const std::string sig = Sign(s.url(target), ignored);
  auto post = [&](const std::string& tgt, const std::string& body, Headers h) {
    return PostEvent(c, tgt, body, std::move(h));
  };
  // The genuine one, then the same signature with every header-name case.
  CHECK(post(target, Form(ignored), {{"X-Twilio-Signature", sig}}).status == 200);
  CHECK(post(target, Form(ignored), {{"x-twilio-signature", sig}}).status == 200);
  CHECK(post(target, Form(ignored), {{"X-TWILIO-SIGNATURE", sig}}).status == 200);
  SUBCASE("missing, malformed, wrong") {
    CHECK(ErrorMessage(post(target, Form(ignored), {})) == "missing X-Twilio-Signature");
    CHECK(post(target, Form(ignored), {{"X-Twilio-Signature", ""}}).status == 403);
    CHECK(post(target, Form(ignored), {{"X-Twilio-Signature", "!!!not base64!!!"}}).status == 403);
    CHECK(post(target, Form(ignored), {{"X-Twilio-Signature", std::string(4000, 'A')}}).status ==
          403);
    CHECK(post(target, Form(ignored), {{"X-Twilio-Signature", sig.substr(0, sig.size() - 2)}})
              .status == 403);
    CHECK(post(target, Form(ignored),
               {{"X-Twilio-Signature", recrules::twilio::ComputeTwilioSignature(
                                           "another-auth-token", s.url(target), ignored)}})
              .status == 403);
    // A static-token header does not stand in for Twilio's signature (no tokens configured).
    CHECK(post(target, Form(ignored), {{"Authorization", "Bearer " + sig}}).status == 403);
    HttpReply twice =
        post(target, Form(ignored), {{"X-Twilio-Signature", "wrong"}, {"X-Twilio-Signature", sig}});
    CHECK(twice.status == 400);
    CHECK(ErrorMessage(twice) == "more than one X-Twilio-Signature header");
  }
  SUBCASE("a valid signature replayed on another URL or body") {
    CHECK(post(target + "?extra=1", Form(ignored), {{"X-Twilio-Signature", sig}}).status == 403);
    CHECK(post("/v1/taskrouter/events?", Form(ignored), {{"X-Twilio-Signature", sig}}).status ==
          403);
    Fields changed = ignored;
    changed[1].second = "WTffffffffffffffffffffffffffffffff";
    CHECK(post(target, Form(changed), {{"X-Twilio-Signature", sig}}).status == 403);
    Fields added = ignored;
    added.emplace_back("TaskAttributes", "{}");
    CHECK(post(target, Form(added), {{"X-Twilio-Signature", sig}}).status == 403);
    // The signature covers the Host the request names (no --public-url): another Host fails.
    CHECK(c.SendRaw("POST " + target +
                    " HTTP/1.1\r\nHost: evil.example\r\nContent-Type: "
                    "application/x-www-form-urlencoded\r\nX-Twilio-Signature: " +
                    sig + "\r\nContent-Length: " + std::to_string(Form(ignored).size()) +
                    "\r\n\r\n" + Form(ignored)));
    CHECK(c.ReadReply().status == 403);
  }
  SUBCASE("an identical replay of reservation.accepted starts no second recording") {
    Fields accepted = AcceptedFields();
    const std::string asig = Sign(s.url(target), accepted);
    HttpReply first = post(target, Form(accepted), {{"X-Twilio-Signature", asig}});
    CHECK(first.status == 200);
    CHECK(Body(first)["recording"] == "starting");
    REQUIRE(Eventually([&] { return t.fake.RequestsTo("/Recordings.json").size() == 1; }, 10000));
    HttpReply replay = post(target, Form(accepted), {{"X-Twilio-Signature", asig}});
    CHECK(replay.status == 200);
    CHECK(Body(replay)["action"] == "duplicate");
    CHECK(Body(replay)["recording"] == "not_started");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(t.fake.RequestsTo("/Recordings.json").size() == 1);
    CHECK(s.Stop() == 0);
    CHECK(s.LogLines("decision").size() == 1);
    auto duplicates = s.LogLines("duplicate_event");
    REQUIRE(duplicates.size() == 1);
    CHECK(duplicates[0]["reservationSid"] == kReservation);
    CHECK(duplicates[0]["taskSid"] == kTaskSid);
  }
}

TEST_CASE("attack: a Flex token of another account, and forged tokens") {
  TwilioServe t;
  Serve& s = *t.serve;
  // Another account's Twilio knows its own token; ours is asked and does not.
  FakeTwilio::Options other_account;
  other_account.account_sid = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  FakeTwilio other(kScript, other_account);
  other.Seed({{"tokens", {{"tok-bob-other-account", {{"valid", true}, {"identity", "bob"}}}}}});
  HttpClient c(s.port);
  const std::string create = "/features/dual-channel-recording/flex/create-recording";
  auto flex = [&](const std::string& token) {
    return PostEvent(c, create, Form({{"callSid", kCall}, {"Token", token}}), {});
  };
  HttpReply other_token = flex("tok-bob-other-account");
  CHECK(other_token.status == 403);
  CHECK(Body(other_token)["success"] == false);
  auto validations = t.fake.RequestsTo("/Tokens/validate");
  REQUIRE(validations.size() == 1);
  CHECK(validations[0]["path"] ==
        "/v1/Accounts/" + std::string(FakeTwilio::kAccountSid) + "/Tokens/validate");
  CHECK(other.RequestsTo("/Tokens/validate").empty());
  // Forged JWT-looking tokens, huge tokens, and tokens with control characters are refused.
  CHECK(flex("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.").status == 403);
  CHECK(flex(std::string(8000, 'x')).status == 403);
  CHECK(flex("tok-alice\r\nX-Evil: 1").status == 403);
  CHECK(c.Request("POST", "/v1/decide", kTask, {{"Authorization", "Bearer tok-bob-other-account"}})
            .status == 403);
  CHECK(c.Request("POST", "/v1/decide", kTask, {{"Authorization", "Bearer tok-alice"}}).status ==
        200);
  CHECK(s.Stop() == 0);
}

TEST_CASE("attack: oversized headers and bodies") {
  Serve s({});
  const std::string head =
      "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  SUBCASE("one huge header, many headers") {
    HttpReply huge = Raw(s.port, head + "X-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    CHECK(huge.status == 431);
    std::string many = head;
    for (int i = 0; i < 2000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
    CHECK(Raw(s.port, many + "\r\n").status == 431);
    // With a body too: this one was decided (200) before the server counted fields itself.
    CHECK(Raw(s.port, many + "Content-Length: 2\r\n\r\n{}").status == 431);
    // A header block that never ends is cut at the limit, not buffered without end.
    HttpClient c(s.port);
    REQUIRE(c.SendRaw(head + "X-Endless: "));
    bool refused = false;
    for (int i = 0; i < 64 && !refused; ++i) refused = !c.SendRaw(std::string(1024, 'b'));
    HttpReply r = c.ReadReply();
    CHECK((refused || r.status == 431));
  }
  SUBCASE("bodies over the limit: with Content-Length, chunked, and a lying length") {
    const std::string big(1100000, ' ');
    HttpReply cl = Raw(s.port, head + "Content-Length: " + std::to_string(big.size()) + "\r\n\r\n" +
                                   big.substr(0, 1000));
    CHECK(cl.status == 413);
    CHECK(Body(cl)["error"]["message"] == "request body is larger than 1048576 bytes");
    HttpReply huge_cl = Raw(s.port, head + "Content-Length: 99999999999999\r\n\r\n{}");
    CHECK(huge_cl.status == 413);
    HttpReply bad_cl = Raw(s.port, head + "Content-Length: -1\r\n\r\n{}");
    CHECK(bad_cl.status == 400);
    HttpReply two_cl = Raw(s.port, head + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x");
    CHECK(two_cl.status == 400);
    std::string chunked = head + "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) chunked += "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
    chunked += "0\r\n\r\n";
    CHECK(Raw(s.port, chunked).status == 413);
    HttpReply huge_chunk = Raw(s.port, head + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n");
    CHECK(huge_chunk.status == 413);
    // No length at all: the body is empty and the bytes after it are not a request.
    HttpReply no_length = Raw(s.port, head + "\r\n" + std::string(2000000, '{'));
    CHECK((no_length.status == 400 || no_length.status == 0));
    // Under the limit it is an ordinary (bad JSON) request.
    HttpClient c(s.port);
    CHECK(c.Request("POST", "/v1/decide", std::string(1000000, '[')).status == 400);
  }
  CheckStillDeciding(s.port);
  CHECK(s.Stop() == 0);
}

namespace {

// An open connection that sends a request one byte at a time.
struct SlowClient {
  int fd = -1;
  std::string request;
  size_t sent = 0;
  std::atomic<bool> closed_by_server{false};  // set by the trickle thread, read by the test
  explicit SlowClient(int port, std::string req) : request(std::move(req)) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~SlowClient() {
    if (fd >= 0) ::close(fd);
  }
  // Sends the next byte (never the last one); notices a close by the server.
  void Step() {
    if (fd < 0 || closed_by_server) return;
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      closed_by_server = true;
      return;
    }
    if (sent + 1 < request.size()) {
      if (::send(fd, request.data() + sent, 1, MSG_NOSIGNAL) == 1) ++sent;
    }
  }
};

}  // namespace

TEST_CASE("attack: slowloris — 200 slow connections while a normal client is served") {
  Serve s({}, {"--idle-timeout", "3", "--request-timeout", "3"});
  const std::string slow_request =
      "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "X-Padding: " +
      std::string(200, 'p') + "\r\nContent-Length: 2\r\n\r\n{}";
  std::vector<std::unique_ptr<SlowClient>> slow;
  for (int i = 0; i < 200; ++i) slow.push_back(std::make_unique<SlowClient>(s.port, slow_request));
  int connected = 0;
  for (auto& c : slow) connected += c->fd >= 0;
  CHECK(connected == 200);
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop) {
      for (auto& c : slow) c->Step();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // The normal client: every decision answered within 3 s while the slow ones trickle.
  HttpClient normal(s.port, 3000);
  double worst = 0;
  int answered = 0;
  for (int i = 0; i < 40; ++i) {
    auto start = Clock::now();
    HttpReply r = normal.Request("POST", "/v1/decide", kTask);
    double took = std::chrono::duration<double>(Clock::now() - start).count();
    worst = std::max(worst, took);
    answered += r.status == 200;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(answered == 40);
  MESSAGE("slowloris: normal client answered " << answered << "/40, slowest " << worst << " s");
  CHECK(worst < 3.0);
  // The server closes the trickling connections at its timeout (3 s), though they keep sending.
  bool all_closed = Eventually(
      [&] {
        int closed = 0;
        for (auto& c : slow) closed += c->closed_by_server;
        return closed == 200;
      },
      8000);
  stop = true;
  trickle.join();
  int closed = 0;
  for (auto& c : slow) closed += c->closed_by_server;
  CHECK(all_closed);
  CHECK(closed == 200);
  // The normal client's keep-alive connection was busy, not idle: it still works.
  CheckStillDeciding(s.port);
  CHECK(s.Stop() == 0);
}

TEST_CASE("attack: idle connections and stalled bodies are closed at the timeouts") {
  Serve s({}, {"--idle-timeout", "2", "--request-timeout", "2"});
  // Connected, never sends a byte.
  HttpClient idle(s.port, 6000);
  REQUIRE(idle.Connect());
  // Headers complete, the body never comes.
  HttpClient stalled(s.port, 6000);
  REQUIRE(stalled.SendRaw("POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"));
  // A keep-alive connection after one answered request.
  HttpClient kept(s.port, 6000);
  REQUIRE(kept.Request("POST", "/v1/decide", kTask).status == 200);
  auto start = Clock::now();
  CHECK(idle.ReadReply().status == 0);
  CHECK(stalled.ReadReply().status == 0);
  CHECK(kept.ReadReply().status == 0);
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  CHECK(took < 5.0);
  CHECK_FALSE(idle.connected());
  CHECK_FALSE(stalled.connected());
  CHECK_FALSE(kept.connected());
  CheckStillDeciding(s.port);
  CHECK(s.Stop() == 0);
}

namespace {

// CPU time (user + system) of a process, in clock ticks.
long CpuTicks(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  std::stringstream ss(stat.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; ss >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

}  // namespace

TEST_CASE("attack: out of file descriptors, the server waits instead of spinning") {
  // The sanitizer runtimes need descriptors of their own (UBSan probes memory through a pipe
  // and then reports a false "invalid vptr"), so this case runs in the normal build only.
  const char* sanitized = std::getenv("RECRULES_SANITIZED");
  if (sanitized != nullptr && *sanitized != '\0') {
    MESSAGE("skipped under sanitizers (" << sanitized << ")");
    return;
  }
  Serve s({});
  // Leave the server a handful of descriptors beyond those it holds.
  size_t open_fds = 0;
  for (auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(s.process->pid()) + "/fd")) {
    (void)e;
    ++open_fds;
  }
  rlimit limit{open_fds + 4, open_fds + 4};
  REQUIRE(::prlimit(s.process->pid(), RLIMIT_NOFILE, &limit, nullptr) == 0);
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 30; ++i) {
    clients.push_back(std::make_unique<HttpClient>(s.port, 1000));
    REQUIRE(clients.back()->Connect());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long before = CpuTicks(s.process->pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long used = CpuTicks(s.process->pid()) - before;
  CAPTURE(used);
  CHECK(used < 20);  // ticks of 10 ms: a spinning accept loop burns up to 200 in 2 s
  CHECK(s.process->stderr_text().find("accept failed: Too many open files") != std::string::npos);
  // Once clients go away, the server accepts and decides again.
  clients.clear();
  CHECK(Eventually(
      [&] {
        HttpClient c(s.port, 1000);
        return c.Request("POST", "/v1/decide", kTask).status == 200;
      },
      10000));
  int exit_code = s.Stop();
  CHECK_MESSAGE(exit_code == 0, s.process->stderr_text());
}

// ---- issue 23: inputs that ended the process, request smuggling, auth in trailers, floods ----

namespace {

const std::string kDecideHead =
    "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";

// A chunked request for /v1/decide whose body is kTask and whose trailer is `trailer` (fields,
// each ending in CRLF).
std::string ChunkedWithTrailer(const std::string& headers, const std::string& trailer) {
  std::stringstream size;
  size << std::hex << kTask.size();
  return kDecideHead + headers + "Transfer-Encoding: chunked\r\n\r\n" + size.str() + "\r\n" +
         kTask + "\r\n0\r\n" + trailer + "\r\n";
}

}  // namespace

TEST_CASE("attack: issue 23 — oversized trailers and fields are refused, the process lives") {
  SUBCASE("default flags: a 70 KB trailer field, and trailers over the header limit in total") {
    Serve s({});
    // Beast threw length_error from its fields container: the process aborted (exit 134).
    HttpReply big_field =
        Raw(s.port, ChunkedWithTrailer("", "X-Big: " + std::string(70000, 'a') + "\r\n"));
    CHECK(big_field.status == 431);
    CHECK(ErrorMessage(big_field) == "the chunked body's trailer is larger than 16384 bytes");
    CHECK(big_field.header("connection") == "close");
    // 20 KB of small trailer fields: past the 16 KiB header limit.
    std::string many;
    for (int i = 0; i < 200; ++i)
      many += "X-T" + std::to_string(i) + ": " + std::string(90, 'v') + "\r\n";
    HttpReply many_fields = Raw(s.port, ChunkedWithTrailer("", many));
    CHECK(many_fields.status == 431);
    CHECK(ErrorMessage(many_fields) == "the chunked body's trailer is larger than 16384 bytes");
    // A trailer that never ends (9 MB were buffered before): cut near the limit.
    HttpClient endless(s.port);
    std::string start = ChunkedWithTrailer("", "");
    REQUIRE(endless.SendRaw(start.substr(0, start.size() - 2) + "X-Endless: "));
    bool refused = false;
    for (int i = 0; i < 512 && !refused; ++i) refused = !endless.SendRaw(std::string(1024, 'b'));
    HttpReply r = endless.ReadReply();
    CHECK((refused || r.status == 431));
    CHECK(s.process->stderr_text().find("error in the HTTP layer") == std::string::npos);
    CheckStillDeciding(s.port);
    CHECK(s.Stop() == 0);
  }
  SUBCASE("--max-header-bytes 200000: one 70 KB header or trailer field") {
    Serve s({}, {"--max-header-bytes", "200000"});
    HttpReply big = Raw(s.port, kDecideHead + "X-Big: " + std::string(70000, 'a') +
                                    "\r\nContent-Length: 2\r\n\r\n{}");
    CHECK(big.status == 431);
    CHECK(ErrorMessage(big) == "a request header or trailer field is larger than 65533 bytes");
    HttpReply big_trailer =
        Raw(s.port, ChunkedWithTrailer("", "X-Big: " + std::string(70000, 'a') + "\r\n"));
    CHECK(big_trailer.status == 431);
    CHECK(ErrorMessage(big_trailer) ==
          "a request header or trailer field is larger than 65533 bytes");
    // A header block that large made of fields Beast can hold is still accepted.
    std::string fields;
    for (int i = 0; i < 3; ++i)
      fields += "X-B" + std::to_string(i) + ": " + std::string(40000, 'a') + "\r\n";
    HttpClient c(s.port);
    REQUIRE(c.SendRaw(kDecideHead + fields + "Content-Length: " + std::to_string(kTask.size()) +
                      "\r\n\r\n" + kTask));
    CHECK(c.ReadReply().status == 200);
    CheckStillDeciding(s.port);
    CHECK(s.Stop() == 0);
  }
}

TEST_CASE("attack: issue 23 — request smuggling through Transfer-Encoding, HEAD, Host") {
  Serve s({"RECRULES_API_TOKENS=admin-token"});
  const std::string auth = "Authorization: Bearer admin-token\r\n";
  // A request hidden in the body: run as the next request when the body was not read as one.
  const std::string hidden =
      "POST /v1/admin/reload HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 0\r\n\r\n";
  auto smuggle = [&](const std::string& framing) {
    HttpClient c(s.port, 2000);
    REQUIRE(c.SendRaw(kDecideHead + auth + framing + "\r\n" + hidden));
    HttpReply first = c.ReadReply();
    HttpReply second = c.ReadReply();
    CHECK(second.status == 0);  // the hidden reload was not answered, so not run
    return first;
  };
  for (const char* te : {"chunked, gzip", "xchunked", "gzip", "gzip, chunked", "chunked;q=1"}) {
    CAPTURE(te);
    HttpReply r = smuggle(std::string("Transfer-Encoding: ") + te + "\r\n");
    CHECK(r.status == 501);
    CHECK(ErrorMessage(r) == "Transfer-Encoding other than chunked is not supported");
    CHECK(r.header("connection") == "close");
  }
  HttpReply two = smuggle("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n");
  CHECK(two.status == 501);
  // With Content-Length too, in either order.
  const std::string cl = "Content-Length: " + std::to_string(hidden.size()) + "\r\n";
  CHECK(smuggle("Transfer-Encoding: chunked\r\n" + cl).status == 400);
  CHECK(smuggle(cl + "Transfer-Encoding: chunked\r\n").status == 400);
  CHECK(smuggle("Transfer-Encoding: gzip\r\n" + cl).status == 501);
  HttpClient c(s.port);
  std::string metrics = c.Request("GET", "/metrics").body;
  CHECK(metrics.find("recrules_policy_reloads_total{trigger=\"api\"") == std::string::npos);
  CHECK(s.process->stderr_text().find("policy reloaded (api)") == std::string::npos);

  SUBCASE("HEAD: the length, no body") {
    HttpClient k(s.port);
    HttpReply head = k.Request("HEAD", "/healthz");
    CHECK(head.status == 405);
    CHECK(head.header("content-length") != "0");
    // The next response on the connection is read whole: no body was left before it.
    HttpReply next = k.Request("GET", "/healthz");
    CHECK(next.status == 200);
    CHECK(Body(next)["status"] == "ok");
  }
  SUBCASE("Host: required in HTTP/1.1, at most one") {
    HttpReply none = Raw(s.port, "GET /healthz HTTP/1.1\r\n\r\n");
    CHECK(none.status == 400);
    CHECK(ErrorMessage(none) == "HTTP/1.1 request without a Host header");
    HttpReply twice = Raw(s.port, "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    CHECK(twice.status == 400);
    CHECK(ErrorMessage(twice) == "more than one Host header");
    CHECK(Raw(s.port, "GET /healthz HTTP/1.0\r\n\r\n").status == 200);
  }
  CheckStillDeciding(s.port, {{"Authorization", "Bearer admin-token"}});
  CHECK(s.Stop() == 0);
}

TEST_CASE("attack: issue 23 — credentials in a chunked trailer do not count") {
  SUBCASE("a static API token") {
    Serve s({"RECRULES_API_TOKENS=service-token"});
    HttpReply r = Raw(s.port, ChunkedWithTrailer("", "Authorization: Bearer service-token\r\n"));
    CHECK(r.status == 401);
    // Nor does a trailer make a second Authorization beside the header's.
    HttpReply with_header =
        Raw(s.port, ChunkedWithTrailer("Authorization: Bearer service-token\r\n",
                                       "Authorization: Bearer x\r\n"));
    CHECK(with_header.status == 200);
    CHECK(s.Stop() == 0);
    CHECK(s.LogLines("decision").size() == 1);
  }
  SUBCASE("a Flex token, X-Twilio-Signature") {
    TwilioServe t;
    Serve& s = *t.serve;
    CHECK(Raw(s.port, ChunkedWithTrailer("", "Authorization: Bearer tok-alice\r\n")).status == 401);
    Fields ignored = {{"EventType", "task.created"}, {"TaskSid", kTaskSid}};
    const std::string target = "/v1/taskrouter/events";
    const std::string body = Form(ignored);
    std::stringstream size;
    size << std::hex << body.size();
    HttpReply r = Raw(
        s.port, "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port) +
                    "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n" +
                    size.str() + "\r\n" + body +
                    "\r\n0\r\nX-Twilio-Signature: " + Sign(s.url(target), ignored) + "\r\n\r\n");
    CHECK(r.status == 403);
    CHECK(ErrorMessage(r) == "missing X-Twilio-Signature");
    CHECK(t.fake.RequestsTo("/Tokens/validate").empty());
    CHECK(s.Stop() == 0);
  }
}

TEST_CASE("attack: issue 23 — RECRULES_API_TOKENS without a token refuses to start") {
  TempDir dir;
  dir.Write("policy/policy.json", kPolicy);
  for (const char* tokens : {"", ",", "  ", " , ", "good,,other", "good,"}) {
    CAPTURE(tokens);
    ServeProcess p(dir.path(), {"--policy", dir.path() + "/policy", "--listen", "127.0.0.1:0"},
                   {std::string("RECRULES_API_TOKENS=") + tokens});
    REQUIRE(p.Exited(10000));
    CHECK(p.exit_code() != 0);
    CHECK(p.stderr_text().find("RECRULES_API_TOKENS") != std::string::npos);
    CHECK(p.stderr_text().find("listening on") == std::string::npos);
  }
}

TEST_CASE("attack: issue 23 — unknown Flex tokens while Twilio is slow do not hold up a reload") {
  FakeTwilio fake(kScript);
  Serve s({"TWILIO_ACCOUNT_SID=" + std::string(FakeTwilio::kAccountSid),
           "TWILIO_AUTH_TOKEN=" + std::string(FakeTwilio::kAuthToken),
           "RECRULES_TWILIO_API_URL=" + fake.url(), "RECRULES_TWILIO_IAM_URL=" + fake.url(),
           "RECRULES_TWILIO_TASKROUTER_URL=" + fake.url(), "RECRULES_API_TOKENS=admin-token"},
          {"--workers", "2"});
  fake.Seed({{"tokens", {{"tok-alice", {{"valid", true}, {"identity", "alice"}}}}}});
  HttpClient alice(s.port, 5000);
  const Headers alice_auth = {{"Authorization", "Bearer tok-alice"}};
  REQUIRE(alice.Request("POST", "/v1/decide", kTask, alice_auth).status == 200);
  // Every token check takes 1 s: with the checks on the worker pool, 40 of them held its two
  // threads for 20 s, and a reload waited behind them.
  fake.Fault({{"path", "/Tokens/validate"}, {"delay_ms", 1000}, {"count", 100}});
  std::vector<std::unique_ptr<HttpClient>> flood;
  for (int i = 0; i < 40; ++i) {
    flood.push_back(std::make_unique<HttpClient>(s.port, 10000));
    const std::string req = kDecideHead + "Authorization: Bearer random-" + std::to_string(i) +
                            "\r\nContent-Length: " + std::to_string(kTask.size()) + "\r\n\r\n" +
                            kTask;
    REQUIRE(flood.back()->SendRaw(req));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HttpClient admin(s.port, 5000);
  auto start = Clock::now();
  HttpReply reload =
      admin.Request("POST", "/v1/admin/reload", "", {{"Authorization", "Bearer admin-token"}});
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  CHECK(reload.status == 200);
  CHECK(took < 1.0);
  MESSAGE("reload during the flood answered in " << took << " s");
  // A signed-in user's cached token is still answered at once.
  start = Clock::now();
  CHECK(alice.Request("POST", "/v1/decide", kTask, alice_auth).status == 200);
  CHECK(std::chrono::duration<double>(Clock::now() - start).count() < 1.0);
  // Past 8 checks waiting for Twilio the flood is answered 503 at once; the 8 get 403.
  int unavailable = 0;
  std::vector<std::string> checked;  // tokens Twilio was asked about
  for (size_t i = 0; i < flood.size(); ++i) {
    HttpReply r = flood[i]->ReadReply();
    unavailable += r.status == 503;
    if (r.status == 403) checked.push_back("random-" + std::to_string(i));
  }
  CHECK(unavailable == 32);
  REQUIRE(checked.size() == 8);
  CHECK(fake.RequestsTo("/Tokens/validate").size() == 9);
  // An unknown token sent again is answered from the cache of invalid tokens, not Twilio.
  HttpClient again(s.port);
  CHECK(again.Request("POST", "/v1/decide", kTask, {{"Authorization", "Bearer " + checked[0]}})
            .status == 403);
  CHECK(fake.RequestsTo("/Tokens/validate").size() == 9);
  CHECK(s.Stop() == 0);
}
