// The HTTP/1.1 transport of `recrules serve`: Boost.Beast on Asio, keep-alive, a fixed number of
// I/O threads, request limits, and a graceful drain. It knows nothing about recrules' routes:
// every complete request goes to one RequestHandler.
//
// Threading: the handler runs on an I/O thread and must not block there. A handler that needs
// to block (Twilio calls, a policy reload) moves its Exchange to another thread and replies
// from there; Reply may be called from any thread, exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recrules/status.h"

namespace recrules::server {

struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // path and query as sent
  std::string_view path() const;                             // target up to '?'
  std::string_view query() const;                            // after '?', empty when none
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string remote_address;
  // The first value of a header (name lowercased), empty when absent.
  std::string_view Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string_view content_type = "application/json";  // a literal: static storage only
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The route that answered, for metrics ("/v1/decide", "unmatched", ...). Not sent.
  std::string route;
};

class Session;

// One request waiting for its response. Move-only; Reply sends the response on the
// connection's own executor, whatever thread calls it.
class Exchange {
 public:
  explicit Exchange(std::shared_ptr<Session> session);
  Exchange(Exchange&&) noexcept;
  Exchange& operator=(Exchange&&) noexcept;
  ~Exchange();  // an Exchange dropped without a reply answers 500, so no client hangs
  void Reply(HttpResponse response);
  HttpRequest& request();
  // When the request was complete (for latency metrics).
  std::chrono::steady_clock::time_point started() const;

 private:
  std::shared_ptr<Session> session_;
};

using RequestHandler = std::function<void(Exchange exchange)>;
// Called with each answered request, on the thread that wrote it.
using ResponseObserver = std::function<void(const HttpRequest&, const HttpResponse&,
                                            std::chrono::steady_clock::duration)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port)
  int io_threads = 2;
  size_t max_body_bytes = 1 << 20;           // larger: 413
  size_t max_header_bytes = 16 << 10;        // larger: 431
  std::chrono::seconds idle_timeout{75};     // keep-alive connection without a request
  std::chrono::seconds request_timeout{30};  // from the first byte to the complete request
  // Connections open at once; one more is answered 503 and closed, so that descriptors stay
  // for the decision log, the state file and Twilio. 0: no cap.
  size_t max_connections = 0;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, RequestHandler handler, ResponseObserver observer);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; the error names the address when it cannot.
  Status Listen();
  uint16_t port() const;
  // Runs the I/O threads and returns at once.
  void Start();
  // Graceful stop: no new connections; idle keep-alive connections close; requests in flight
  // finish and their responses carry "Connection: close". Waits up to `grace` for them, then
  // closes what is left. Then the I/O threads end. Call once, from a non-I/O thread.
  void Drain(std::chrono::milliseconds grace);
  size_t open_connections() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace recrules::server
