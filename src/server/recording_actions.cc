#include "server/recording_actions.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

#include "server/json_text.h"

namespace recrules::server {

using json = nlohmann::json;
using twilio::RecordingStatus;
using twilio::TwilioResponse;

namespace {

bool IsSid(const std::string& value, const char* prefix) {
  if (value.size() != 34 || value.compare(0, 2, prefix) != 0) return false;
  for (size_t i = 2; i < value.size(); ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(value[i]))) return false;
  }
  return true;
}

// A Twilio error as the template's functions answer it: Twilio's own status (502 when Twilio did
// not answer) and message, its error code and documentation page, and on create-recording the
// template's comment for 21220.
HttpResponse TwilioErrorAnswer(const TwilioResponse& r, bool create) {
  HttpResponse h;
  h.status = r.http_status >= 400 && r.http_status <= 599 ? r.http_status : 502;
  json body = {
      {"success", false},
      {"message", r.http_status != 0 && !r.message.empty() ? r.message : TwilioFailureMessage(r)}};
  if (r.error_code != 0) body["twilioErrorCode"] = r.error_code;
  if (!r.more_info.empty()) body["twilioDocPage"] = r.more_info;
  if (create && r.error_code == 21220) {
    body["developerComment"] =
        "the call has already ended: it hung up after the reservation was accepted and before "
        "its recording could start";
  }
  h.body = DumpJson(body);
  return h;
}

// A task's attributes from a FetchTask answer (Twilio returns them as a JSON string).
json AttributesOf(const TwilioResponse& r) {
  if (!r.ok || !r.body.is_object() || !r.body.contains("attributes")) return json::object();
  const json& a = r.body["attributes"];
  if (a.is_string()) {
    json parsed = json::parse(a.get<std::string>(), nullptr, false);
    return parsed.is_object() ? parsed : json::object();
  }
  return a.is_object() ? a : json::object();
}

nlohmann::ordered_json OrderedAttributesOf(const TwilioResponse& r) {
  using ordered = nlohmann::ordered_json;
  if (!r.ok || !r.body.is_object() || !r.body.contains("attributes")) return ordered::object();
  const json& a = r.body["attributes"];
  ordered parsed = a.is_string() ? ordered::parse(a.get<std::string>(), nullptr, false)
                                 : ordered::parse(a.dump(), nullptr, false);
  return parsed.is_object() ? parsed : ordered::object();
}

std::string StringAt(const json& j, std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return "";
    at = &(*at)[key];
  }
  return at->is_string() ? at->get<std::string>() : "";
}

// "Tue, 14 Nov 2023 22:13:20 +0000" as seconds since the epoch; nullopt when it is not such a
// date.
std::optional<int64_t> EpochFromRfc2822(const std::string& text) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char weekday[4] = {}, month[4] = {}, sign = 0;
  int day = 0, year = 0, hour = 0, minute = 0, second = 0, offset = 0, used = 0;
  if (std::sscanf(text.c_str(), "%3s, %d %3s %d %d:%d:%d %c%4d%n", weekday, &day, month, &year,
                  &hour, &minute, &second, &sign, &offset, &used) != 9 ||
      size_t(used) != text.size() || (sign != '+' && sign != '-')) {
    return std::nullopt;
  }
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::strcmp(month, kMonths[i]) == 0) mon = i;
  }
  if (mon < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  int64_t t = int64_t(timegm(&tm));
  const int64_t shift = (offset / 100) * 3600 + (offset % 100) * 60;
  return sign == '+' ? t - shift : t + shift;
}

// The same as "2023-11-14T22:13:20.000Z".
std::optional<std::string> IsoFromRfc2822(const std::string& text) {
  std::optional<int64_t> t = EpochFromRfc2822(text);
  if (!t) return std::nullopt;
  std::time_t utc = std::time_t(*t);
  std::tm out{};
  gmtime_r(&utc, &out);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &out);
  return std::string(buf);
}

}  // namespace

