// Integration tests of `recrules serve`: the real binary on a loopback port, spoken to over HTTP.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "serve_harness.h"
#include "test_util.h"

using nlohmann::json;
using recrules::testing::Eventually;
using recrules::testing::HttpClient;
using recrules::testing::HttpReply;
using recrules::testing::Lines;
using recrules::testing::ReadFile;
using recrules::testing::ServeProcess;
using recrules::testing::TempDir;

namespace {

std::string PolicyJson(const std::string& default_action = "record",
                       const std::string& queues = R"("HR Internal")") {
  return R"({
  "features": {
    "conditional_recording": { "enabled": true, "exclude_queues": [)" +
         queues + R"(],
      "exclude_attributes": [{ "key": "customer.consent.recording", "value": "denied" }] },
    "pause_recording": { "enabled": true, "include_silence": false }
  },
  "recrules": { "rules": ["builtin:non_voice", "builtin:exclusions"], "default": ")" +
         default_action + R"(" }
})";
}

std::string TaskRequest(const std::string& queue = "Sales", const std::string& n = "1") {
  return R"({"event":"accept","task":{"sid":"WR0000000000000000000000000000000)" + n +
         R"(","taskSid":"WT0000000000000000000000000000000)" + n + R"(","queueName":")" + queue +
         R"(","queueSid":"WQ00000000000000000000000000000001","taskChannelUniqueName":"voice",)"
         R"("attributes":{"call_sid":"CA0000000000000000000000000000000)" +
         n + R"(","customer":{"consent":{"recording":"granted"}}}}})";
}

// A server on a fresh policy folder; `extra` flags and `env` are passed through.
struct Fixture {
  TempDir dir;
  std::string policy_dir;
  std::string log_path;
  std::unique_ptr<ServeProcess> serve;
  int port = 0;

  explicit Fixture(std::vector<std::string> extra = {}, std::vector<std::string> env = {},
                   bool wait = true) {
    policy_dir = dir.path() + "/policy";
    dir.Write("policy/policy.json", PolicyJson());
    log_path = dir.file("decisions.jsonl");
    std::vector<std::string> args = {"--policy",       policy_dir, "--listen",  "127.0.0.1:0",
                                     "--decision-log", log_path,   "--threads", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    serve = std::make_unique<ServeProcess>(dir.path(), args, env);
    if (wait) {
      port = serve->WaitForPort();
      REQUIRE_MESSAGE(port > 0, serve->stderr_text());
    }
  }
  // SIGTERM, then the exit code (bounded wait).
  int Stop() {
    serve->Signal(SIGTERM);
    REQUIRE(serve->Exited(15000));
    return serve->exit_code();
  }
};

json Body(const HttpReply& r) {
  return json::parse(r.body, nullptr, false);
}

}  // namespace

