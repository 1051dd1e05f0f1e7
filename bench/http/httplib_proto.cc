// Library-choice prototype: cpp-httplib (Debian 0.11), thread per connection from its pool.
//   httplib_proto PORT POLICY [KEEPALIVE_MAX_COUNT [TCP_NODELAY 0|1]]
#include <httplib.h>

#include <cstdio>

#include "recrules/engine.h"

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  auto engine = recrules::Engine::Open(argv[2]);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().message().c_str());
    return 2;
  }
  const recrules::Engine* e = engine->get();
  httplib::Server server;
  if (argc > 3) server.set_keep_alive_max_count(size_t(std::atoi(argv[3])));
  // Off by default in 0.11: headers and body go out in two writes, and Nagle holds the second
  // until the client's delayed ACK (about 40 ms on Linux).
  if (argc > 4) server.set_tcp_nodelay(std::atoi(argv[4]) != 0);
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"action\":\"record\",\"rule\":null,\"reason\":\"static_body_hello\"}",
                    "application/json");
  });
  server.Post("/v1/decide", [e](const httplib::Request& req, httplib::Response& res) {
    recrules::Decision d;
    std::string out;
    if (e->Decide(req.body, {}, &d).ok()) {
      d.AppendJson(&out);
      res.set_content(out, "application/json");
    } else {
      res.status = 400;
      res.set_content("{\"error\":\"bad\"}", "application/json");
    }
  });
  std::printf("httplib_proto listening\n");
  std::fflush(stdout);
  server.listen("127.0.0.1", std::atoi(argv[1]));
}