json RecordingAsTwilioNode(const json& twilio, bool conference) {
  if (!twilio.is_object()) return twilio;
  // The fields RecordingInstance reads, in its order.
  static const std::pair<const char*, const char*> kCall[] = {
      {"account_sid", "accountSid"},
      {"api_version", "apiVersion"},
      {"call_sid", "callSid"},
      {"conference_sid", "conferenceSid"},
      {"date_created", "dateCreated"},
      {"date_updated", "dateUpdated"},
      {"start_time", "startTime"},
      {"duration", "duration"},
      {"sid", "sid"},
      {"price", "price"},
      {"uri", "uri"},
      {"encryption_details", "encryptionDetails"},
      {"price_unit", "priceUnit"},
      {"status", "status"},
      {"channels", "channels"},
      {"source", "source"},
      {"error_code", "errorCode"},
      {"track", "track"}};
  json out = json::object();
  for (const auto& [from, to] : kCall) {
    if (conference && std::strcmp(from, "track") == 0) continue;
    if (!twilio.contains(from)) continue;
    const json& v = twilio[from];
    const std::string_view name = from;
    if (name.rfind("date_", 0) == 0 || name == "start_time") {
      std::optional<std::string> iso =
          v.is_string() ? IsoFromRfc2822(v.get<std::string>()) : std::nullopt;
      out[to] = iso ? json(*iso) : v;
    } else if ((name == "channels" || name == "error_code") && v.is_string()) {
      // parseInt: "2" is 2; text that is not a number stays as it is.
      char* end = nullptr;
      long n = std::strtol(v.get_ref<const std::string&>().c_str(), &end, 10);
      out[to] = end != v.get_ref<const std::string&>().c_str() ? json(n) : v;
    } else {
      out[to] = v;
    }
  }
  return out;
}

HttpResponse FlexFailure(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = DumpJson({{"success", false}, {"message", message}});
  return r;
}

HttpResponse FlexParameterError(const std::string& message) {
  HttpResponse r;
  r.status = 400;
  r.body = DumpJson({{"data", nullptr}, {"message", message}});
  return r;
}

void LodashMerge(nlohmann::ordered_json& target, const nlohmann::ordered_json& source) {
  if ((source.is_object() && target.is_object()) || (source.is_array() && target.is_array())) {
    if (source.is_object()) {
      for (const auto& [key, value] : source.items()) LodashMerge(target[key], value);
    } else {
      for (size_t i = 0; i < source.size(); ++i) {
        if (i < target.size()) {
          LodashMerge(target[i], source[i]);
        } else {
          target.push_back(source[i]);
        }
      }
    }
    return;
  }
  // lodash merges a source object or array into a fresh one: what is not an object (or an
  // array) on the left is replaced by a copy.
  target = source;
}

std::string TwilioFailureMessage(const TwilioResponse& r) {
  if (r.http_status == 0) return "Twilio could not be reached: " + r.message;
  std::string msg =
      r.message.empty() ? "Twilio answered HTTP " + std::to_string(r.http_status) : r.message;
  if (r.error_code == 21220) {
    return "the call has already ended, so its recording cannot change (Twilio error 21220: " +
           msg + ")";
  }
  if (r.error_code != 0) return "Twilio error " + std::to_string(r.error_code) + ": " + msg;
  return msg;
}

RecordingActions::RecordingActions(twilio::TwilioConfig config, Metrics* metrics,
                                   DecisionLog* decision_log, RecordingActionsOptions options)
    : client_(std::move(config)),
      validator_(client_),
      metrics_(metrics),
      decision_log_(decision_log),
      options_(options) {}

RecordingActions::~RecordingActions() = default;

twilio::TokenValidator::Check RecordingActions::ValidateToken(const std::string& token) {
  twilio::TokenValidator::Check check = validator_.Validate(token);
  if (!check.cached) {
    metrics_->CountTwilioCall("validate_token",
                              check.verdict == twilio::TokenValidator::Verdict::kValid ? "ok"
                              : check.verdict == twilio::TokenValidator::Verdict::kInvalid
                                  ? "invalid"
                                  : "unreachable");
  }
  return check;
}