TEST_CASE("serve: health, decide, explain, policy and keep-alive on one connection") {
  Fixture f;
  HttpClient c(f.port);

  HttpReply health = c.Request("GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(Body(health)["status"] == "ok");
  CHECK(Body(health)["policy"].is_string());

  HttpReply d = c.Request("POST", "/v1/decide", TaskRequest());
  REQUIRE(d.status == 200);
  CHECK(d.header("content-type") == "application/json");
  json decision = Body(d);
  CHECK(decision["action"] == "record");
  CHECK(decision["rule"] == "default");
  CHECK(decision["taskSid"] == "WT00000000000000000000000000000001");
  CHECK(!decision.contains("trace"));

  HttpReply skip = c.Request("POST", "/v1/decide?explain=true", TaskRequest("HR Internal"));
  REQUIRE(skip.status == 200);
  json explained = Body(skip);
  CHECK(explained["action"] == "skip");
  CHECK(explained["rule"] == "builtin:exclusions");
  REQUIRE(explained["trace"].is_array());
  CHECK(explained["trace"].size() == 2);

  HttpReply policy = c.Request("GET", "/v1/policy");
  REQUIRE(policy.status == 200);
  json p = Body(policy);
  CHECK(p["version"] == decision["policy"]);
  CHECK(p["rules"] == json::array({"builtin:non_voice", "builtin:exclusions"}));
  CHECK(p["default"] == "record");
  CHECK(p["lastReload"].is_null());
  CHECK(p["loadedAt"].get<std::string>().size() == 24);
  CHECK(p["loadedAtUnixMs"].get<int64_t>() > 0);  // the C API's key, same writer

  CHECK(f.Stop() == 0);
}

TEST_CASE("serve: bad input answers with a JSON error and never takes the server down") {
  Fixture f({"--max-body", "4096", "--max-depth", "8", "--max-header-bytes", "1024"});
  HttpClient c(f.port);

  SUBCASE("malformed JSON says where it broke") {
    HttpReply r = c.Request("POST", "/v1/decide", "{\"task\": {\"sid\": }");
    CHECK(r.status == 400);
    CHECK(Body(r)["error"]["code"] == "invalid_input");
    CHECK(Body(r)["error"]["message"].get<std::string>().find("line 1, column") !=
          std::string::npos);
  }
  SUBCASE("a field of the wrong type is named") {
    HttpReply r = c.Request("POST", "/v1/decide", R"({"task":{"queueName":5}})");
    CHECK(r.status == 400);
    CHECK(Body(r)["error"]["message"].get<std::string>().find("queueName") != std::string::npos);
  }
  SUBCASE("an unknown event is named") {
    HttpReply r = c.Request("POST", "/v1/decide", R"({"event":"hangup","task":{}})");
    CHECK(r.status == 400);
    CHECK(Body(r)["error"]["message"].get<std::string>().find("hangup") != std::string::npos);
  }
  SUBCASE("nesting deeper than --max-depth") {
    std::string deep =
        R"({"task":{"attributes":)" + std::string(20, '[') + std::string(20, ']') + "}}";
    HttpReply r = c.Request("POST", "/v1/decide", deep);
    CHECK(r.status == 400);
    CHECK(Body(r)["error"]["code"] == "limit_exceeded");
    CHECK(Body(r)["error"]["message"].get<std::string>().find("nesting") != std::string::npos);
  }
  SUBCASE("a body over --max-body is 413 and closes the connection") {
    HttpReply r = c.Request("POST", "/v1/decide", std::string(5000, ' '));
    CHECK(r.status == 413);
    CHECK(Body(r)["error"]["code"] == "body_too_large");
    CHECK(r.header("connection") == "close");
  }
  SUBCASE("headers over --max-header-bytes are 431") {
    HttpReply r = c.Request("GET", "/healthz", "", {{"X-Big", std::string(2000, 'x')}});
    CHECK(r.status == 431);
  }
  SUBCASE("unknown route is a JSON 404") {
    HttpReply r = c.Request("GET", "/v2/nothing");
    CHECK(r.status == 404);
    CHECK(Body(r)["error"]["code"] == "not_found");
    CHECK(Body(r)["error"]["message"] == "no route for /v2/nothing");
  }
  SUBCASE("wrong method is 405 with Allow") {
    HttpReply r = c.Request("GET", "/v1/decide");
    CHECK(r.status == 405);
    CHECK(r.header("allow") == "POST, OPTIONS");
    CHECK(Body(r)["error"]["code"] == "method_not_allowed");
  }
  SUBCASE("bad form encoding") {
    HttpReply r = c.Request("POST", "/v1/taskrouter/events", "EventType=reservation.accepted&x=%zz",
                            {{"Content-Type", "application/x-www-form-urlencoded"}});
    CHECK(r.status == 400);
    CHECK(Body(r)["error"]["message"] == "bad form encoding: invalid percent-escape at byte 33");
  }
  SUBCASE("garbage instead of HTTP is 400") {
    REQUIRE(c.SendRaw("HELLO WORLD\r\n\r\n"));
    HttpReply r = c.ReadReply();
    CHECK(r.status == 400);
  }
  SUBCASE("Expect: 100-continue is honoured") {
    REQUIRE(
        c.SendRaw("POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Expect: 100-continue\r\nContent-Length: " +
                  std::to_string(TaskRequest().size()) + "\r\n\r\n"));
    HttpReply cont = c.ReadReply();
    CHECK(cont.status == 100);
    REQUIRE(c.SendRaw(TaskRequest()));
    CHECK(c.ReadReply().status == 200);
  }
  // Whatever came before, the server still answers.
  HttpClient fresh(f.port);
  CHECK(fresh.Request("POST", "/v1/decide", TaskRequest()).status == 200);
  CHECK(f.Stop() == 0);
}

TEST_CASE("serve: metrics count decisions, errors, reloads and HTTP requests") {
  Fixture f;
  HttpClient c(f.port);
  for (int i = 0; i < 3; ++i) REQUIRE(c.Request("POST", "/v1/decide", TaskRequest()).status == 200);
  REQUIRE(c.Request("POST", "/v1/decide", TaskRequest("HR Internal")).status == 200);
  REQUIRE(c.Request("POST", "/v1/decide", "{").status == 400);
  REQUIRE(c.Request("POST", "/v1/admin/reload").status == 200);
  HttpReply m = c.Request("GET", "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.header("content-type").find("text/plain") == 0);
  const std::string& t = m.body;
  CHECK(t.find("recrules_decisions_total{action=\"record\",rule=\"default\",event=\"accept\"} 3") !=
        std::string::npos);
  CHECK(t.find("recrules_decisions_total{action=\"skip\",rule=\"builtin:exclusions\",event="
               "\"accept\"} 1") != std::string::npos);
  CHECK(t.find("recrules_decision_latency_seconds_count 4") != std::string::npos);
  CHECK(t.find("recrules_decision_latency_seconds_bucket{le=\"+Inf\"} 4") != std::string::npos);
  CHECK(t.find("recrules_policy_reloads_total{trigger=\"api\",result=\"ok\"} 1") !=
        std::string::npos);
  CHECK(t.find("recrules_http_requests_total{route=\"/v1/decide\",status=\"200\"} 4") !=
        std::string::npos);
  CHECK(t.find("recrules_http_requests_total{route=\"/v1/decide\",status=\"400\"} 1") !=
        std::string::npos);
  CHECK(t.find("# TYPE recrules_rule_errors_total counter") != std::string::npos);
  CHECK(t.find("# TYPE recrules_twilio_calls_total counter") != std::string::npos);
  CHECK(t.find("recrules_policy_info{version=\"") != std::string::npos);
  CHECK(f.Stop() == 0);
}

TEST_CASE("serve: the decision log has one line per decision, flushed on SIGTERM") {
  Fixture f;
  HttpClient c(f.port);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    HttpReply r = c.Request("POST", "/v1/decide", TaskRequest(i == 2 ? "HR Internal" : "Sales"));
    REQUIRE(r.status == 200);
    ids.push_back(Body(r)["id"]);
  }
  CHECK(f.Stop() == 0);
  auto lines = Lines(ReadFile(f.log_path));
  REQUIRE(lines.size() == 5);
  for (size_t i = 0; i < lines.size(); ++i) {
    json line = json::parse(lines[i]);
    CHECK(line["id"] == ids[i]);
    CHECK(line["type"] == "decision");
    CHECK(line["source"] == "api");
    CHECK(line["time"].get<std::string>().back() == 'Z');
    CHECK(line["taskSid"] == "WT00000000000000000000000000000001");
    CHECK(line["callSid"] == "CA00000000000000000000000000000001");
    CHECK(line["event"] == "accept");
    CHECK(line["policy"].is_string());
    CHECK(line["latencyUs"].is_number());
    CHECK(line["reason"].is_string());
  }
  CHECK(json::parse(lines[2])["action"] == "skip");
  CHECK(json::parse(lines[2])["rule"] == "builtin:exclusions");
}

TEST_CASE("serve: the decision log rotates by size and loses no line") {
  Fixture f({"--decision-log-max-bytes", "2000", "--decision-log-keep", "50"});
  HttpClient c(f.port);
  for (int i = 0; i < 20; ++i)
    REQUIRE(c.Request("POST", "/v1/decide", TaskRequest()).status == 200);
  CHECK(f.Stop() == 0);
  size_t total = 0;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(f.dir.path())) {
    std::string name = entry.path().filename().string();
    if (name.rfind("decisions.jsonl", 0) != 0) continue;
    ++files;
    CHECK(entry.file_size() <= 2000);
    total += Lines(ReadFile(entry.path().string())).size();
  }
  CHECK(files > 1);
  CHECK(total == 20);
}

