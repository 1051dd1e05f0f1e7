// FakeTwilio: starts tests/fake_twilio/fake_twilio.js on a free 127.0.0.1 port for one test and
// stops it (SIGTERM, then SIGKILL) when the object goes out of scope. Control calls go through
// libcurl; link CURL::libcurl and nlohmann_json. See fake_twilio.js for the control API.
//
// Not thread-safe: one test thread drives it (the code under test may call the fake from many).
// ConfigFor builds a TwilioClient configuration pointed at a fake: link recrules::twilio.
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "twilio/twilio_client.h"

namespace recrules::testing {

// The credentials the fake accepts (its defaults are FakeTwilio::kAccountSid / kAuthToken).
struct FakeTwilioOptions {
  std::string account_sid = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  std::string auth_token = "fake-auth-token";
  std::string api_key;  // with api_secret, also accepted as basic-auth credentials
  std::string api_secret;
};

class FakeTwilio {
 public:
  static constexpr const char* kAccountSid = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  static constexpr const char* kAuthToken = "fake-auth-token";

  using Options = FakeTwilioOptions;

  struct Answer {
    long status = 0;  // 0 when the fake did not answer
    nlohmann::json body;
  };

  // The path of `node` on PATH, or "" when there is none.
  static std::string NodePath() {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/node";
      if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
    return "";
  }

  // Starts the fake and waits (up to 10 s) for its "listening" line. Throws on failure.
  explicit FakeTwilio(const std::string& script, Options options = {}) {
    std::string node = NodePath();
    if (node.empty()) throw std::runtime_error("node not found on PATH");
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> args = {node,
                                     script,
                                     "--port",
                                     "0",
                                     "--account-sid",
                                     options.account_sid,
                                     "--auth-token",
                                     options.auth_token};
    if (!options.api_key.empty()) {
      args.insert(args.end(), {"--api-key", options.api_key, "--api-secret", options.api_secret});
    }
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_fd_ = out[0];
    std::string line = ReadLine(std::chrono::seconds(10));
    const std::string prefix = "fake_twilio listening 127.0.0.1:";
    if (line.rfind(prefix, 0) != 0) {
      Stop();
      throw std::runtime_error("fake_twilio did not start: \"" + line + "\"");
    }
    port_ = std::stoi(line.substr(prefix.size()));
  }

  ~FakeTwilio() { Stop(); }
  FakeTwilio(const FakeTwilio&) = delete;
  FakeTwilio& operator=(const FakeTwilio&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Stops the process (idempotent): the fake then refuses connections.
  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      pid_ = -1;
    }
    if (out_fd_ >= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
    }
  }

  Answer Control(const std::string& method, const std::string& path,
                 const nlohmann::json& body = nullptr) const {
    Answer answer;
    CURL* h = curl_easy_init();
    std::string text = body.is_null() ? "" : body.dump();
    std::string received;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    std::string target = url() + path;
    curl_easy_setopt(h, CURLOPT_URL, target.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (method != "GET") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, text.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(text.size()));
    }
    curl_easy_setopt(
        h, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
          static_cast<std::string*>(u)->append(d, s * n);
          return s * n;
        });
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &received);
    if (curl_easy_perform(h) == CURLE_OK) {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer.status);
      answer.body = nlohmann::json::parse(received, nullptr, false);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return answer;
  }

  // Shortcuts for the control API; each throws if the fake does not say ok.
  void Seed(const nlohmann::json& state) const {
    Expect(Control("POST", "/__control/seed", state));
  }
  void Fault(const nlohmann::json& fault) const {
    Expect(Control("POST", "/__control/faults", fault));
  }
  void ClearRequests() const { Expect(Control("DELETE", "/__control/requests")); }
  void Reset() const { Expect(Control("POST", "/__control/reset")); }
  // The journal: every Twilio request received so far, oldest first.
  nlohmann::json Requests() const { return Control("GET", "/__control/requests").body["requests"]; }
  // The journaled requests whose path contains `part`.
  nlohmann::json RequestsTo(const std::string& part) const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : Requests()) {
      if (r["path"].get<std::string>().find(part) != std::string::npos) out.push_back(r);
    }
    return out;
  }
  nlohmann::json State() const { return Control("GET", "/__control/state").body; }
  // Ends recording `sid` as "completed" or "absent" (with Twilio's error code); when its create
  // asked for that status callback, the fake posts it and answers once it was answered:
  // {ok, callback: {http_status, error} or null}.
  nlohmann::json EndRecording(const std::string& sid, const std::string& status = "completed",
                              int error_code = 0, int duration = 1) const {
    nlohmann::json body = {{"sid", sid}, {"status", status}, {"duration", duration}};
    if (error_code != 0) body["error_code"] = error_code;
    Answer a = Control("POST", "/__control/end-recording", body);
    Expect(a);
    return a.body;
  }
  // The recording status callbacks posted so far, oldest first.
  nlohmann::json Callbacks() const {
    return Control("GET", "/__control/callbacks").body["callbacks"];
  }

 private:
  static void Expect(const Answer& a) {
    if (a.status != 200) {
      throw std::runtime_error("fake_twilio control call failed: " + std::to_string(a.status) +
                               " " + (a.body.is_discarded() ? "" : a.body.dump()));
    }
  }

  std::string ReadLine(std::chrono::milliseconds timeout) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return line;
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return line;
      char c;
      ssize_t n = ::read(out_fd_, &c, 1);
      if (n <= 0 || c == '\n') return line;
      line.push_back(c);
    }
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
};

// How a client configured by ConfigFor retries: short backoffs so retry tests stay fast.
struct FakeRetries {
  int max_attempts = 3;
  int backoff_base_ms = 20;
  int backoff_max_ms = 200;
};

// A client configuration for `fake`: its credentials, every base URL at the fake, 1 s timeouts,
// and the given retries.
inline twilio::TwilioConfig ConfigFor(const FakeTwilio& fake, const FakeRetries& retries = {}) {
  twilio::TwilioConfig c;
  c.account_sid = FakeTwilio::kAccountSid;
  c.auth_token = FakeTwilio::kAuthToken;
  c.api_url = c.iam_url = c.taskrouter_url = fake.url();
  c.connect_timeout_ms = 1000;
  c.timeout_ms = 1000;
  c.max_attempts = retries.max_attempts;
  c.backoff_base_ms = retries.backoff_base_ms;
  c.backoff_max_ms = retries.backoff_max_ms;
  return c;
}

}  // namespace recrules::testing
