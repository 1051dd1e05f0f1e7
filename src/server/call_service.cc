#include "server/call_service.h"

#include <cctype>
#include <charconv>
#include <cstdint>

#include <spdlog/spdlog.h>

#include "server/json_text.h"

namespace recrules::server {

using json = nlohmann::json;

void LogDecision(DecisionLog* log, const std::string& decision_json, std::string_view source,
                 std::string_view extra_fields) {
  if (!log->enabled()) return;
  std::string line;
  line.reserve(decision_json.size() + 96 + extra_fields.size());
  line += "{\"time\":\"";
  AppendNowRfc3339(&line);
  line += "\",\"type\":\"decision\",\"source\":\"";
  line += source;
  line += "\",";
  if (!extra_fields.empty()) {
    line += extra_fields;
    line += ',';
  }
  line.append(decision_json, 1, std::string::npos);
  log->Append(std::move(line));
}

void LogDecision(DecisionLog* log, const std::string& decision_json, std::string_view source,
                 const json& extra) {
  std::string text = DumpJson(extra);
  LogDecision(log, decision_json, source, std::string_view(text).substr(1, text.size() - 2));
}

namespace {

// A positive decimal number, 0 when absent or not one.
int64_t PositiveNumber(const std::string* field) {
  int64_t value = 0;
  if (field == nullptr) return 0;
  auto [end, ec] = std::from_chars(field->data(), field->data() + field->size(), value);
  return ec == std::errc() && end == field->data() + field->size() && value > 0 ? value : 0;
}

// When TaskRouter sent the event, in milliseconds: TimestampMs, else Timestamp (seconds); 0
// when neither is there. Two events within one second are ordered only by TimestampMs.
int64_t EventOrder(const FormFields& form) {
  if (int64_t ms = PositiveNumber(FindField(form, "TimestampMs"))) return ms;
  const int64_t seconds = PositiveNumber(FindField(form, "Timestamp"));
  return seconds > 0 && seconds < INT64_MAX / 1000 ? seconds * 1000 : 0;
}

}  // namespace

CallService::CallService(Engine* engine, Metrics* metrics, DecisionLog* decision_log,
                         RecordingActions* recording, std::unique_ptr<CallStore> calls,
                         ParseLimits limits, Post post)
    : engine_(engine),
      metrics_(metrics),
      decision_log_(decision_log),
      recording_(recording),
      calls_(std::move(calls)),
      limits_(limits),
      post_(std::move(post)) {}

void CallService::RememberDecided(const Decision& decision, std::string_view request_json) {
  calls_->RememberRequest(decision.call_sid, decision.conference_sid, request_json);
}

CallService::EventResult CallService::TaskRouterEvent(const FormFields& form, size_t body_size) {
  EventResult result;
  const std::string* event_type = FindField(form, "EventType");
  if (event_type == nullptr) {
    result.status = Status::InvalidInput("EventType: missing form field");
    return result;
  }
  result.event_type = *event_type;
  if (const std::string* workspace = FindField(form, "WorkspaceSid");
      workspace != nullptr && !workspace->empty()) {
    std::lock_guard<std::mutex> lock(workspace_mu_);
    if (event_workspace_ != *workspace) event_workspace_ = *workspace;
  }
  const std::string* channel = FindField(form, "TaskChannelUniqueName");
  const bool voice = channel != nullptr && *channel == "voice";
  // Limits for the form's JSON fields (TaskAttributes, ...): the transport bounds the body.
  const ParseLimits limits{body_size + 1, limits_.max_depth};
  if (voice && *event_type == "task.updated") return Updated(form, limits, std::move(result));
  if (voice && *event_type == "reservation.accepted") {
    return Accepted(form, limits, std::move(result));
  }
  result.action = "ignored";
  return result;
}

CallService::EventResult CallService::Accepted(const FormFields& form, const ParseLimits& limits,
                                               EventResult result) {
  auto task = Task::FromForm(form, limits);
  if (!task.ok()) {
    result.status = task.status();
    return result;
  }
  const std::string* reservation = FindField(form, "ReservationSid");
  if (reservation != nullptr && !calls_->FirstAccept(*reservation)) {
    LogEventNotActedOn("duplicate_event", result.event_type, task->task_sid(),
                       {{"reservationSid", *reservation}},
                       "reservation.accepted was already handled for this reservation: "
                       "no second decision or recording");
    result.action = "duplicate";
    return result;
  }
  Decision decision;
  Status s = engine_->Decide(Request{Event::kAccept, *task}, {}, &decision);
  if (!s.ok()) {
    if (reservation != nullptr) calls_->ForgetAccept(*reservation);
    result.status = s;
    return result;
  }
  calls_->Remember(*task, &form);
  // The worker's current voice task: a Flex request from this worker on a leg not yet tied to
  // any task (the worker's own, before Flex writes the conference into the task) is decided
  // under it.
  if (const std::string* worker = FindField(form, "WorkerSid");
      worker != nullptr && worker->size() == 34 && worker->rfind("WK", 0) == 0) {
    calls_->Remember(*worker, *task, &form);
  }
  result.decision_json = decision.ToJson();
  metrics_->CountDecision(decision);
  LogDecision(decision_log_, result.decision_json, "taskrouter",
              json{{"eventType", result.event_type}});
  if (recording_ != nullptr && decision.action == Action::kRecord &&
      decision.mode == Mode::kDualChannel) {
    result.recording = "starting";
    // Answer TaskRouter now; the recording starts on a worker.
    post_([this, decision, task = *task, fields = form] {
      // The leg recorded may be the worker's: Flex pauses name that call.
      const std::string leg = recording_->StartDualChannel(decision, task, fields, *calls_);
      calls_->Remember(leg, task, &fields);
      calls_->SetLeg(task.task_sid(), leg);
    });
  }
  return result;
}

// A voice task's attributes changed (a payment IVR began, capture ended): the update event is
// put to the policy, and the recording follows: paused while the decision says pause, resumed
// once it says record again, but only a pause recrules made (an agent's own pause stays).
CallService::EventResult CallService::Updated(const FormFields& form, const ParseLimits& limits,
                                              EventResult result) {
  auto task = Task::FromForm(form, limits);
  if (!task.ok()) {
    result.status = task.status();
    return result;
  }
  Decision decision;
  Status s = engine_->Decide(Request{Event::kUpdate, *task}, {}, &decision);
  if (!s.ok()) {
    result.status = s;
    return result;
  }
  calls_->Remember(*task, &form);
  result.decision_json = decision.ToJson();
  metrics_->CountDecision(decision);
  LogDecision(decision_log_, result.decision_json, "taskrouter",
              json{{"eventType", "task.updated"}});
  result.recording = "unchanged";
  if (recording_ == nullptr || decision.action == Action::kSkip) return result;
  const bool pause = decision.action == Action::kPause;
  switch (calls_->WantPaused(task->task_sid(), pause, EventOrder(form))) {
    case CallStore::Want::kStale: {
      result.recording = "stale";
      const std::string* timestamp = FindField(form, "TimestampMs");
      if (timestamp == nullptr) timestamp = FindField(form, "Timestamp");
      LogEventNotActedOn(
          "stale_event", "task.updated", task->task_sid(),
          {{"decisionId", decision.id}, {"timestamp", timestamp ? *timestamp : std::string()}},
          "task.updated sent before one already applied to this task (out of "
          "order or replayed): the recording is not changed");
      break;
    }
    case CallStore::Want::kAsIs:
      break;
    case CallStore::Want::kRunReconciler:
      result.recording = pause ? "pausing" : "resuming";
      post_([this, decision, task = *task] { Reconcile(decision, task); });
      break;
  }
  return result;
}

void CallService::Reconcile(const Decision& decision, const Task& task) {
  const std::string task_sid(task.task_sid());
  while (std::optional<CallStore::Step> step = calls_->NextStep(task_sid)) {
    std::string changed;
    const bool ok = recording_->ApplyUpdate(decision, task, calls_->LegOf(task_sid), step->pause,
                                            step->paused_sid, &changed);
    calls_->StepDone(task_sid, ok, step->pause ? changed : "");
    if (!ok) break;
  }
}

void CallService::LogEventNotActedOn(const char* type, std::string_view event_type,
                                     std::string_view task_sid, json fields, const char* message) {
  if (!decision_log_->enabled()) return;
  fields["time"] = NowRfc3339();
  fields["type"] = type;
  fields["source"] = "taskrouter";
  fields["eventType"] = event_type;
  fields["taskSid"] = task_sid;
  fields["message"] = message;
  decision_log_->Append(DumpJson(fields));
}

Status CallService::RecordingStatus(const FormFields& form) {
  auto field = [&](const char* name) {
    const std::string* v = FindField(form, name);
    return v ? *v : std::string();
  };
  // SIDs are checked before they reach the server's log (no control characters in it).
  auto sid_like = [](const std::string& sid, const char* prefix) {
    if (sid.size() != 34 || sid.compare(0, 2, prefix) != 0) return false;
    for (char c : sid) {
      if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    }
    return true;
  };
  const std::string recording_sid = field("RecordingSid");
  const std::string status = field("RecordingStatus");
  if (recording_sid.empty()) return Status::InvalidInput("RecordingSid: missing field");
  if (!sid_like(recording_sid, "RE")) {
    return Status::InvalidInput("RecordingSid: expected a recording SID (RE + 32 characters)");
  }
  if (status.empty()) return Status::InvalidInput("RecordingStatus: missing field");
  const std::string call_sid = field("CallSid");
  const std::string conference_sid = field("ConferenceSid");
  if (!call_sid.empty() && !sid_like(call_sid, "CA")) {
    return Status::InvalidInput("CallSid: expected a call SID (CA + 32 characters)");
  }
  if (!conference_sid.empty() && !sid_like(conference_sid, "CF")) {
    return Status::InvalidInput("ConferenceSid: expected a conference SID (CF + 32 characters)");
  }
  // Twilio sends numbers as text; the log carries them as numbers (0 / absent: none).
  auto number = [&](const char* name) -> json {
    const std::string text = field(name);
    if (text.empty() || text.size() > 18 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      return nullptr;
    }
    return std::stoll(text);
  };
  json error_code = number("ErrorCode");
  if (error_code == 0) error_code = nullptr;
  // The task, when recrules knows the call (or its conference).
  std::string task_sid;
  for (const std::string* sid : {&call_sid, &conference_sid}) {
    if (!task_sid.empty() || sid->empty()) continue;
    if (std::optional<Task> task = calls_->Find(*sid)) task_sid = std::string(task->task_sid());
  }
  metrics_->CountRecordingStatus(status);
  if (status == "absent") {
    spdlog::error(
        "Twilio reports recording {} of call {} absent (Twilio error {}): nothing was recorded",
        recording_sid, call_sid.empty() ? conference_sid : call_sid,
        error_code.is_null() ? std::string("not given") : error_code.dump());
  }
  if (!decision_log_->enabled()) return Status::Ok();
  auto opt = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  nlohmann::ordered_json line = {{"time", NowRfc3339()},
                                 {"type", "recording_status"},
                                 {"source", "twilio"},
                                 {"recordingSid", recording_sid},
                                 {"callSid", opt(call_sid)},
                                 {"conferenceSid", opt(conference_sid)},
                                 {"taskSid", opt(task_sid)},
                                 {"status", status},
                                 {"errorCode", error_code},
                                 {"duration", number("RecordingDuration")},
                                 {"recordingSource", opt(field("RecordingSource"))},
                                 {"startTime", opt(field("RecordingStartTime"))},
                                 {"channels", number("RecordingChannels")},
                                 {"track", opt(field("RecordingTrack"))}};
  decision_log_->Append(line.dump(-1, ' ', false, json::error_handler_t::replace));
  return Status::Ok();
}

CallService::FlexCheck CallService::CheckFlex(const FlexRequest& request,
                                              const std::string& identity,
                                              const std::string& worker_sid) {
  FlexCheck check;
  // A call this server has decided on is put to the policy first: a rule may refuse a pause
  // (a line that must be recorded in full) or a recording (an excluded call).
  const std::string& sid = request.on_call() ? request.call_sid : request.conference_sid;
  std::optional<Task> task = calls_->Find(sid);
  if (!task && !worker_sid.empty()) {
    // Compliance first: a leg the worker names while on a voice task recrules decided on is
    // that task's, so an untied leg cannot bypass the policy (a refused pause, say).
    task = calls_->Find(worker_sid);
    if (task) calls_->Remember(sid, *task);
  }
  if (!task) return check;
  const Event event = request.op == FlexOperation::kCreateRecording ? Event::kAccept
                      : request.pause()                             ? Event::kPauseRequest
                                                                    : Event::kResumeRequest;
  Decision& decision = check.decision.emplace();
  check.status = engine_->Decide(Request{event, *task}, {}, &decision);
  if (!check.status.ok()) return check;
  metrics_->CountDecision(decision);
  json extra = {{"operation", FlexOperationName(request.op)}};
  if (!identity.empty()) extra["identity"] = identity;
  LogDecision(decision_log_, decision.ToJson(), "flex", extra);
  const Action grants = request.pause() ? Action::kPause : Action::kRecord;
  if (decision.action != grants) {
    check.refusal = std::string(FlexOperationName(request.op)) +
                    " refused by the policy: " + decision.reason + " (rule " + decision.rule +
                    ", decision " + decision.id + ")";
  }
  return check;
}

HttpResponse CallService::PerformFlex(const FlexRequest& request, const std::string& identity,
                                      const std::optional<Decision>& decision) {
  HttpResponse answer =
      recording_->Flex(request, identity, decision ? &*decision : nullptr, *calls_);
  // The leg the plugin recorded is the one task.updated pauses (the worker's, say).
  if (decision && request.op == FlexOperation::kCreateRecording && answer.status == 200) {
    calls_->SetLeg(decision->task_sid, request.call_sid);
  }
  return answer;
}

HttpResponse CallService::UpdateTaskAttributes(std::string workspace_sid,
                                               const std::string& task_sid,
                                               const nlohmann::ordered_json& update,
                                               const std::string& identity) {
  if (workspace_sid.empty()) {
    std::lock_guard<std::mutex> lock(workspace_mu_);
    workspace_sid = event_workspace_;
  }
  if (workspace_sid.empty()) {
    return FlexFailure(503,
                       "the Flex workspace is not known: set TWILIO_FLEX_WORKSPACE_SID, or send "
                       "TaskRouter events to /v1/taskrouter/events");
  }
  FormFields form;
  HttpResponse answer =
      recording_->UpdateTaskAttributes(workspace_sid, task_sid, update, identity, &form);
  // The task's legs (conference.participants) are tied to it. A task recrules knows from
  // TaskRouter keeps what TaskRouter said (its queue, say): the task fetched from Twilio may
  // say less, and the plugin's write must not change how the policy sees the call.
  if (answer.status == 200) {
    if (auto seen = Task::FromForm(form, limits_); seen.ok()) {
      std::vector<std::string> sids = ParticipantLegs(*seen);
      sids.emplace_back(seen->call_sid());
      sids.emplace_back(seen->conference_sid());
      std::optional<Task> known;
      for (const std::string& sid : sids) {
        if (known) break;
        known = calls_->Find(sid);
        if (known && known->task_sid() != seen->task_sid()) known.reset();
      }
      if (!known) {
        calls_->Remember(*seen, &form);
      } else {
        for (const std::string& sid : sids) {
          std::optional<Task> tied = calls_->Find(sid);
          if (!tied || tied->task_sid() != seen->task_sid()) calls_->Remember(sid, *known);
        }
      }
    }
  }
  return answer;
}

}  // namespace recrules::server