std::string RecordingActions::CheckSignature(std::string_view url, const FormFields& fields,
                                             std::string_view signature,
                                             std::string_view settings) const {
  const bool shared_key = !settings.empty();
  const std::string& secret =
      shared_key ? client_.config().webhook_shared_key : client_.config().auth_token;
  if (secret.empty()) {
    return shared_key ? "the request is signed with a SharedKey "
                        "(X-Twilio-Webhooks-Signature-Settings), and TWILIO_WEBHOOK_SHARED_KEY "
                        "is not set"
                      : "TWILIO_AUTH_TOKEN is not set to check X-Twilio-Signature";
  }
  std::optional<twilio::SignatureAlgorithm> algorithm =
      twilio::SignatureAlgorithmFromSettings(settings);
  if (!algorithm) {
    return "X-Twilio-Webhooks-Signature-Settings names an algorithm recrules does not know (it "
           "knows HMAC_SHA1 and HMAC_SHA256)";
  }
  if (twilio::ValidTwilioSignature(secret, url, fields, signature, *algorithm)) return "";
  return std::string("X-Twilio-Signature does not match ") + std::string(url) + " and the form" +
         (shared_key ? " (signed with the SharedKey)" : "") + " (behind a proxy, set --public-url)";
}

void RecordingActions::Note(const char* source, const char* operation, const TwilioResponse& r,
                            const std::string& decision_id, const std::string& task_sid,
                            const std::string& reservation_sid, const std::string& call_sid,
                            const std::string& conference_sid, const std::string& recording_sid,
                            const std::string& identity, bool from_store) {
  std::string result = from_store           ? "already_recorded"
                       : r.ok               ? "ok"
                       : r.http_status == 0 ? "unreachable"
                                            : "http_" + std::to_string(r.http_status);
  if (!from_store) metrics_->CountTwilioCall(operation, result);
  if (!r.ok) {
    spdlog::warn("twilio {} failed ({} after {} attempt(s)): {}", operation, result, r.attempts,
                 TwilioFailureMessage(r));
  }
  if (!decision_log_->enabled()) return;
  auto opt = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  nlohmann::ordered_json line = {
      {"time", NowRfc3339()},
      {"type", "recording"},
      {"source", source},
      {"operation", operation},
      {"decisionId", opt(decision_id)},
      {"taskSid", opt(task_sid)},
      {"reservationSid", opt(reservation_sid)},
      {"callSid", opt(call_sid)},
      {"conferenceSid", opt(conference_sid)},
      {"recordingSid", opt(recording_sid)},
      {"identity", opt(identity)},
      {"result", from_store ? "already_recorded"
                 : r.ok     ? "ok"
                            : "error"},
      {"httpStatus", r.http_status},
      {"twilioErrorCode", r.error_code == 0 ? json(nullptr) : json(r.error_code)},
      {"message", r.ok ? json(nullptr) : json(TwilioFailureMessage(r))},
      {"attempts", r.attempts},
      {"latencyMs", r.elapsed_ms}};
  decision_log_->Append(DumpJson(line));
}

const char* FlexOperationName(FlexOperation op) {
  switch (op) {
    case FlexOperation::kCreateRecording:
      return "create_call_recording";
    case FlexOperation::kPauseCallRecording:
      return "pause_call_recording";
    case FlexOperation::kPauseConferenceRecording:
      return "pause_conference_recording";
    case FlexOperation::kResumeCallRecording:
      return "resume_call_recording";
    case FlexOperation::kResumeConferenceRecording:
      return "resume_conference_recording";
  }
  return "";
}

bool FlexRequest::on_call() const {
  return op == FlexOperation::kCreateRecording || op == FlexOperation::kPauseCallRecording ||
         op == FlexOperation::kResumeCallRecording;
}

