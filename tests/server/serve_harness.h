// Test harness for the HTTP adapter: starts the real `recrules serve` binary on a free loopback
// port, and a small blocking HTTP/1.1 client to talk to it. Every wait is bounded.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace recrules::testing {

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

struct HttpReply {
  int status = 0;                              // 0: no answer (connection closed or timed out)
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One keep-alive connection. Not thread-safe; use one per thread.
class HttpClient {
 public:
  explicit HttpClient(int port, int timeout_ms = 10000) : port_(port), timeout_ms_(timeout_ms) {}
  ~HttpClient() { Close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }
  bool Connect() {
    Close();
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      Close();
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }
  bool connected() const { return fd_ >= 0; }

  // Sends raw bytes (whole requests, or deliberately broken ones).
  bool SendRaw(const std::string& bytes) {
    if (fd_ < 0 && !Connect()) return false;
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += size_t(n);
    }
    return true;
  }

  HttpReply Request(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    std::string req =
        method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n";
    bool has_type = false;
    for (auto& [k, v] : headers) {
      req += k + ": " + v + "\r\n";
      if (strcasecmp(k.c_str(), "content-type") == 0) has_type = true;
    }
    if (!body.empty() || method == "POST") {
      if (!has_type) req += "Content-Type: application/json\r\n";
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    if (!SendRaw(req)) return {};
    return ReadReply(method == "HEAD");
  }

  HttpReply ReadReply(bool head = false) {
    HttpReply r;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    std::string head_text = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    std::stringstream ss(head_text);
    std::string line;
    std::getline(ss, line);
    if (line.size() < 12) return r;
    int status = std::atoi(line.c_str() + 9);
    while (std::getline(ss, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
      size_t v = line.find_first_not_of(' ', colon + 1);
      r.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    size_t length = head ? 0 : size_t(std::atoll(r.header("content-length").c_str()));
    while (buffer_.size() < length) {
      if (!Fill()) return r;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    r.status = status;
    if (r.header("connection") == "close") Close();
    return r;
  }

 private:
  bool Fill() {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms_) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      Close();
      return false;
    }
    buffer_.append(buf, size_t(n));
    return true;
  }

  int port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buffer_;
};

// A running `recrules serve`. Its stderr goes to a file; the port is read from the
// "listening on" line. The destructor kills it (SIGKILL) if the test did not stop it.
class ServeProcess {
 public:
  // args: after "serve"; env: extra "NAME=value" entries.
  ServeProcess(const std::string& dir, std::vector<std::string> args,
               std::vector<std::string> env = {})
      : stderr_path_(dir + "/serve.stderr") {
    std::vector<std::string> argv = {std::string(RECRULES_BINARY_DIR) + "/src/recrules", "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    // A server started before in this folder left its output: gone before this one's is awaited.
    ::unlink(stderr_path_.c_str());
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, 1);
      for (auto& e : env) ::putenv(e.data());
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Waits (bounded) for the "listening on" line; 0 when the process exited or timed out.
  int WaitForPort(int timeout_ms = 10000) {
    static const std::regex kListening(R"(listening on [^ ]+:(\d+))");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string err = ReadFile(stderr_path_);
      if (std::regex_search(err, m, kListening)) return port_ = std::stoi(m[1]);
      if (Exited(0)) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  void Signal(int sig) { ::kill(pid_, sig); }
  std::string stderr_text() const { return ReadFile(stderr_path_); }

  // True once the process has exited (waiting at most timeout_ms); exit_code() then holds its
  // exit status (128 + signal when killed).
  bool Exited(int timeout_ms) {
    if (exited_) return true;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    do {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }
  int exit_code() const { return exit_code_; }

 private:
  std::string stderr_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Polls `fn` until it returns true or the time is up.
template <typename Fn>
bool Eventually(Fn fn, int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return fn();
}

// application/x-www-form-urlencoded, as Twilio posts TaskRouter events.
inline std::string Encode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

inline std::string Form(const Fields& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out.push_back('&');
    out += Encode(k) + "=" + Encode(v);
  }
  return out;
}

}  // namespace recrules::testing
