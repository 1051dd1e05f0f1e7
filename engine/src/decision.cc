#include "recrules/decision.h"

#include <cstdio>
#include <cstring>

#include "json.h"
#include "recrules/status.h"

namespace recrules {

const char* EventName(Event e) {
  switch (e) {
    case Event::kAccept:
      return "accept";
    case Event::kUpdate:
      return "update";
    case Event::kPauseRequest:
      return "pause_request";
    case Event::kResumeRequest:
      return "resume_request";
  }
  return "accept";
}

const char* ActionName(Action a) {
  switch (a) {
    case Action::kRecord:
      return "record";
    case Action::kSkip:
      return "skip";
    case Action::kPause:
      return "pause";
  }
  return "record";
}

const char* ModeName(Mode m) {
  return m == Mode::kDualChannel ? "dual-channel" : "conference";
}

const char* ChannelName(Channel c) {
  switch (c) {
    case Channel::kCustomer:
      return "customer";
    case Channel::kWorker:
      return "worker";
    case Channel::kNone:
      return "";
  }
  return "";
}

const char* PauseBehaviorName(PauseBehavior b) {
  return b == PauseBehavior::kSilence ? "silence" : "skip";
}

std::optional<Event> ParseEvent(std::string_view name) {
  if (name == "accept") return Event::kAccept;
  if (name == "update") return Event::kUpdate;
  if (name == "pause_request") return Event::kPauseRequest;
  if (name == "resume_request") return Event::kResumeRequest;
  return std::nullopt;
}

std::optional<Action> ParseAction(std::string_view name) {
  if (name == "record") return Action::kRecord;
  if (name == "skip") return Action::kSkip;
  if (name == "pause") return Action::kPause;
  return std::nullopt;
}

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidInput:
      return "invalid_input";
    case StatusCode::kInvalidPolicy:
      return "invalid_policy";
    case StatusCode::kRuleError:
      return "rule_error";
    case StatusCode::kLimitExceeded:
      return "limit_exceeded";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kInternal:
      return "internal";
  }
  return "internal";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

namespace {

using detail::AppendJsonString;

// ,"key": — the key is a literal, so its length is known at compile time.
template <size_t N>
void AppendKey(std::string* out, const char (&key)[N]) {
  char buf[N + 3];
  buf[0] = ',';
  buf[1] = '"';
  std::memcpy(buf + 2, key, N - 1);
  buf[N + 1] = '"';
  buf[N + 2] = ':';
  out->append(buf, N + 3);
}

// A string, or null when empty.
template <size_t N>
void AppendOptional(std::string* out, const char (&key)[N], std::string_view value) {
  AppendKey(out, key);
  if (value.empty()) {
    out->append("null");
  } else {
    AppendJsonString(out, value);
  }
}

// Microseconds with three decimals ("12.345"), from integer nanoseconds: the same text as
// printf's "%.3f" of ns / 1000.0, without printf's cost.
void AppendMicros(std::string* out, int64_t ns) {
  char buf[32];
  char* end = buf + sizeof buf;
  char* p = end;
  const bool negative = ns < 0;
  uint64_t v = negative ? 0 - uint64_t(ns) : uint64_t(ns);
  for (int i = 0; i < 3; ++i) {
    *--p = char('0' + v % 10);
    v /= 10;
  }
  *--p = '.';
  do {
    *--p = char('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (negative) *--p = '-';
  out->append(p, size_t(end - p));
}

}  // namespace

void Decision::AppendJson(std::string* out) const {
  out->append("{\"id\":");
  AppendJsonString(out, id);
  AppendKey(out, "event");
  AppendJsonString(out, EventName(event));
  AppendKey(out, "action");
  AppendJsonString(out, ActionName(action));
  AppendKey(out, "mode");
  AppendJsonString(out, ModeName(mode));
  AppendOptional(out, "channel", ChannelName(channel));
  AppendKey(out, "conferenceRecord");
  out->append(conference_record ? "true" : "false");
  AppendOptional(out, "pauseBehavior",
                 action == Action::kPause ? PauseBehaviorName(pause_behavior) : "");
  AppendKey(out, "rule");
  AppendJsonString(out, rule);
  AppendKey(out, "reason");
  AppendJsonString(out, reason);
  AppendOptional(out, "matched", matched);
  AppendKey(out, "policy");
  AppendJsonString(out, policy_version);
  AppendOptional(out, "taskSid", task_sid);
  AppendOptional(out, "reservationSid", reservation_sid);
  AppendOptional(out, "callSid", call_sid);
  AppendOptional(out, "conferenceSid", conference_sid);
  AppendKey(out, "latencyUs");
  AppendMicros(out, latency_ns);
  if (!rule_errors.empty()) {
    AppendKey(out, "ruleErrors");
    out->push_back('[');
    for (size_t i = 0; i < rule_errors.size(); ++i) {
      if (i) out->push_back(',');
      AppendJsonString(out, rule_errors[i]);
    }
    out->push_back(']');
  }
  if (!trace.empty()) {
    AppendKey(out, "trace");
    out->push_back('[');
    for (size_t i = 0; i < trace.size(); ++i) {
      const TraceEntry& t = trace[i];
      if (i) out->push_back(',');
      out->append("{\"rule\":");
      AppendJsonString(out, t.rule);
      AppendKey(out, "outcome");
      AppendJsonString(out, t.outcome);
      AppendOptional(out, "reason", t.reason);
      AppendOptional(out, "matched", t.matched);
      AppendKey(out, "us");
      AppendMicros(out, t.elapsed_ns);
      out->push_back('}');
    }
    out->push_back(']');
  }
  out->push_back('}');
}

std::string Decision::ToJson() const {
  std::string out;
  out.reserve(512);
  AppendJson(&out);
  return out;
}

}  // namespace recrules