bool FlexRequest::pause() const {
  return op == FlexOperation::kPauseCallRecording || op == FlexOperation::kPauseConferenceRecording;
}

std::variant<FlexRequest, HttpResponse> ReadFlexRequest(FlexOperation op,
                                                        const FormFields& fields) {
  auto field = [&](const char* name) {
    const std::string* v = FindField(fields, name);
    return v ? *v : std::string();
  };
  FlexRequest request;
  request.op = op;
  const bool on_call = request.on_call();
  const bool pause = request.pause();
  // The call or the conference the operation acts on.
  const char* name = on_call ? "callSid" : "conferenceSid";
  std::string& sid = on_call ? request.call_sid : request.conference_sid;
  sid = field(name);
  if (!IsSid(sid, on_call ? "CA" : "CF")) {
    return FlexParameterError(std::string(name) +
                              (sid.empty() ? ": missing parameter"
                               : on_call   ? ": expected a call SID (CA + 32 hex digits)"
                                           : ": expected a conference SID (CF + 32 hex digits)"));
  }
  if (op != FlexOperation::kCreateRecording) {
    std::string& recording_sid = request.recording_sid;
    recording_sid = field("recordingSid");
    if (recording_sid.empty() && pause) recording_sid = "Twilio.CURRENT";
    if (recording_sid.empty()) return FlexParameterError("recordingSid: missing parameter");
    if (recording_sid != "Twilio.CURRENT" && !IsSid(recording_sid, "RE")) {
      return FlexParameterError(
          "recordingSid: expected a recording SID (RE + 32 hex digits) or "
          "Twilio.CURRENT");
    }
  }
  if (pause) {
    const std::string b = field("pauseBehavior");
    // silence when none is named, as the template's functions default it.
    if (b.empty() || b == "silence") {
      request.behavior = PauseBehavior::kSilence;
    } else if (b == "skip") {
      request.behavior = PauseBehavior::kSkip;
    } else {
      return FlexParameterError("pauseBehavior: expected skip or silence, got \"" + b + "\"");
    }
  }
  return request;
}

TwilioResponse RecordingActions::Send(const FlexRequest& request, const char* source,
                                      const Decision* decision, const std::string& identity,
                                      std::string* recording_sid) {
  const RecordingStatus status =
      request.pause() ? RecordingStatus::kPaused : RecordingStatus::kInProgress;
  TwilioResponse r;
  switch (request.op) {
    case FlexOperation::kCreateRecording:
      r = client_.CreateCallRecording(request.call_sid, options_.recording_status_url);
      break;
    case FlexOperation::kPauseCallRecording:
    case FlexOperation::kResumeCallRecording:
      r = client_.UpdateCallRecording(request.call_sid, request.recording_sid, status,
                                      request.behavior);
      break;
    case FlexOperation::kPauseConferenceRecording:
    case FlexOperation::kResumeConferenceRecording:
      r = client_.UpdateConferenceRecording(request.conference_sid, request.recording_sid, status,
                                            request.behavior);
      break;
  }
  *recording_sid = r.ok ? StringAt(r.body, {"sid"}) : "";
  if (recording_sid->empty()) *recording_sid = request.recording_sid;
  const std::string none;
  Note(source, FlexOperationName(request.op), r, decision ? decision->id : none,
       decision ? decision->task_sid : none, decision ? decision->reservation_sid : none,
       request.call_sid, request.conference_sid, *recording_sid, identity);
  return r;
}

