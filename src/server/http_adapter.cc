#include "server/http_adapter.h"

#include <utility>  // Boost 1.74 Asio uses std::exchange without including <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "server/call_service.h"
#include "server/form.h"
#include "server/json_text.h"
#include "server/memory_call_store.h"
#include "server/recording_actions.h"
#include "server/token_checks.h"

namespace recrules::server {

using json = nlohmann::json;

std::string ErrorBody(std::string_view code, std::string_view message) {
  json body = {{"error", {{"code", code}, {"message", message}}}};
  return DumpJson(body);
}

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidInput:
    case StatusCode::kLimitExceeded:  // nesting too deep; oversized bodies stop in the transport
      return 400;
    case StatusCode::kInvalidPolicy:
      return 422;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kRuleError:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

namespace {

enum class RouteId {
  kHealth,
  kMetrics,
  kDecide,
  kPolicy,
  kReload,
  kTaskRouterEvents,
  kRecordingStatus,
  kCreateRecording,
  kPauseCallRecording,
  kPauseConferenceRecording,
  kResumeCallRecording,
  kResumeConferenceRecording,
  kUpdateTaskAttributes,
};

// Who may call a route.
enum class Guard {
  kOpen,     // anyone (health, metrics)
  kCaller,   // a static API token or a Flex user token, unless access is open
  kWebhook,  // Twilio, proven by X-Twilio-Signature
};

struct Route {
  std::string_view path;
  RouteId id;
  std::string_view method;  // every route answers one method (and OPTIONS for CORS)
  Guard guard;
  bool flex_shape;  // errors use the Flex template's response shape
};

constexpr Route kRoutes[] = {
    {"/healthz", RouteId::kHealth, "GET", Guard::kOpen, false},
    {"/metrics", RouteId::kMetrics, "GET", Guard::kOpen, false},
    {"/v1/decide", RouteId::kDecide, "POST", Guard::kCaller, false},
    {"/v1/policy", RouteId::kPolicy, "GET", Guard::kCaller, false},
    {"/v1/admin/reload", RouteId::kReload, "POST", Guard::kCaller, false},
    {"/v1/taskrouter/events", RouteId::kTaskRouterEvents, "POST", Guard::kWebhook, false},
    {"/v1/twilio/recording-status", RouteId::kRecordingStatus, "POST", Guard::kWebhook, false},
    {"/features/dual-channel-recording/flex/create-recording", RouteId::kCreateRecording, "POST",
     Guard::kCaller, true},
    {"/features/pause-recording/flex/pause-call-recording", RouteId::kPauseCallRecording, "POST",
     Guard::kCaller, true},
    {"/features/pause-recording/flex/pause-conference-recording",
     RouteId::kPauseConferenceRecording, "POST", Guard::kCaller, true},
    {"/features/pause-recording/flex/resume-call-recording", RouteId::kResumeCallRecording, "POST",
     Guard::kCaller, true},
    {"/features/pause-recording/flex/resume-conference-recording",
     RouteId::kResumeConferenceRecording, "POST", Guard::kCaller, true},
    {"/common/flex/taskrouter/update-task-attributes", RouteId::kUpdateTaskAttributes, "POST",
     Guard::kCaller, true},
};

const Route* FindRoute(std::string_view path) {
  for (const Route& r : kRoutes) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

bool Truthy(const std::string* v) {
  return v != nullptr && (*v == "true" || *v == "1" || *v == "yes" || v->empty());
}

HttpResponse NoTwilioCredentials() {
  return FlexFailure(503,
                     "Twilio credentials are not configured: set TWILIO_ACCOUNT_SID and "
                     "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)");
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The parameters of a Flex endpoint, merged as Twilio Functions merge them into one event: the
// body's fields (a form, or a JSON object's members: strings as they are, anything else as
// its JSON text), then the query string's. The first of a name wins (FindField).
Result<FormFields> FlexParameters(const HttpRequest& req, size_t max_depth) {
  FormFields fields;
  std::string_view type = req.Header("content-type");
  if (type.substr(0, 16) == "application/json") {
    json body;
    try {
      body = json::parse(req.body, [max_depth](int depth, json::parse_event_t, json&) {
        if (size_t(depth) > max_depth) throw std::length_error("nested too deep");
        return true;
      });
    } catch (const std::exception& e) {
      return Status::InvalidInput(std::string("request body: malformed JSON: ") + e.what());
    }
    if (!body.is_object()) {
      return Status::InvalidInput("request body: expected a JSON object of parameters");
    }
    for (const auto& [name, value] : body.items()) {
      fields.emplace_back(name, value.is_string() ? value.get<std::string>() : DumpJson(value));
    }
  } else {
    auto form = ParseForm(req.body);
    if (!form.ok()) return form.status();
    fields = std::move(*form);
  }
  if (!req.query().empty()) {
    auto query = ParseForm(req.query());
    if (!query.ok()) return query.status();
    fields.insert(fields.end(), query->begin(), query->end());
  }
  return fields;
}

}  // namespace

struct HttpAdapter::Impl {
  Engine* engine;
  Metrics* metrics;
  DecisionLog* decision_log;
  AccessConfig access;
  AdapterOptions options;
  RecordingActions* recording;
  boost::asio::thread_pool workers;
  // Flex token checks, apart from the workers: a flood of them while Twilio is slow is answered
  // 503 instead of holding up reloads and recordings. More threads than the validator lets ask
  // Twilio at once, so that cached tokens are answered meanwhile.
  TokenChecks token_checks{twilio::TokenValidator::kMaxTwilioChecks + 2, 64};
  int reload_listener = 0;
  // The calls: TaskRouter events and Flex recording requests, with what is known about them.
  CallService service;

  Impl(Engine* e, Metrics* m, DecisionLog* d, AccessConfig a, AdapterOptions o, RecordingActions* r)
      : engine(e),
        metrics(m),
        decision_log(d),
        access(std::move(a)),
        options(std::move(o)),
        recording(r),
        workers(size_t(std::max(1, options.worker_threads))),
        service(e, m, d, r,
                std::make_unique<MemoryCallStore>(r != nullptr ? options.known_calls : 0,
                                                  options.parse_limits),
                options.parse_limits,
                [this](std::function<void()> job) { boost::asio::post(workers, std::move(job)); }) {
  }

  // Adds the CORS headers the request's Origin is entitled to, and sends.
  void Reply(Exchange& ex, HttpResponse r, const Route* route) {
    r.route = route ? std::string(route->path) : "unmatched";
    std::string allowed = AllowedOrigin(access, ex.request().Header("origin"));
    if (!allowed.empty()) {
      r.headers.emplace_back("Access-Control-Allow-Origin", allowed);
      r.headers.emplace_back("Vary", "Origin");
    }
    ex.Reply(std::move(r));
  }

  void ReplyError(Exchange& ex, const Route* route, int status, std::string_view code,
                  std::string_view message) {
    HttpResponse r;
    r.status = status;
    if (route != nullptr && route->flex_shape) {
      // A request that cannot be read is a parameter error, as the template answers it.
      r.body = status == 400 ? FlexParameterError(std::string(message)).body
                             : FlexFailure(status, std::string(message)).body;
    } else {
      r.body = ErrorBody(code, message);
    }
    if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
    Reply(ex, std::move(r), route);
  }

  void ReplyStatus(Exchange& ex, const Route* route, const Status& s) {
    ReplyError(ex, route, HttpStatusFor(s), StatusCodeName(s.code()), s.message());
  }

  void Handle(Exchange ex);
  void Preflight(Exchange& ex, const Route& route);
  void Dispatch(Exchange ex, const Route& route, const twilio::FlexIdentity& caller);
  // The same, with the form already parsed (a webhook's, for its signature): parsed once.
  void Dispatch(Exchange ex, const Route& route, const twilio::FlexIdentity& caller,
                FormFields form);
  void Decide(Exchange& ex, const Route& route);
  void Policy(Exchange& ex, const Route& route);
  void TaskRouterEvent(Exchange& ex, const Route& route, const FormFields& form);
  void RecordingStatus(Exchange& ex, const Route& route, const FormFields& form);
  void FlexRecording(Exchange& ex, const Route& route, const twilio::FlexIdentity& caller);
  void UpdateTaskAttributes(Exchange& ex, const Route& route, const twilio::FlexIdentity& caller);
};

void HttpAdapter::Impl::Handle(Exchange ex) {
  const HttpRequest& req = ex.request();
  const Route* route = FindRoute(req.path());
  if (route == nullptr) {
    return ReplyError(ex, nullptr, 404, "not_found", "no route for " + std::string(req.path()));
  }
  // A browser that may not read the answer must not cause an action: it would report a
  // network error, and the template's ApiService would retry ten times.
  if (std::string_view origin = req.Header("origin");
      !origin.empty() && AllowedOrigin(access, origin).empty()) {
    return ReplyError(ex, route, 403, "forbidden",
                      "Origin " + std::string(origin) +
                          " is not allowed: add it with --cors-origin (nothing was done)");
  }
  if (req.method == "OPTIONS") return Preflight(ex, *route);
  if (req.method != route->method) {
    HttpResponse r;
    r.status = 405;
    r.body =
        ErrorBody("method_not_allowed", std::string(route->path) + " accepts " +
                                            std::string(route->method) + ", not " + req.method);
    r.headers.emplace_back("Allow", std::string(route->method) + ", OPTIONS");
    return Reply(ex, std::move(r), route);
  }

  // Two credentials in one request are ambiguous (which one did a proxy check?): refused.
  for (std::string_view name : {"authorization", "x-twilio-signature"}) {
    int count = 0;
    for (const auto& header : req.headers) count += header.first == name;
    if (count > 1) {
      return ReplyError(ex, route, 400, "bad_request",
                        name == "authorization" ? "more than one Authorization header"
                                                : "more than one X-Twilio-Signature header");
    }
  }
  if (route->guard == Guard::kCaller && !access.open()) {
    std::string_view bearer = BearerToken(req.Header("authorization"));
    if (!IsApiToken(access, bearer)) {
      std::string token(bearer);
      if (token.empty() && route->flex_shape) {
        // The Flex template sends its token as the form field Token.
        auto form = FlexParameters(req, options.parse_limits.max_depth);
        if (!form.ok()) return ReplyStatus(ex, route, form.status());
        if (const std::string* t = FindField(*form, "Token")) token = *t;
      }
      if (token.empty() && route->flex_shape) {
        // As the template's token validator answers.
        return ReplyError(ex, route, 403, "forbidden",
                          "Unauthorized: Token was not provided (send the form field Token or "
                          "Authorization: Bearer <token>)");
      }
      if (token.empty()) {
        return ReplyError(ex, route, 401, "unauthorized",
                          access.flex_tokens
                              ? "missing token: send Authorization: Bearer <token> or the form "
                                "field Token"
                              : "missing Authorization: Bearer token");
      }
      if (!access.flex_tokens || recording == nullptr) {
        return ReplyError(ex, route, 403, "forbidden", "the bearer token is not valid");
      }
      // A Flex user token is checked with Twilio (cached); that may block: token-check threads.
      auto shared = std::make_shared<Exchange>(std::move(ex));
      bool posted = token_checks.TryPost([this, shared, route, token = std::move(token)] {
        twilio::TokenValidator::Check check = recording->ValidateToken(token);
        switch (check.verdict) {
          case twilio::TokenValidator::Verdict::kValid:
            return Dispatch(std::move(*shared), *route, check.identity);
          case twilio::TokenValidator::Verdict::kInvalid:
            return ReplyError(*shared, route, 403, "forbidden",
                              "the Flex token is not valid: " + check.message);
          case twilio::TokenValidator::Verdict::kUnavailable:
            return ReplyError(*shared, route, 503, "unavailable",
                              "the Flex token could not be checked with Twilio: " + check.message);
        }
      });
      if (!posted) {
        ReplyError(*shared, route, 503, "unavailable",
                   "too many Flex token checks in progress: retry shortly");
      }
      return;
    }
  }
  if (route->guard == Guard::kWebhook && !access.open()) {
    if (access.twilio_signatures && recording != nullptr) {
      auto form = ParseForm(req.body);
      if (!form.ok()) return ReplyStatus(ex, route, form.status());
      std::string url = options.public_url.empty()
                            ? "http://" + std::string(req.Header("host")) + req.target
                            : options.public_url + req.target;
      std::string_view signature = req.Header("x-twilio-signature");
      if (signature.empty()) {
        return ReplyError(ex, route, 403, "forbidden", "missing X-Twilio-Signature");
      }
      std::string wrong = recording->CheckSignature(
          url, *form, signature, req.Header("x-twilio-webhooks-signature-settings"));
      if (!wrong.empty()) return ReplyError(ex, route, 403, "forbidden", wrong);
      return Dispatch(std::move(ex), *route, {}, std::move(*form));
    } else if (!IsApiToken(access, BearerToken(req.Header("authorization")))) {
      return ReplyError(ex, route, 403, "forbidden",
                        "Twilio callbacks need X-Twilio-Signature, and TWILIO_AUTH_TOKEN is "
                        "not set to check it; send a static API token instead");
    }
  }
  Dispatch(std::move(ex), *route, {});
}

void HttpAdapter::Impl::Preflight(Exchange& ex, const Route& route) {
  const HttpRequest& req = ex.request();
  HttpResponse r;
  r.status = 204;
  r.content_type = {};
  std::string allowed = AllowedOrigin(access, req.Header("origin"));
  if (!allowed.empty()) {
    r.headers.emplace_back("Access-Control-Allow-Origin", allowed);
    r.headers.emplace_back("Access-Control-Allow-Methods", std::string(route.method) + ", OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers",
                           "Authorization, Content-Type, X-Requested-With");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
  }
  r.headers.emplace_back("Vary", "Origin");
  r.route = "preflight";
  ex.Reply(std::move(r));
}

void HttpAdapter::Impl::Dispatch(Exchange ex, const Route& route,
                                 const twilio::FlexIdentity& caller) {
  switch (route.id) {
    case RouteId::kHealth: {
      json body = {{"status", "ok"}, {"policy", engine->PolicyVersion()}};
      return Reply(ex, JsonResponse(200, DumpJson(body)), &route);
    }
    case RouteId::kMetrics: {
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = metrics->Render(engine->PolicyVersion());
      return Reply(ex, std::move(r), &route);
    }
    case RouteId::kDecide:
      return Decide(ex, route);
    case RouteId::kPolicy:
      return Policy(ex, route);
    case RouteId::kReload: {
      // A reload compiles the whole policy and runs its rule tests: not on an I/O thread.
      auto shared = std::make_shared<Exchange>(std::move(ex));
      boost::asio::post(workers, [this, shared, &route] {
        ReloadResult result = engine->Reload("api");
        std::string body = "{";
        if (!result.ok) {
          json error = {{"code", "invalid_policy"}, {"message", result.error}};
          body += "\"error\":" + DumpJson(error) + ",";
        }
        body += "\"reload\":";
        result.AppendJson(&body);
        body += "}";
        Reply(*shared, JsonResponse(result.ok ? 200 : 422, std::move(body)), &route);
      });
      return;
    }
    case RouteId::kTaskRouterEvents: {
      auto form = ParseForm(ex.request().body);
      if (!form.ok()) return ReplyStatus(ex, &route, form.status());
      return TaskRouterEvent(ex, route, *form);
    }
    case RouteId::kRecordingStatus: {
      auto form = ParseForm(ex.request().body);
      if (!form.ok()) return ReplyStatus(ex, &route, form.status());
      return RecordingStatus(ex, route, *form);
    }
    case RouteId::kCreateRecording:
    case RouteId::kPauseCallRecording:
    case RouteId::kPauseConferenceRecording:
    case RouteId::kResumeCallRecording:
    case RouteId::kResumeConferenceRecording:
      return FlexRecording(ex, route, caller);
    case RouteId::kUpdateTaskAttributes:
      return UpdateTaskAttributes(ex, route, caller);
  }
}

void HttpAdapter::Impl::Dispatch(Exchange ex, const Route& route,
                                 const twilio::FlexIdentity& caller, FormFields form) {
  if (route.id == RouteId::kTaskRouterEvents) return TaskRouterEvent(ex, route, form);
  if (route.id == RouteId::kRecordingStatus) return RecordingStatus(ex, route, form);
  Dispatch(std::move(ex), route, caller);
}

void HttpAdapter::Impl::Decide(Exchange& ex, const Route& route) {
  const HttpRequest& req = ex.request();
  DecideOptions options;
  if (!req.query().empty()) {
    auto query = ParseForm(req.query());
    if (!query.ok()) return ReplyStatus(ex, &route, query.status());
    options.explain = Truthy(FindField(*query, "explain"));
  }
  thread_local Decision decision;  // reused: its strings keep their buffers
  Status s = engine->Decide(req.body, options, &decision);
  if (!s.ok()) return ReplyStatus(ex, &route, s);
  // So that a later Flex recording request on this call can be decided.
  service.RememberDecided(decision, req.body);
  HttpResponse r;
  r.body.reserve(512);
  decision.AppendJson(&r.body);
  metrics->CountDecision(decision);
  LogDecision(decision_log, r.body, "api", std::string_view());
  Reply(ex, std::move(r), &route);
}

// {"time":...,"type":"decision","source":...,<extra>,<the decision's own fields>}
void HttpAdapter::Impl::Policy(Exchange& ex, const Route& route) {
  // The engine's writer: the same shape as recrules_policy_info in the C API.
  Reply(ex, JsonResponse(200, engine->Info().ToJson()), &route);
}

void HttpAdapter::Impl::TaskRouterEvent(Exchange& ex, const Route& route, const FormFields& form) {
  CallService::EventResult result = service.TaskRouterEvent(form, ex.request().body.size());
  if (!result.status.ok()) return ReplyStatus(ex, &route, result.status);
  std::string body = DumpJson(json{{"received", true}, {"eventType", result.event_type}});
  body.pop_back();  // the closing brace
  if (result.decision_json.empty()) {
    body += ",\"action\":\"";
    body += result.action;
    body += '"';
    if (std::string_view(result.action) == "duplicate") body += ",\"recording\":\"not_started\"";
  } else {
    body += ",\"decision\":";
    body += result.decision_json;  // the engine's own JSON, as it is
    body += ",\"recording\":\"";
    body += result.recording;
    body += '"';
  }
  body += '}';
  Reply(ex, JsonResponse(200, std::move(body)), &route);
}

// Twilio retries a callback that fails: answered at once (a log line and a counter, no Twilio
// call), 200 with an empty JSON object.
void HttpAdapter::Impl::RecordingStatus(Exchange& ex, const Route& route, const FormFields& form) {
  Status s = service.RecordingStatus(form);
  if (!s.ok()) return ReplyStatus(ex, &route, s);
  Reply(ex, JsonResponse(200, R"({"received":true})"), &route);
}

// A voice task's attributes changed (a payment IVR began, capture ended): the update event is
// put to the policy, and the recording follows: paused while the decision says pause, resumed
// once it says record again, but only a pause recrules made (an agent's own pause stays).
// On a worker: Twilio calls until the recording is as the latest decision wants.
void HttpAdapter::Impl::FlexRecording(Exchange& ex, const Route& route,
                                      const twilio::FlexIdentity& caller) {
  auto form = FlexParameters(ex.request(), options.parse_limits.max_depth);
  if (!form.ok()) return ReplyStatus(ex, &route, form.status());
  if (recording == nullptr) {
    return Reply(ex, NoTwilioCredentials(), &route);
  }
  FlexOperation op = FlexOperation::kCreateRecording;
  switch (route.id) {
    case RouteId::kPauseCallRecording:
      op = FlexOperation::kPauseCallRecording;
      break;
    case RouteId::kPauseConferenceRecording:
      op = FlexOperation::kPauseConferenceRecording;
      break;
    case RouteId::kResumeCallRecording:
      op = FlexOperation::kResumeCallRecording;
      break;
    case RouteId::kResumeConferenceRecording:
      op = FlexOperation::kResumeConferenceRecording;
      break;
    default:
      break;
  }
  auto read = ReadFlexRequest(op, *form);
  if (auto* bad = std::get_if<HttpResponse>(&read)) return Reply(ex, std::move(*bad), &route);
  FlexRequest request = std::get<FlexRequest>(std::move(read));
  CallService::FlexCheck check = service.CheckFlex(request, caller.identity, caller.worker_sid);
  if (!check.status.ok()) return ReplyStatus(ex, &route, check.status);
  if (!check.refusal.empty()) {
    return Reply(ex, FlexFailure(409, check.refusal), &route);
  }
  // Twilio calls block: worker pool (this may already be a worker, after a token check).
  auto shared = std::make_shared<Exchange>(std::move(ex));
  boost::asio::post(workers, [this, shared, &route, request = std::move(request),
                              identity = caller.identity, decision = std::move(check.decision)] {
    Reply(*shared, service.PerformFlex(request, identity, decision), &route);
  });
}

void HttpAdapter::Impl::UpdateTaskAttributes(Exchange& ex, const Route& route,
                                             const twilio::FlexIdentity& caller) {
  auto params = FlexParameters(ex.request(), options.parse_limits.max_depth);
  if (!params.ok()) return ReplyStatus(ex, &route, params.status());
  auto bad = [&](std::string message) { Reply(ex, FlexParameterError(message), &route); };
  const std::string* task_sid = FindField(*params, "taskSid");
  const std::string* update_text = FindField(*params, "attributesUpdate");
  if (task_sid == nullptr || task_sid->empty()) return bad("taskSid: missing parameter");
  if (task_sid->size() != 34 || task_sid->rfind("WT", 0) != 0) {
    return bad("taskSid: expected a task SID (WT + 32 characters)");
  }
  if (update_text == nullptr || update_text->empty()) {
    return bad("attributesUpdate: missing parameter");
  }
  // Ordered: new members are added to the task's attributes in the order sent.
  nlohmann::ordered_json update = nlohmann::ordered_json::parse(*update_text, nullptr, false);
  if (!update.is_object()) return bad("attributesUpdate: expected a JSON object");
  if (recording == nullptr) {
    return Reply(ex, NoTwilioCredentials(), &route);
  }
  auto shared = std::make_shared<Exchange>(std::move(ex));
  boost::asio::post(workers, [this, shared, &route, task = *task_sid, update = std::move(update),
                              identity = caller.identity] {
    Reply(*shared,
          service.UpdateTaskAttributes(recording->options().workspace_sid, task, update, identity),
          &route);
  });
}

HttpAdapter::HttpAdapter(Engine* engine, Metrics* metrics, DecisionLog* decision_log,
                         AccessConfig access, AdapterOptions options, RecordingActions* recording)
    : impl_(std::make_unique<Impl>(engine, metrics, decision_log, std::move(access),
                                   std::move(options), recording)) {
  impl_->reload_listener =
      engine->Subscribe([m = metrics](const ReloadResult& r) { m->CountReload(r); });
}

HttpAdapter::~HttpAdapter() {
  impl_->engine->Unsubscribe(impl_->reload_listener);
  StopWorkers();
}

void HttpAdapter::Handle(Exchange exchange) {
  impl_->Handle(std::move(exchange));
}

void HttpAdapter::Observe(const HttpRequest&, const HttpResponse& response,
                          std::chrono::steady_clock::duration elapsed) {
  impl_->metrics->CountHttp(response.route, response.status,
                            std::chrono::duration<double>(elapsed).count());
}

void HttpAdapter::Post(std::function<void()> job) {
  boost::asio::post(impl_->workers, std::move(job));
}

void HttpAdapter::StopWorkers() {
  impl_->token_checks.Join();  // first: a check that passes posts to the workers
  impl_->workers.join();
  impl_->service.calls().Close();
}

Status HttpAdapter::OpenStateFile(const std::string& path) {
  if (!path.empty() && !impl_->service.calls().enabled()) {
    spdlog::warn(
        "--state-file {}: not used: no calls are kept without Twilio credentials, or "
        "with --known-calls 0",
        path);
  }
  return impl_->service.calls().OpenStateFile(path);
}

}  // namespace recrules::server
