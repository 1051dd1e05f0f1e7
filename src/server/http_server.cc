#include "server/http_server.h"

#include <utility>  // Boost 1.74 Asio uses std::exchange without including <utility>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace recrules::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
// Each connection belongs to one io_context, run by one thread: its handlers never run in
// parallel, so it needs no strand, and the concrete executor type avoids Asio's type-erased
// executor on every operation.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view HttpRequest::query() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

namespace {

bool IsHttpError(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::need_more).category();
}

// Header names are ASCII tokens: lowered without the locale (std::tolower is a call per byte).
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

// Beast's fields container stores a field's name and value sizes in 16 bits and throws
// std::length_error past them (reachable with --max-header-bytes over 64 KiB, and in trailers).
constexpr size_t kMaxFieldBytes = 65533;

// Beast's request parser, with what it leaves to its user. A field too large for Beast's
// container is refused before it is stored. Trailer fields (after a chunked body) are counted
// and dropped: a proxy in front checks headers, not trailers, so nothing the router reads
// (Authorization, Host, X-Twilio-Signature, ...) may come from one.
class RequestParser final : public http::request_parser<http::string_body> {
 public:
  // The error was header_limit because one field was over kMaxFieldBytes.
  bool field_too_large() const { return field_too_large_; }
  // The error was header_limit because the trailer was over the header limit.
  bool trailer_too_large() const { return trailer_too_large_; }
  void trailer_limit(size_t bytes) { trailer_limit_ = bytes; }

 private:
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override {
    if (name_string.size() > kMaxFieldBytes || value.size() > kMaxFieldBytes) {
      field_too_large_ = true;
      ec = http::error::header_limit;
      return;
    }
    if (!is_header_done()) return get().insert(name, name_string, value);
    trailer_bytes_ += name_string.size() + value.size() + 4;
    if (trailer_bytes_ > trailer_limit_) {
      trailer_too_large_ = true;
      ec = http::error::header_limit;
    }
  }

  size_t trailer_limit_ = 0;
  size_t trailer_bytes_ = 0;
  bool field_too_large_ = false;
  bool trailer_too_large_ = false;
};

HttpResponse PlainError(int status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.route = "unparsed";
  r.body = "{\"error\":{\"code\":\"" + std::string(code) + "\",\"message\":\"" +
           std::string(message) + "\"}}";
  return r;
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  RequestHandler handler;
  ResponseObserver observer;
  // Declared before the io_context: handlers it destroys may end sessions, which unregister.
  std::mutex mu;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions;
  uint64_t next_session = 1;
  std::atomic<bool> draining{false};
  // One io_context per I/O thread; connections are spread over them in turn. The acceptor
  // runs on the first.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<Executor>> work;
  size_t next_context = 0;  // used by the accept handler only
  std::optional<tcp::acceptor> acceptor;
  // Paces accept retries after a failure (EMFILE); one accept is pending at a time, so one timer.
  std::optional<asio::steady_timer> accept_retry;
  std::vector<std::thread> threads;

  Impl(HttpServerOptions o, RequestHandler h, ResponseObserver obs)
      : options(std::move(o)), handler(std::move(h)), observer(std::move(obs)) {
    for (int i = 0; i < std::max(1, options.io_threads); ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));
      work.push_back(asio::make_work_guard(*contexts.back()));
    }
    acceptor.emplace(*contexts.front());
    accept_retry.emplace(*contexts.front());
  }

  void Accept();
  void RefuseOverCapacity(Socket s);
  std::chrono::steady_clock::time_point last_refusal_log;  // the accept handler's only
  void Forget(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(id);
  }
};

