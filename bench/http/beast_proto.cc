// Library-choice prototype: Boost.Beast/Asio, N threads on one io_context, keep-alive.
//   beast_proto PORT POLICY [THREADS]   GET / -> fixed body; POST /v1/decide -> the decision
#include <utility>  // Boost 1.74 Asio uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "recrules/engine.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

const recrules::Engine* g_engine = nullptr;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : stream_(std::move(s)) {}
  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return;
                       self->Handle();
                     });
  }
  void Handle() {
    auto& req = parser_->get();
    res_ = {};
    res_.version(req.version());
    res_.keep_alive(req.keep_alive());
    res_.set(http::field::content_type, "application/json");
    if (req.method() == http::verb::post && req.target() == "/v1/decide") {
      recrules::Decision d;
      recrules::Status s = g_engine->Decide(req.body(), {}, &d);
      if (s.ok()) {
        res_.result(http::status::ok);
        d.AppendJson(&res_.body());
      } else {
        res_.result(http::status::bad_request);
        res_.body() = "{\"error\":\"bad\"}";
      }
    } else {
      res_.result(http::status::ok);
      res_.body() = "{\"action\":\"record\",\"rule\":null,\"reason\":\"static_body_hello\"}";
    }
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      if (!self->res_.keep_alive()) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->Read();
    });
  }
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
};

void Accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s))->Start();
    }
    Accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  auto engine = recrules::Engine::Open(argv[2]);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().message().c_str());
    return 2;
  }
  g_engine = engine->get();
  asio::io_context ioc(threads);
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), uint16_t(std::atoi(argv[1]))});
  Accept(acceptor);
  std::printf("beast_proto listening %d threads\n", threads);
  std::fflush(stdout);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
}