TwilioResponse RecordingActions::RecordLegOnce(const std::string& leg, const char* source,
                                               const Decision* decision,
                                               const std::string& identity,
                                               const std::string& conference_sid, CallStore& calls,
                                               bool* existing) {
  const std::string none;
  const std::string decision_id = decision ? decision->id : none;
  const std::string task_sid = decision ? decision->task_sid : none;
  const std::string reservation_sid = decision ? decision->reservation_sid : none;
  const auto wait = std::chrono::milliseconds(options_.claim_wait_ms);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  *existing = false;
  for (;;) {
    CallStore::Claim claim = calls.ClaimLeg(leg, wait);
    if (claim.state == CallStore::Claim::State::kRecorded) {
      *existing = true;
      TwilioResponse r;
      r.ok = true;
      r.http_status = 200;
      r.body = json::parse(claim.recording.twilio_json, nullptr, false);
      if (!r.body.is_object()) r.body = json{{"sid", claim.recording.sid}, {"call_sid", leg}};
      Note(source, "create_call_recording", r, decision_id, task_sid, reservation_sid, leg,
           conference_sid, claim.recording.sid, identity, true);
      return r;
    }
    if (claim.state == CallStore::Claim::State::kPending) {
      if (std::chrono::steady_clock::now() >= deadline) {
        TwilioResponse r;
        r.http_status = 503;
        r.message =
            "a recording of call " + leg + " is being started by another request: ask again";
        return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    TwilioResponse r = client_.CreateCallRecording(leg, options_.recording_status_url);
    const std::string recording_sid = r.ok ? StringAt(r.body, {"sid"}) : "";
    if (r.ok && !recording_sid.empty()) {
      calls.LegRecorded(leg, LegRecording{recording_sid, source, DumpJson(r.body)});
    } else {
      calls.ReleaseLeg(leg);
    }
    Note(source, "create_call_recording", r, decision_id, task_sid, reservation_sid, leg,
         conference_sid, recording_sid, identity);
    return r;
  }
}

HttpResponse RecordingActions::Flex(FlexRequest request, const std::string& identity,
                                    const Decision* decision, CallStore& calls) {
  // The policy, when it was consulted, says how a pause sounds (include_silence, or a rule).
  if (request.pause() && decision != nullptr) request.behavior = decision->pause_behavior;
  TwilioResponse r;
  bool existing = false;
  if (request.op == FlexOperation::kCreateRecording) {
    r = RecordLegOnce(request.call_sid, "flex", decision, identity, "", calls, &existing);
  } else {
    std::string recording_sid;
    r = Send(request, "flex", decision, identity, &recording_sid);
  }
  // Twilio's own status, as the template's functions pass it (400 for 21220, 404 for 20404).
  if (!r.ok) return TwilioErrorAnswer(r, request.op == FlexOperation::kCreateRecording);
  const bool conference = request.op == FlexOperation::kPauseConferenceRecording ||
                          request.op == FlexOperation::kResumeConferenceRecording;
  // {recording, success}, as the template answers (its message is undefined on success). A
  // recording recrules already had is noted in the decision log ("already_recorded").
  HttpResponse answer;
  answer.body =
      DumpJson({{"recording", RecordingAsTwilioNode(r.body, conference)}, {"success", true}});
  return answer;
}

std::string RecordingActions::StartDualChannel(const Decision& decision, const Task& task,
                                               const FormFields& fields, CallStore& calls) {
  const std::string* workspace = FindField(fields, "WorkspaceSid");
  const std::string workspace_sid = workspace ? *workspace : "";
  const std::string customer_leg(task.call_sid());
  std::string conference_sid(task.conference_sid());
  std::string leg;
  if (decision.channel == Channel::kWorker) {
    // The worker's leg joins the task's conference (named after the task SID) shortly after
    // the accept: look at the task's attributes, then at the conference's participants.
    json attributes = json::parse(task.AttributesJson(), nullptr, false);
    for (int attempt = 0; attempt < options_.worker_leg_attempts && leg.empty(); ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.worker_leg_interval_ms));
        if (!workspace_sid.empty()) {
          TwilioResponse t = client_.FetchTask(workspace_sid, decision.task_sid);
          if (!t.ok)
            metrics_->CountTwilioCall("fetch_task", "http_" + std::to_string(t.http_status));
          else
            metrics_->CountTwilioCall("fetch_task", "ok");
          if (t.ok) attributes = AttributesOf(t);
        }
      }
      leg = StringAt(attributes, {"conference", "participants", "worker"});
      if (!leg.empty()) break;
      std::string conf = StringAt(attributes, {"conference", "sid"});
      if (!conf.empty()) conference_sid = conf;
      if (conference_sid.empty()) continue;
      TwilioResponse p = client_.ListConferenceParticipants(conference_sid);
      metrics_->CountTwilioCall("list_participants",
                                p.ok ? "ok" : "http_" + std::to_string(p.http_status));
      if (!p.ok || !p.body.contains("participants") || !p.body["participants"].is_array()) continue;
      std::string fallback;
      for (const json& participant : p.body["participants"]) {
        std::string sid = StringAt(participant, {"call_sid"});
        std::string label = StringAt(participant, {"label"});
        if (sid.empty() || sid == customer_leg || label == "customer") continue;
        if (label == "worker") {
          leg = sid;
          break;
        }
        if (fallback.empty()) fallback = sid;
      }
      if (leg.empty()) leg = fallback;
    }
  } else {
    leg = customer_leg;
  }
  if (leg.empty()) {
    TwilioResponse none;
    none.message = decision.channel == Channel::kWorker
                       ? "the worker's call leg was not found in the task's conference"
                       : "the task has no call_sid attribute (the customer's call leg)";
    Note("taskrouter", "create_call_recording", none, decision.id, decision.task_sid,
         decision.reservation_sid, "", conference_sid, "", "");
    return "";
  }
  bool existing = false;
  TwilioResponse r =
      RecordLegOnce(leg, "taskrouter", &decision, "", conference_sid, calls, &existing);
  if (!r.ok) return "";
  // Whoever started it wrote its media link (the plugin does after create-recording).
  if (existing || workspace_sid.empty()) return leg;
  const std::string recording_sid = StringAt(r.body, {"sid"});
  // As the template writes it: one second before the accept (Flex Insights drops a recording
  // that starts after the reservation was accepted). The accept's time is the event's; else
  // the recording's start.
  int64_t accepted_ms = 0;
  if (const std::string* ms = FindField(fields, "TimestampMs"))
    accepted_ms = std::atoll(ms->c_str());
  if (accepted_ms <= 0) {
    if (const std::string* sec = FindField(fields, "Timestamp")) {
      accepted_ms = std::atoll(sec->c_str()) * 1000;
    }
  }
  if (accepted_ms <= 0) {
    std::optional<int64_t> start = EpochFromRfc2822(StringAt(r.body, {"start_time"}));
    if (!start) start = EpochFromRfc2822(StringAt(r.body, {"date_created"}));
    accepted_ms = start ? *start * 1000
                        : std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  }
  MergeMediaAttributes(decision, workspace_sid, recording_sid, accepted_ms - 1000, leg);
  return leg;
}

