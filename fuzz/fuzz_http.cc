// Fuzzes HTTP request handling end to end: the input is the raw bytes a client sends on one
// connection (one or more HTTP/1.1 requests). They go to the real HttpServer (Boost.Beast parser,
// limits, keep-alive) and HttpAdapter (routing, auth, handlers, the Lua policy) of
// `recrules serve`, started once in this process on a loopback port: src/server has no
// socket-free entry point, and the fuzzer needs no change to it.
// Checked for every input: the server answers (or closes) within the time limit, every answer is
// a well-formed HTTP response (a Content-Length unless 204/304), none is a 500 (a handler that
// threw or dropped its request), and every JSON body is valid JSON.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "fuzz_common.h"
#include "server/decision_log.h"
#include "server/http_adapter.h"
#include "server/http_server.h"
#include "server/metrics.h"

namespace {

using namespace recrules;

struct Serve {
  std::unique_ptr<Engine> engine;
  server::Metrics metrics;
  std::unique_ptr<server::DecisionLog> log;
  std::unique_ptr<server::HttpAdapter> adapter;
  std::unique_ptr<server::HttpServer> http;
};

server::AccessConfig Access() {
  server::AccessConfig access;
  access.api_tokens = {"fuzz-token"};  // seeds send "Authorization: Bearer fuzz-token"
  return access;
}

// Started on first use and never stopped: the process ends when the fuzzer does.
uint16_t ServerPort() {
  static Serve* serve = [] {
    spdlog::set_level(spdlog::level::off);
    auto* s = new Serve;
    s->engine = fuzz::OpenOrAbort(fuzz::WriteLuaPolicy("next"));
    auto log = server::DecisionLog::Open({});  // no decision log file
    if (!log.ok()) std::abort();
    s->log = std::move(log).value();
    server::AdapterOptions adapter_options;
    adapter_options.worker_threads = 1;
    s->adapter = std::make_unique<server::HttpAdapter>(s->engine.get(), &s->metrics, s->log.get(),
                                                       Access(), adapter_options, nullptr);
    server::HttpServerOptions options;
    options.port = 0;
    options.io_threads = 1;
    options.max_body_bytes = 16 << 10;  // small limits, so fuzzed inputs reach them
    options.max_header_bytes = 4 << 10;
    options.idle_timeout = std::chrono::seconds(5);
    options.request_timeout = std::chrono::seconds(5);
    server::HttpAdapter* adapter = s->adapter.get();
    s->http = std::make_unique<server::HttpServer>(
        options, [adapter](server::Exchange ex) { adapter->Handle(std::move(ex)); },
        [adapter](const server::HttpRequest& req, const server::HttpResponse& res,
                  std::chrono::steady_clock::duration elapsed) {
          adapter->Observe(req, res, elapsed);
        });
    if (!s->http->Listen().ok()) std::abort();
    s->http->Start();
    return s;
  }();
  return serve->http->port();
}

// Sends `raw`, half-closes, and returns everything the server wrote until it closed.
std::string Exchange(uint16_t port, std::string_view raw) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) std::abort();
  timeval limit{10, 0};  // the server's own timeouts are 5 s: past 10 s it hangs
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
  size_t sent = 0;
  while (sent < raw.size()) {
    ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server answered early (413, 431, 400) and closed
    sent += size_t(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[16384];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, size_t(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::fprintf(stderr, "fuzz_http: no answer and no close within 10 s\n");
      std::abort();
    }
    break;  // closed, or reset after an early answer
  }
  ::close(fd);
  return out;
}

std::string_view HeaderValue(std::string_view head, std::string_view lower_name) {
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string_view::npos) {
    at += 2;
    size_t end = head.find("\r\n", at);
    std::string_view line = head.substr(at, end == std::string_view::npos ? end : end - at);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon == lower_name.size()) {
      bool same = true;
      for (size_t i = 0; i < colon; ++i) {
        same = same && std::tolower(static_cast<unsigned char>(line[i])) == lower_name[i];
      }
      if (same) {
        std::string_view v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        return v;
      }
    }
  }
  return {};
}

// Every response in `out`, one after another: a status line, headers, a Content-Length body.
// An answer to HEAD has the Content-Length and no body; which answers those are is not known
// here, so when the input has a HEAD request, an answer followed at once by the next one (or
// by the end) is taken as bodiless.
void CheckResponses(std::string_view out, bool input_has_head) {
  while (!out.empty()) {
    if (out.substr(0, 7) != "HTTP/1." || out.size() < 12) std::abort();
    const int status = std::atoi(std::string(out.substr(9, 3)).c_str());
    if (status < 100 || status > 599) std::abort();
    if (status == 500) {
      std::fprintf(stderr, "fuzz_http: answered 500:\n%.*s\n", int(out.size()), out.data());
      std::abort();
    }
    size_t head_end = out.find("\r\n\r\n");
    if (head_end == std::string_view::npos) std::abort();
    std::string_view head = out.substr(0, head_end);
    out.remove_prefix(head_end + 4);
    if (status == 100) continue;  // interim answer to Expect: 100-continue
    std::string_view length = HeaderValue(head, "content-length");
    if (status == 204 || status == 304) {  // no body, and no Content-Length (RFC 9110)
      if (!length.empty()) std::abort();
      continue;
    }
    if (length.empty()) std::abort();  // every other answer of the server has a Content-Length
    const size_t n = size_t(std::atoll(std::string(length).c_str()));
    if (input_has_head && (out.empty() || out.substr(0, 7) == "HTTP/1.")) continue;
    if (n > out.size()) std::abort();
    std::string_view body = out.substr(0, n);
    out.remove_prefix(n);
    if (HeaderValue(head, "content-type").substr(0, 16) == "application/json") {
      auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint16_t port = ServerPort();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string out = Exchange(port, input);
  CheckResponses(out, input.find("HEAD") != std::string_view::npos);
  return 0;
}