TEST_CASE("serve: reload through the API and SIGHUP; a bad policy keeps the old one") {
  Fixture f({"--no-watch"});  // only the triggers under test reload
  HttpClient c(f.port);
  std::string v1 = Body(c.Request("GET", "/v1/policy"))["version"];

  f.dir.Write("policy/policy.json", PolicyJson("skip"));
  HttpReply ok = c.Request("POST", "/v1/admin/reload");
  REQUIRE(ok.status == 200);
  json reload = Body(ok)["reload"];
  CHECK(reload["ok"] == true);
  CHECK(reload["trigger"] == "api");
  CHECK(reload["previousVersion"] == v1);
  CHECK(reload["error"].is_null());
  CHECK(reload["atUnixMs"].get<int64_t>() > 0);
  CHECK(reload["at"].get<std::string>().back() == 'Z');
  std::string v2 = reload["version"];
  CHECK(v2 != v1);
  CHECK(Body(c.Request("POST", "/v1/decide",
                       R"({"task":{"taskChannelUniqueName":"voice"}})"))["action"] == "skip");

  f.dir.Write("policy/policy.json", "{ \"features\": ");
  HttpReply bad = c.Request("POST", "/v1/admin/reload");
  CHECK(bad.status == 422);
  CHECK(Body(bad)["error"]["code"] == "invalid_policy");
  CHECK(Body(bad)["reload"]["ok"] == false);
  CHECK(Body(bad)["reload"]["version"] == v2);
  CHECK(Body(bad)["reload"]["error"] == Body(bad)["error"]["message"]);
  json p = Body(c.Request("GET", "/v1/policy"));
  CHECK(p["version"] == v2);
  CHECK(p["lastReload"]["ok"] == false);
  CHECK(p["lastReload"]["error"].get<std::string>().find("policy.json") != std::string::npos);

  f.dir.Write("policy/policy.json", PolicyJson("record", R"("Sales")"));
  f.serve->Signal(SIGHUP);
  CHECK(Eventually([&] {
    json info = Body(c.Request("GET", "/v1/policy"));
    return info["lastReload"]["trigger"] == "signal" && info["lastReload"]["ok"] == true;
  }));
  CHECK(Body(c.Request("POST", "/v1/decide", TaskRequest("Sales")))["action"] == "skip");
  std::string metrics = c.Request("GET", "/metrics").body;
  CHECK(metrics.find("recrules_policy_reloads_total{trigger=\"api\",result=\"error\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("recrules_policy_reloads_total{trigger=\"signal\",result=\"ok\"} 1") !=
        std::string::npos);
  CHECK(f.Stop() == 0);
}

// The engine watches the policy folder (EngineOptions::watch_policy, on unless --no-watch).
TEST_CASE("serve: a change in the policy folder reloads it") {
  Fixture f;
  HttpClient c(f.port);
  std::string v1 = Body(c.Request("GET", "/v1/policy"))["version"];
  f.dir.Write("policy/policy.json", PolicyJson("skip"));
  CHECK(Eventually(
      [&] {
        json info = Body(c.Request("GET", "/v1/policy"));
        return info["version"] != v1 && info["lastReload"]["trigger"] == "watch";
      },
      5000));
  CHECK(Body(c.Request("POST", "/v1/decide",
                       R"({"task":{"taskChannelUniqueName":"voice"}})"))["action"] == "skip");
  CHECK(c.Request("GET", "/metrics")
            .body.find("recrules_policy_reloads_total{trigger=\"watch\",result=\"ok\"} 1") !=
        std::string::npos);
  CHECK(f.Stop() == 0);
}

TEST_CASE("serve: CORS for the Flex UI") {
  Fixture f({"--cors-origin", "https://flex.twilio.com", "--cors-origin", "https://admin.example"});
  HttpClient c(f.port);
  SUBCASE("preflight from an allowed origin") {
    HttpReply r = c.Request("OPTIONS", "/features/pause-recording/flex/pause-call-recording", "",
                            {{"Origin", "https://flex.twilio.com"},
                             {"Access-Control-Request-Method", "POST"},
                             {"Access-Control-Request-Headers", "content-type"}});
    CHECK(r.status == 204);
    CHECK(r.header("access-control-allow-origin") == "https://flex.twilio.com");
    CHECK(r.header("access-control-allow-methods") == "POST, OPTIONS");
    CHECK(r.header("access-control-allow-headers").find("Authorization") != std::string::npos);
  }
  SUBCASE("a simple request from the second allowed origin") {
    HttpReply r =
        c.Request("POST", "/v1/decide", TaskRequest(), {{"Origin", "https://admin.example"}});
    CHECK(r.status == 200);
    CHECK(r.header("access-control-allow-origin") == "https://admin.example");
    CHECK(r.header("vary") == "Origin");
  }
  SUBCASE("another origin is refused, preflight or not, with no CORS grant") {
    HttpReply r = c.Request("OPTIONS", "/v1/decide", "", {{"Origin", "https://evil.example"}});
    CHECK(r.status == 403);
    CHECK(r.header("access-control-allow-origin").empty());
    HttpReply post =
        c.Request("POST", "/v1/decide", TaskRequest(), {{"Origin", "https://evil.example"}});
    CHECK(post.status == 403);
    CHECK(post.header("access-control-allow-origin").empty());
  }
  CHECK(f.Stop() == 0);
}

TEST_CASE("serve: static API tokens") {
  Fixture f({}, {"RECRULES_API_TOKENS=alpha-token, beta-token"});
  HttpClient c(f.port);
  HttpReply none = c.Request("POST", "/v1/decide", TaskRequest());
  CHECK(none.status == 401);
  CHECK(none.header("www-authenticate") == "Bearer");
  CHECK(
      c.Request("POST", "/v1/decide", TaskRequest(), {{"Authorization", "Bearer wrong"}}).status ==
      403);
  CHECK(c.Request("POST", "/v1/decide", TaskRequest(), {{"Authorization", "Bearer beta-token"}})
            .status == 200);
  CHECK(c.Request("GET", "/v1/policy", "", {{"Authorization", "bearer alpha-token"}}).status ==
        200);
  CHECK(c.Request("POST", "/v1/admin/reload").status == 401);
  CHECK(c.Request("GET", "/healthz").status == 200);  // probes need no token
  CHECK(c.Request("GET", "/metrics").status == 200);
  CHECK(f.serve->stderr_text().find("no authentication configured") == std::string::npos);
  CHECK(f.Stop() == 0);
}

TEST_CASE("serve: open access only on loopback") {
  SUBCASE("loopback without credentials warns") {
    Fixture f;
    CHECK(f.serve->stderr_text().find("no authentication configured") != std::string::npos);
    CHECK(f.Stop() == 0);
  }
  SUBCASE("any other address without credentials refuses to start") {
    TempDir dir;
    dir.Write("policy/policy.json", PolicyJson());
    ServeProcess serve(dir.path(), {"--policy", dir.path() + "/policy", "--listen", "0.0.0.0:0"});
    REQUIRE(serve.Exited(10000));
    CHECK(serve.exit_code() == 2);
    CHECK(serve.stderr_text().find("refusing to listen on 0.0.0.0 without authentication") !=
          std::string::npos);
  }
  SUBCASE("a bad policy stops the start with its message") {
    TempDir dir;
    dir.Write("policy/policy.json", "{");
    ServeProcess serve(dir.path(), {"--policy", dir.path() + "/policy", "--listen", "127.0.0.1:0"});
    REQUIRE(serve.Exited(10000));
    CHECK(serve.exit_code() == 2);
    CHECK(serve.stderr_text().find("policy.json") != std::string::npos);
  }
}

TEST_CASE("serve: --max-connections answers one connection too many with 503") {
  Fixture f({"--max-connections", "2"});
  CHECK(f.serve->stderr_text().find("at most 2 connections") != std::string::npos);
  HttpClient a(f.port), b(f.port);
  REQUIRE(a.Request("GET", "/healthz").status == 200);
  REQUIRE(b.Request("GET", "/healthz").status == 200);
  // Both stay open (keep-alive): a third is refused, with a body that says why.
  HttpClient c(f.port);
  HttpReply refused = c.Request("GET", "/healthz");
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK(Body(refused)["error"]["code"] == "over_capacity");
  CHECK_FALSE(c.connected());
  // Open connections are still served; once one closes, a new one is taken.
  CHECK(a.Request("GET", "/healthz").status == 200);
  b.Close();
  CHECK(Eventually(
      [&] {
        HttpClient d(f.port);
        return d.Request("GET", "/healthz").status == 200;
      },
      5000));
  std::string metrics = a.Request("GET", "/metrics").body;
  CHECK(metrics.find(R"(recrules_http_requests_total{route="over_capacity",status="503"})") !=
        std::string::npos);
  CHECK(f.Stop() == 0);
  CHECK(f.serve->stderr_text().find("connection refused with 503: 2 connections open") !=
        std::string::npos);
}

TEST_CASE("serve: --max-connections must be a number, 0 or auto") {
  TempDir dir;
  dir.Write("policy/policy.json", PolicyJson());
  ServeProcess serve(dir.path(), {"--policy", dir.path() + "/policy", "--listen", "127.0.0.1:0",
                                  "--max-connections", "lots"});
  REQUIRE(serve.Exited(10000));
  CHECK(serve.exit_code() == 2);
  CHECK(serve.stderr_text().find(
            "--max-connections lots: expected a number of connections, 0 (no cap) or auto") !=
        std::string::npos);
}

TEST_CASE("serve: SIGTERM under load fails no accepted request and loses no log line") {
  Fixture f;
  constexpr int kClients = 8;
  std::atomic<bool> stop{false};
  std::atomic<int> bad_status{0};
  std::vector<std::vector<std::string>> ids(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      HttpClient c(f.port, 5000);
      while (!stop) {
        if (!c.connected() && !c.Connect()) return;  // refused: the server stopped accepting
        HttpReply r = c.Request("POST", "/v1/decide", TaskRequest());
        if (r.status == 0) {
          // No answer at all: the server closed an idle connection before reading the
          // request (allowed in HTTP/1.1; clients retry). Reconnect and go on.
          c.Close();
          continue;
        }
        if (r.status != 200) {
          ++bad_status;
          continue;
        }
        ids[size_t(i)].push_back(Body(r)["id"]);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  f.serve->Signal(SIGTERM);
  REQUIRE(f.serve->Exited(15000));
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(f.serve->exit_code() == 0);
  CHECK(bad_status == 0);
  std::set<std::string> answered;
  for (auto& v : ids) answered.insert(v.begin(), v.end());
  CHECK(answered.size() > 100);
  std::set<std::string> logged;
  for (const std::string& line : Lines(ReadFile(f.log_path))) {
    logged.insert(json::parse(line)["id"].get<std::string>());
  }
  // Every decision a client received is in the log.
  size_t missing = 0;
  for (const std::string& id : answered) missing += logged.count(id) ? 0 : 1;
  CHECK(missing == 0);
  CHECK(logged.size() >= answered.size());
}

TEST_CASE("serve: random bytes, bodies and forms never take the server down") {
  Fixture f({"--max-body", "8192"});
  std::mt19937 rng(20261122);
  auto random_text = [&](size_t max_len, const std::string& alphabet) {
    std::string s(rng() % max_len, ' ');
    for (char& c : s) c = alphabet.empty() ? char(rng() & 0xff) : alphabet[rng() % alphabet.size()];
    return s;
  };
  const std::string json_chars = "{}[]\":,0123456789.eE+-truefalsnl \\u\t\n\xc3\xa9\xff";
  const std::string form_chars = "=&%+abcXYZ019{}\":";
  for (int i = 0; i < 150; ++i) {
    HttpClient raw(f.port, 2000);
    raw.SendRaw(random_text(600, ""));
    raw.ReadReply();
    HttpClient c(f.port, 5000);
    HttpReply d = c.Request("POST", "/v1/decide", R"({"task":)" + random_text(300, json_chars));
    CHECK((d.status == 200 || d.status == 400));
    HttpReply t = c.Request("POST", "/v1/taskrouter/events",
                            "EventType=reservation.accepted&TaskChannelUniqueName=voice&" +
                                random_text(300, form_chars),
                            {{"Content-Type", "application/x-www-form-urlencoded"}});
    CHECK((t.status == 200 || t.status == 400));
  }
  HttpClient c(f.port);
  CHECK(c.Request("GET", "/healthz").status == 200);
  CHECK(f.Stop() == 0);
}