bool RecordingActions::ApplyUpdate(const Decision& decision, const Task& task,
                                   const std::string& leg, bool pause,
                                   const std::string& paused_sid, std::string* recording_sid) {
  FlexRequest request;
  const char* missing = nullptr;
  if (decision.mode == Mode::kDualChannel) {
    request.op = pause ? FlexOperation::kPauseCallRecording : FlexOperation::kResumeCallRecording;
    request.call_sid = leg.empty() ? std::string(task.call_sid()) : leg;
    if (request.call_sid.empty())
      missing = "the task has no call_sid attribute (the recorded call leg)";
  } else {
    request.op = pause ? FlexOperation::kPauseConferenceRecording
                       : FlexOperation::kResumeConferenceRecording;
    request.conference_sid = std::string(task.conference_sid());
    if (request.conference_sid.empty())
      missing = "the task has no conference.sid attribute (the recorded conference)";
  }
  request.recording_sid = pause || paused_sid.empty() ? "Twilio.CURRENT" : paused_sid;
  if (pause) request.behavior = decision.pause_behavior;
  if (missing != nullptr) {
    TwilioResponse none;
    none.message = missing;
    *recording_sid = request.recording_sid;
    Note("taskrouter", FlexOperationName(request.op), none, decision.id, decision.task_sid,
         decision.reservation_sid, request.call_sid, request.conference_sid, *recording_sid, "");
    return false;
  }
  return Send(request, "taskrouter", &decision, "", recording_sid).ok;
}