// One connection: reads requests one after another (HTTP/1.1 keep-alive, no pipelining in
// parallel), hands each to the handler, writes its response. All of its work runs on its
// io_context's one thread, so a reply from a worker thread never races the connection's reads.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl* server, uint64_t id, Socket socket)
      : server_(server),
        id_(id),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        // Bounds what Beast buffers to find the end of a chunked body's trailer, which its
        // header limit does not cover.
        buffer_(server->options.max_header_bytes + kReadSize) {
    buffer_.reserve(kReadSize);
    beast::error_code ec;
    auto remote = socket_.remote_endpoint(ec);
    if (!ec) remote_address_ = remote.address().to_string();
  }
  ~Session() { server_->Forget(id_); }

  void Start() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Called on the connection's thread during a drain: a connection waiting for its next request
  // closes now.
  void CloseIfIdle() {
    if (reading_ && parser_ && !parser_->got_some() && buffer_.size() == 0) Close();
  }
  void Close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
    deadline_ = Clock::time_point::max();
  }
  auto executor() { return socket_.get_executor(); }

  void Reply(HttpResponse response) {
    asio::dispatch(socket_.get_executor(),
                   [self = shared_from_this(), r = std::move(response)]() mutable {
                     self->Write(std::move(r));
                   });
  }
  HttpRequest& request() { return request_; }
  Clock::time_point started() const { return started_; }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(uint32_t(server_->options.max_header_bytes));
    parser_->trailer_limit(server_->options.max_header_bytes);
    reading_ = true;
    SetDeadline(server_->options.idle_timeout);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    SetDeadline(server_->options.request_timeout);
    const auto& req = parser_->get();
    // Beast's header_limit alone let a block of 2000 small fields (23 KB) through the 16 KiB
    // limit (tests/attacks): count the fields' bytes here too.
    size_t header_bytes = req.target().size() + req.method_string().size() + 12;
    for (const auto& field : req)
      header_bytes += field.name_string().size() + field.value().size() + 4;
    if (header_bytes > server_->options.max_header_bytes) {
      return OnReadError(http::error::header_limit);
    }
    // Framing a proxy in front may read otherwise (request smuggling) is refused. Beast leaves
    // the body of "chunked, gzip" or "xchunked" unread, to be parsed as the next request; it
    // refuses chunked with Content-Length itself (400).
    size_t encodings = req.count(http::field::transfer_encoding);
    if (encodings > 1 ||
        (encodings == 1 && !beast::iequals(req[http::field::transfer_encoding], "chunked"))) {
      return WriteFinal(PlainError(501, "not_implemented",
                                   "Transfer-Encoding other than chunked is not supported"));
    }
    // RFC 9112 3.2: a request of HTTP/1.1 names exactly one Host.
    size_t hosts = req.count(http::field::host);
    if ((req.version() >= 11 && hosts == 0) || hosts > 1) {
      return WriteFinal(PlainError(
          400, "bad_request",
          hosts == 0 ? "HTTP/1.1 request without a Host header" : "more than one Host header"));
    }
    auto expect = req.find(http::field::expect);
    if (expect != req.end() && beast::iequals(expect->value(), "100-continue") &&
        !parser_->is_done()) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue),
                        [self = shared_from_this()](beast::error_code wec, size_t) {
                          if (wec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnReadError(beast::error_code ec) {
    reading_ = false;
    if (ec == http::error::body_limit) {
      return WriteFinal(PlainError(413, "body_too_large",
                                   "request body is larger than " +
                                       std::to_string(server_->options.max_body_bytes) + " bytes"));
    }
    if (ec == http::error::header_limit && parser_->field_too_large()) {
      return WriteFinal(PlainError(431, "headers_too_large",
                                   "a request header or trailer field is larger than " +
                                       std::to_string(kMaxFieldBytes) + " bytes"));
    }
    if (parser_->trailer_too_large() ||
        (ec == http::error::buffer_overflow && parser_->is_header_done())) {
      return WriteFinal(PlainError(431, "headers_too_large",
                                   "the chunked body's trailer is larger than " +
                                       std::to_string(server_->options.max_header_bytes) +
                                       " bytes"));
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return WriteFinal(PlainError(431, "headers_too_large",
                                   "request headers are larger than " +
                                       std::to_string(server_->options.max_header_bytes) +
                                       " bytes"));
    }
    if (IsHttpError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return WriteFinal(PlainError(400, "bad_request", "malformed HTTP request: " + ec.message()));
    }
    Close();  // end of stream, timeout, reset, or a drain
  }

  void OnRead(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    reading_ = false;
    auto& req = parser_->get();
    // The request's strings are assigned, not rebuilt, so they keep their buffers.
    request_.method.assign(req.method_string().data(), req.method_string().size());
    request_.target.assign(req.target().data(), req.target().size());
    request_.headers.clear();
    for (const auto& field : req) {
      auto name = field.name_string();
      request_.headers.emplace_back(Lower(std::string_view(name.data(), name.size())),
                                    std::string(field.value()));
    }
    request_.body = std::move(req.body());
    request_.remote_address = remote_address_;
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    started_ = Clock::now();
    deadline_ = Clock::time_point::max();  // the handler may take its time (a worker's reply)
    try {
      server_->handler(Exchange(shared_from_this()));
    } catch (const std::exception& e) {
      // The Exchange was destroyed while unwinding and has answered 500.
      spdlog::error("request handler failed on {} {}: {}", request_.method, request_.target,
                    e.what());
    }
  }

  // A response after which the connection closes (the request could not be read whole).
  void WriteFinal(HttpResponse r) {
    reading_ = false;
    keep_alive_ = false;
    linger_ = true;
    version_ = 11;
    request_ = HttpRequest{};
    started_ = Clock::now();
    Write(std::move(r));
  }

  // The response head is written by hand into a reused buffer, and sent with the body in one
  // gathered write: Beast's fields container and serializer cost more than the decision.
  void Write(HttpResponse r) {
    if (writing_) return;  // a second reply for one request: ignore
    writing_ = true;
    const bool keep = keep_alive_ && !server_->draining.load(std::memory_order_relaxed);
    if (server_->observer) server_->observer(request_, r, Clock::now() - started_);
    head_.clear();
    head_ += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head_ += std::to_string(r.status);
    head_ += ' ';
    auto reason = http::obsolete_reason(http::int_to_status(unsigned(r.status)));
    head_.append(reason.data(), reason.size());
    head_ += "\r\nServer: recrules\r\n";
    if (!r.content_type.empty()) AppendField("Content-Type", r.content_type);
    for (const auto& [name, value] : r.headers) AppendField(name, value);
    // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
    if (version_ >= 11 && !keep) head_ += "Connection: close\r\n";
    if (version_ < 11 && keep) head_ += "Connection: keep-alive\r\n";
    const bool has_body = !(r.status / 100 == 1 || r.status == 204 || r.status == 304);
    if (has_body) AppendField("Content-Length", std::to_string(r.body.size()));
    head_ += "\r\n";
    body_ = std::move(r.body);
    // A HEAD response says the body's length but sends none (RFC 9110 9.3.2): a client reads
    // no body after it, so one sent would be read as the next response.
    if (!has_body || request_.method == "HEAD") body_.clear();
    std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_), asio::buffer(body_)};
    SetDeadline(server_->options.request_timeout);
    asio::async_write(socket_, buffers,
                      [self = shared_from_this(), keep](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        if (ec || !keep) {
                          beast::error_code ignored;
                          self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
                          if (!ec && self->linger_) {
                            self->SetDeadline(std::chrono::seconds(2));
                            return self->DiscardUntilClosed();
                          }
                          return self->Close();
                        }
                        if (self->server_->draining.load()) return self->Close();
                        self->ReadHeader();
                      });
  }

  // After an error answered before the request was read whole (413, 431, 400), the client may
  // still be sending it: closing at once would reset the connection, and the reset can destroy
  // the answer before the client reads it. So read and drop what comes until the client closes,
  // for at most the 2 s deadline set once before the first call.
  void DiscardUntilClosed() {
    discard_.resize(16384);
    socket_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->DiscardUntilClosed();
                            });
  }

  void AppendField(std::string_view name, std::string_view value) {
    head_ += name;
    head_ += ": ";
    head_ += value;
    head_ += "\r\n";
  }

  // Timeouts: one deadline per connection, moved forward by every read and write, and one timer
  // that is re-armed only when it fires before the deadline or the deadline moves earlier than
  // it. Setting a deadline is then a store, not a timer operation (and a timerfd system call)
  // per request.
  void SetDeadline(std::chrono::seconds timeout) {
    deadline_ = Clock::now() + timeout;
    if (deadline_ < armed_) Arm(deadline_);
  }
  void Arm(Clock::time_point at) {
    armed_ = at;
    timer_.expires_at(at);  // cancels the wait before, whose handler then sees operation_aborted
    timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->OnTimer();
    });
  }
  void OnTimer() {
    armed_ = Clock::time_point::max();
    if (deadline_ == Clock::time_point::max()) return;
    if (Clock::now() >= deadline_) return Close();  // the pending read or write ends aborted
    Arm(deadline_);
  }

  // A request read in one receive when it fits (Beast reads at least 512 bytes, and otherwise
  // as much as the buffer has room for).
  static constexpr size_t kReadSize = 8192;

  HttpServer::Impl* server_;
  uint64_t id_;
  Socket socket_;
  Timer timer_;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point armed_ = Clock::time_point::max();  // when the pending wait ends
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  HttpRequest request_;
  std::string remote_address_;
  std::string head_;     // the response head being written
  std::string body_;     // the response body being written
  std::string discard_;  // bytes read and dropped after a final error response
  bool linger_ = false;  // the connection closes after an error, its request maybe unread
  Clock::time_point started_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool reading_ = false;
  bool writing_ = false;
};

