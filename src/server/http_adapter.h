// The routes of `recrules serve`: decisions, policy status and reload, metrics, health, the Flex
// template's endpoints and the TaskRouter event callback. It sits between the transport
// (HttpServer) and the engine and the call service (CallService, which decides and acts on
// calls): it routes, authenticates, checks CORS, parses, and maps results to HTTP.
//
// Threading: Handle runs on I/O threads and answers fast requests (decide, health, metrics,
// policy) there; anything that blocks (reloads, Twilio calls, Flex token checks) runs on the
// adapter's worker pool. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "recrules/engine.h"
#include "server/access.h"
#include "server/decision_log.h"
#include "server/http_server.h"
#include "server/metrics.h"

namespace recrules::server {

class RecordingActions;

struct AdapterOptions {
  // The URL Twilio calls, without a trailing slash (e.g. https://recrules.example.com): the
  // X-Twilio-Signature covers it, and behind a proxy the Host header differs. Empty: built from
  // the request's Host header as http://<host>.
  std::string public_url;
  int worker_threads = 4;
  // The engine's limits, for requests the adapter parses itself.
  ParseLimits parse_limits;
  // How many call and conference SIDs to remember with their tasks, so that the Flex
  // template's recording endpoints ask the policy first (MemoryCallStore). 0: never ask. Only
  // used when Twilio is configured.
  size_t known_calls = 10000;
};

class HttpAdapter {
 public:
  // All pointers must outlive the adapter. `recording` may be null (no Twilio credentials):
  // the Flex endpoints then answer 503 and TaskRouter events are decided and logged only.
  HttpAdapter(Engine* engine, Metrics* metrics, DecisionLog* decision_log, AccessConfig access,
              AdapterOptions options, RecordingActions* recording);
  ~HttpAdapter();
  HttpAdapter(const HttpAdapter&) = delete;
  HttpAdapter& operator=(const HttpAdapter&) = delete;

  void Handle(Exchange exchange);
  void Observe(const HttpRequest& request, const HttpResponse& response,
               std::chrono::steady_clock::duration elapsed);

  // Runs `job` on the worker pool (used for SIGHUP reloads as well).
  void Post(std::function<void()> job);
  // Waits for queued and running worker jobs to finish, then stops the pool, and writes out
  // what is queued for the state file.
  void StopWorkers();
  // Keeps the known calls and the pause states of recordings in `path` across restarts
  // (CallStore::OpenStateFile). Before the first request; a no-op without known calls.
  Status OpenStateFile(const std::string& path);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// {"error":{"code":"...","message":"..."}}
std::string ErrorBody(std::string_view code, std::string_view message);
// HTTP status for a Status from the engine or a parser.
int HttpStatusFor(const Status& status);

}  // namespace recrules::server
