// recrules serve: the HTTP adapter. Signals are handled on the main thread (sigwait), never in
// a signal handler: SIGHUP reloads the policy, SIGTERM and SIGINT drain and exit 0.
#include <signal.h>
#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "recrules/engine.h"
#include "server/access.h"
#include "server/decision_log.h"
#include "server/http_adapter.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/recording_actions.h"
#include "twilio/twilio_client.h"

namespace recrules::cli {

namespace {

struct ServeArgs {
  std::string policy;
  std::string listen = "127.0.0.1:8080";
  int threads = 2;
  int workers = 4;
  std::string decision_log = "-";
  uint64_t decision_log_max_bytes = 100ull << 20;
  int decision_log_keep = 5;
  size_t max_body = 1 << 20;
  size_t max_header = 16 << 10;
  size_t max_depth = 64;
  int idle_timeout_s = 75;
  int request_timeout_s = 30;
  std::string public_url;
  std::vector<std::string> cors_origins = {"https://flex.twilio.com"};
  bool no_watch = false;
  int shutdown_grace_ms = 10000;
  size_t known_calls = 10000;
  std::string state_file;
  std::string max_connections = "auto";
};

// Descriptors kept back from --max-connections auto: the decision log and its rotation, the
// state file and its rewrite, policy files on reload, Twilio's connections (one per worker).
constexpr size_t kReservedDescriptors = 128;

// "auto": the open-file limit less what the server needs besides connections; "0": no cap.
bool ParseMaxConnections(const std::string& text, size_t* out) {
  if (text == "auto") {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
      *out = 0;
      return true;
    }
    *out = limit.rlim_cur > 2 * kReservedDescriptors ? limit.rlim_cur - kReservedDescriptors
                                                     : limit.rlim_cur / 2;
    return true;
  }
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *out = size_t(std::stoul(text));
  return true;
}

// "127.0.0.1:8080", "[::1]:8080", "localhost:0" -> host, port.
bool SplitListen(const std::string& text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return false;
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (*host == "localhost") *host = "127.0.0.1";
  const std::string digits = text.substr(colon + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 5) {
    return false;
  }
  int p = std::atoi(digits.c_str());
  if (p > 65535 || host->empty()) return false;
  *port = uint16_t(p);
  return true;
}

int Run(const ServeArgs& args) {
  server::HttpServerOptions http;
  if (!SplitListen(args.listen, &http.host, &http.port)) {
    PrintError("serve", "--listen " + args.listen + ": expected HOST:PORT, e.g. 127.0.0.1:8080");
    return kExitBadInput;
  }
  http.io_threads = args.threads;
  http.max_body_bytes = args.max_body;
  http.max_header_bytes = args.max_header;
  http.idle_timeout = std::chrono::seconds(args.idle_timeout_s);
  http.request_timeout = std::chrono::seconds(args.request_timeout_s);
  if (!ParseMaxConnections(args.max_connections, &http.max_connections)) {
    PrintError("serve", "--max-connections " + args.max_connections +
                            ": expected a number of connections, 0 (no cap) or auto");
    return kExitBadInput;
  }

  server::AccessConfig access;
  if (const char* tokens = std::getenv("RECRULES_API_TOKENS")) {
    auto parsed = server::ParseApiTokens(tokens);
    if (!parsed.ok()) {
      PrintError("serve", parsed.status().message());
      return kExitBadInput;
    }
    access.api_tokens = std::move(*parsed);
  }
  access.cors_origins = args.cors_origins;
  auto twilio_config = twilio::TwilioConfig::FromEnvironment();
  if (!twilio_config.ok()) {
    PrintError("serve", twilio_config.status().message());
    return kExitBadInput;
  }
  access.flex_tokens = twilio_config->has_credentials();
  access.twilio_signatures =
      !twilio_config->auth_token.empty() || !twilio_config->webhook_shared_key.empty();
  if (Status s = server::CheckAccessForListen(access, http.host); !s.ok()) {
    PrintError("serve", s.message());
    return kExitBadInput;
  }

  // Block the signals before any thread starts, so that every thread inherits the mask and
  // only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a reader of the decision log on stdout went away

  EngineOptions engine_options;
  engine_options.watch_policy = !args.no_watch;
  engine_options.parse_limits.max_bytes = args.max_body;
  engine_options.parse_limits.max_depth = args.max_depth;
  auto engine = Engine::Open(args.policy, engine_options);
  if (!engine.ok()) {
    PrintError("serve", engine.status().message());
    return kExitBadInput;
  }

  server::DecisionLogOptions log_options;
  log_options.path = args.decision_log;
  log_options.max_file_bytes = args.decision_log_max_bytes;
  log_options.keep_files = args.decision_log_keep;
  auto decision_log = server::DecisionLog::Open(log_options);
  if (!decision_log.ok()) {
    PrintError("serve", decision_log.status().message());
    return kExitBadInput;
  }

  server::Metrics metrics;
  server::AdapterOptions adapter_options;
  adapter_options.public_url = args.public_url;
  while (!adapter_options.public_url.empty() && adapter_options.public_url.back() == '/') {
    adapter_options.public_url.pop_back();
  }
  adapter_options.worker_threads = args.workers;
  adapter_options.parse_limits = engine_options.parse_limits;
  adapter_options.known_calls = args.known_calls;
  server::RecordingActionsOptions recording_options;
  if (const char* media = std::getenv("RECRULES_TWILIO_MEDIA_URL"); media && *media) {
    std::string url = media;
    if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
      PrintError("serve", "RECRULES_TWILIO_MEDIA_URL must start with http:// or https:// (got \"" +
                              url + "\")");
      return kExitBadInput;
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
    recording_options.media_url = url;
  }
  if (const char* workspace = std::getenv("TWILIO_FLEX_WORKSPACE_SID")) {
    recording_options.workspace_sid = workspace;
  }
  // Twilio posts the status of the recordings recrules starts to the public URL; without one
  // recrules cannot say where it is reached, and does not ask.
  if (!adapter_options.public_url.empty()) {
    recording_options.recording_status_url =
        adapter_options.public_url + "/v1/twilio/recording-status";
  }
  std::unique_ptr<server::RecordingActions> recording;
  if (twilio_config->has_credentials()) {
    recording = std::make_unique<server::RecordingActions>(*twilio_config, &metrics,
                                                           decision_log->get(), recording_options);
  }
  server::HttpAdapter adapter(engine->get(), &metrics, decision_log->get(), access, adapter_options,
                              recording.get());
  if (Status s = adapter.OpenStateFile(args.state_file); !s.ok()) {
    PrintError("serve", s.message());
    return kExitBadInput;
  }
  server::HttpServer http_server(
      http, [&adapter](server::Exchange ex) { adapter.Handle(std::move(ex)); },
      [&adapter](const server::HttpRequest& req, const server::HttpResponse& res,
                 std::chrono::steady_clock::duration elapsed) {
        adapter.Observe(req, res, elapsed);
      });
  if (Status s = http_server.Listen(); !s.ok()) {
    PrintError("serve", s.message());
    return kExitBadInput;
  }
  http_server.Start();
  if (recording) {
    spdlog::info("Twilio: account {}, API {}; Flex tokens {}, webhook signatures {}",
                 twilio_config->account_sid, twilio_config->api_url,
                 access.flex_tokens ? "required" : "off",
                 access.twilio_signatures ? "checked" : "not checked (no TWILIO_AUTH_TOKEN)");
    if (recording_options.recording_status_url.empty()) {
      spdlog::warn(
          "no --public-url: recordings are started without status callbacks, so an absent "
          "recording is not reported (recrules audit still finds it)");
    }
  }
  if (access.open()) {
    spdlog::warn(
        "no authentication configured (no Twilio credentials, no RECRULES_API_TOKENS): "
        "every route is open; this is allowed on a loopback address only");
  }
  spdlog::info("recrules serve listening on {}:{} (policy {}, version {}, {} I/O threads, {})",
               http.host, http_server.port(), args.policy, (*engine)->PolicyVersion(), args.threads,
               http.max_connections == 0
                   ? std::string("no connection cap")
                   : "at most " + std::to_string(http.max_connections) + " connections");

  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      adapter.Post([e = engine->get()] { e->Reload("signal"); });
      continue;
    }
    spdlog::info("{} received: draining connections", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  http_server.Drain(std::chrono::milliseconds(args.shutdown_grace_ms));
  adapter.StopWorkers();
  (*decision_log)->Close();
  spdlog::info("recrules serve stopped ({} decision log lines written)",
               (*decision_log)->lines_written());
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve decisions over HTTP: /v1/decide, the Flex recording endpoints, TaskRouter "
      "callbacks, /metrics, /healthz, /v1/policy, /v1/admin/reload");
  cmd->add_option("--policy,-p", args->policy, "Policy folder or policy.json")->required();
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "I/O threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--workers", args->workers,
                  "Worker threads for blocking work: Twilio recording calls, reloads (Flex token "
                  "checks have threads of their own)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--decision-log", args->decision_log,
                  "Decision log: a file (appended, rotated by size) or '-' for stdout")
      ->capture_default_str();
  cmd->add_option("--decision-log-max-bytes", args->decision_log_max_bytes,
                  "Rotate the decision log file when it would grow past this size (0: never)")
      ->capture_default_str();
  cmd->add_option("--decision-log-keep", args->decision_log_keep,
                  "Rotated decision log files to keep (FILE.1 ... FILE.N)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--max-body", args->max_body, "Largest request body in bytes (larger: 413)")
      ->check(CLI::Range(size_t(1), size_t(1) << 30))
      ->capture_default_str();
  cmd->add_option("--max-header-bytes", args->max_header,
                  "Largest request header block in bytes (larger: 431)")
      ->check(CLI::Range(size_t(256), size_t(1) << 20))
      ->capture_default_str();
  cmd->add_option("--max-depth", args->max_depth, "Deepest JSON nesting accepted (deeper: 400)")
      ->check(CLI::Range(size_t(2), size_t(1024)))
      ->capture_default_str();
  cmd->add_option("--idle-timeout", args->idle_timeout_s,
                  "Seconds a keep-alive connection may wait for its next request")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--request-timeout", args->request_timeout_s,
                  "Seconds a request's body may take to arrive after its headers, and its "
                  "response to be written")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--public-url", args->public_url,
                  "The base URL Twilio calls (https://host[:port]); X-Twilio-Signature covers "
                  "it. Default: http://<Host header>");
  cmd->add_option("--cors-origin", args->cors_origins,
                  "Allowed CORS origin (repeat for several; '*' for any)")
      ->capture_default_str();
  cmd->add_option("--known-calls", args->known_calls,
                  "Call and conference SIDs remembered with their tasks, so that the Flex "
                  "recording endpoints ask the policy first (0: never ask)")
      ->check(CLI::Range(size_t(0), size_t(1000000)))
      ->capture_default_str();
  cmd->add_option("--state-file", args->state_file,
                  "Keep the known calls and the pause states of recordings recrules paused in "
                  "this file, so that they outlive a restart (default: kept in memory only)");
  cmd->add_option("--max-connections", args->max_connections,
                  "Connections open at once; past it a new one is answered 503 and closed. "
                  "auto: the open-file limit less 128; 0: no cap")
      ->capture_default_str();
  cmd->add_flag("--no-watch", args->no_watch, "Do not watch the policy folder for changes");
  cmd->add_option("--shutdown-grace-ms", args->shutdown_grace_ms,
                  "On SIGTERM, how long requests in flight may take before connections close")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  cmd->callback([args, exit_code] { *exit_code = Run(*args); });
}

}  // namespace recrules::cli