Exchange::Exchange(std::shared_ptr<Session> session) : session_(std::move(session)) {}
Exchange::Exchange(Exchange&&) noexcept = default;
Exchange& Exchange::operator=(Exchange&&) noexcept = default;
Exchange::~Exchange() {
  if (session_) {
    HttpResponse r = PlainError(500, "internal", "the request was dropped without an answer");
    r.route = "dropped";
    Reply(std::move(r));
  }
}
void Exchange::Reply(HttpResponse response) {
  if (!session_) return;
  std::shared_ptr<Session> s = std::move(session_);
  s->Reply(std::move(response));
}
HttpRequest& Exchange::request() {
  return session_->request();
}
std::chrono::steady_clock::time_point Exchange::started() const {
  return session_->started();
}

void HttpServer::Impl::Accept() {
  Executor target = contexts[next_context]->get_executor();
  next_context = (next_context + 1) % contexts.size();
  acceptor->async_accept(target, [this](beast::error_code ec, Socket s) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      std::shared_ptr<Session> session;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (options.max_connections == 0 || sessions.size() < options.max_connections) {
          uint64_t id = next_session++;
          session = std::make_shared<Session>(this, id, std::move(s));
          sessions[id] = session;
        }
      }
      if (session) {
        session->Start();
      } else {
        RefuseOverCapacity(std::move(s));
      }
    } else {
      // Out of file descriptors (EMFILE) fails every accept at once: pause instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor->is_open()) Accept();
      });
      return;
    }
    Accept();
  });
}