HttpResponse RecordingActions::UpdateTaskAttributes(const std::string& workspace_sid,
                                                    const std::string& task_sid,
                                                    const nlohmann::ordered_json& update,
                                                    const std::string& identity,
                                                    FormFields* task_form) {
  const std::string none;
  for (int attempt = 0;; ++attempt) {
    TwilioResponse fetched = client_.FetchTask(workspace_sid, task_sid);
    Note("flex", "fetch_task", fetched, none, task_sid, none, none, none, none, identity);
    if (!fetched.ok) return TwilioErrorAnswer(fetched, false);
    // In the order the task has them, new members after, as the template writes them.
    nlohmann::ordered_json attributes = OrderedAttributesOf(fetched);
    LodashMerge(attributes, update);
    const std::string text = attributes.dump();
    TwilioResponse updated =
        client_.UpdateTaskAttributes(workspace_sid, task_sid, text, fetched.etag);
    Note("flex", "update_task_attributes", updated, none, task_sid, none, none, none, none,
         identity);
    if (updated.ok) {
      if (task_form != nullptr) {
        const json& t = fetched.body;
        *task_form = {{"WorkspaceSid", workspace_sid},
                      {"TaskSid", task_sid},
                      {"TaskAttributes", text},
                      {"TaskQueueName", StringAt(t, {"task_queue_friendly_name"})},
                      {"TaskQueueSid", StringAt(t, {"task_queue_sid"})},
                      {"TaskChannelUniqueName", StringAt(t, {"task_channel_unique_name"})}};
      }
      HttpResponse answer;
      answer.body = R"({"success":true})";
      return answer;
    }
    if (updated.http_status != 412 || attempt == 2) return TwilioErrorAnswer(updated, false);
  }
}

bool RecordingActions::MergeMediaAttributes(const Decision& decision,
                                            const std::string& workspace_sid,
                                            const std::string& recording_sid, int64_t start_ms,
                                            const std::string& call_sid) {
  const auto& config = client_.config();
  json media = json::array({{{"url", options_.media_url + "/2010-04-01/Accounts/" +
                                         config.account_sid + "/Recordings/" + recording_sid},
                             {"type", "VoiceRecording"},
                             {"start_time", start_ms},
                             {"channels", json::array({"customer", "others"})}}});
  // Fetch, merge, write back; a conditional write that lost a race starts over.
  for (int attempt = 0; attempt < 3; ++attempt) {
    TwilioResponse fetched = client_.FetchTask(workspace_sid, decision.task_sid);
    Note("taskrouter", "fetch_task", fetched, decision.id, decision.task_sid,
         decision.reservation_sid, call_sid, decision.conference_sid, recording_sid, "");
    if (!fetched.ok) return false;
    json attributes = AttributesOf(fetched);
    if (decision.channel == Channel::kWorker) {
      json& reservation = attributes["reservation_attributes"][decision.reservation_sid];
      if (!reservation.is_object()) reservation = json::object();
      reservation["media"] = media;
    } else {
      json& conversations = attributes["conversations"];
      if (!conversations.is_object()) conversations = json::object();
      conversations["media"] = media;
    }
    TwilioResponse updated = client_.UpdateTaskAttributes(workspace_sid, decision.task_sid,
                                                          DumpJson(attributes), fetched.etag);
    Note("taskrouter", "update_task_attributes", updated, decision.id, decision.task_sid,
         decision.reservation_sid, call_sid, decision.conference_sid, recording_sid, "");
    if (updated.ok) return true;
    if (updated.http_status != 412) return false;
  }
  return false;
}

}  // namespace recrules::server