// A connection past --max-connections: a 503 written straight away (a new socket's send buffer
// takes it whole), then closed. Counted as a response on the route "over_capacity".
void HttpServer::Impl::RefuseOverCapacity(Socket s) {
  static constexpr std::string_view kBody =
      "{\"error\":{\"code\":\"over_capacity\",\"message\":\"too many connections open "
      "(--max-connections)\"}}";
  static const std::string reply =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nRetry-After: 1\r\nContent-Length: " +
      std::to_string(kBody.size()) + "\r\n\r\n" + std::string(kBody);
  beast::error_code ec;
  s.non_blocking(true, ec);
  // What the client already sent is read and dropped: closing on unread bytes would send a
  // reset, which may reach the client before it reads the 503.
  std::array<char, 16384> drop;
  for (int reads = 0; reads < 4 && !ec && s.read_some(asio::buffer(drop), ec) > 0; ++reads) {
  }
  ec.clear();
  asio::write(s, asio::buffer(reply), ec);
  s.shutdown(asio::socket_base::shutdown_send, ec);
  s.close(ec);
  HttpResponse counted;
  counted.status = 503;
  counted.route = "over_capacity";
  if (observer) observer(HttpRequest(), counted, std::chrono::steady_clock::duration::zero());
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log > std::chrono::seconds(10)) {  // not a line per connection
    last_refusal_log = now;
    spdlog::warn("connection refused with 503: {} connections open (--max-connections)",
                 options.max_connections);
  }
}

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler, ResponseObserver observer)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(observer))) {}

HttpServer::~HttpServer() {
  if (!impl_->threads.empty()) Drain(std::chrono::milliseconds(0));
}

Status HttpServer::Listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  const std::string where = impl_->options.host + ":" + std::to_string(impl_->options.port);
  if (ec) return Status::InvalidInput("--listen " + where + ": not an IP address");
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& a = *impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  return Status::Ok();
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor->local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::Start() {
  impl_->Accept();
  for (auto& context : impl_->contexts) {
    impl_->threads.emplace_back([c = context.get()] {
      // An exception out of a handler (Beast throws on what its parser should have refused)
      // unwinds that one operation, whose handler owns its connection: the connection closes,
      // and the thread goes on serving the others.
      while (true) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("connection closed after an error in the HTTP layer: {}", e.what());
        }
      }
    });
  }
}

size_t HttpServer::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions.size();
}

void HttpServer::Drain(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  s.draining = true;
  asio::post(*s.contexts.front(), [&s] {
    beast::error_code ignored;
    s.acceptor->close(ignored);
    s.accept_retry->cancel();
  });
  auto each_session = [&s](auto fn) {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      for (auto& [id, weak] : s.sessions) {
        if (auto p = weak.lock()) live.push_back(std::move(p));
      }
    }
    for (auto& p : live) asio::post(p->executor(), [p, fn] { fn(*p); });
  };
  const auto deadline = Clock::now() + grace;
  // Idle connections close at once; busy ones close after their response. A connection that
  // was idle and then sent a request keeps it until its answer, so look again until none is left.
  while (true) {
    each_session([](Session& session) { session.CloseIfIdle(); });
    if (open_connections() == 0 || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (open_connections() > 0) {
    spdlog::warn("closing {} connection(s) still busy after the shutdown grace period",
                 open_connections());
    each_session([](Session& session) { session.Close(); });
  }
  for (auto& w : s.work) w.reset();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace recrules::server
