#include "call_history.h"

#include <algorithm>
#include <climits>
#include <tuple>
#include <unordered_set>

namespace recrules::cli {

using json = nlohmann::json;

const char* SidKind(const std::string& sid) {
  if (!IsTwilioSid(sid)) return "";
  const std::string_view prefix(sid.data(), 2);
  if (prefix == "CA") return "call";
  if (prefix == "CF") return "conference";
  if (prefix == "WT") return "task";
  if (prefix == "WR") return "reservation";
  if (prefix == "RE") return "recording";
  return "";
}

namespace {

void CollectSids(const json& value, std::vector<std::string>* out) {
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (*SidKind(s) != '\0') out->push_back(s);
  } else if (value.is_array()) {
    for (const json& v : value) CollectSids(v, out);
  } else if (value.is_object()) {
    for (const auto& [key, v] : value.items()) {
      // Words and the rule trace may quote a SID without being about it.
      if (key == "trace" || key == "ruleErrors" || key == "message" || key == "reason") continue;
      CollectSids(v, out);
    }
  }
}

// A field as text for the words; control characters (a terminal's escape sequences, line
// breaks) become spaces: the words are printed to a terminal.
std::string Str(const json& line, const char* key) {
  auto it = line.find(key);
  if (it == line.end() || it->is_null()) return "";
  std::string text = it->is_string() ? it->get<std::string>() : it->dump();
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return text;
}

// An integer field; 0 when absent, not a number, or out of range (a float past long long's
// range would be undefined to convert).
long long Int(const json& line, const char* key) {
  auto it = line.find(key);
  if (it == line.end()) return 0;
  if (it->is_number_integer() && !it->is_number_unsigned()) return it->get<long long>();
  if (it->is_number_unsigned()) {
    const auto v = it->get<unsigned long long>();
    return v <= static_cast<unsigned long long>(LLONG_MAX) ? static_cast<long long>(v) : 0;
  }
  if (it->is_number_float()) {
    const double v = it->get<double>();
    return v > -9.2e18 && v < 9.2e18 ? static_cast<long long>(v) : 0;
  }
  return 0;
}

// "task WT…, reservation WR…, call CA…, conference CF…": the SIDs a line names.
std::string Names(const json& line) {
  std::string out;
  const std::pair<const char*, const char*> kNames[] = {{"taskSid", "task"},
                                                        {"reservationSid", "reservation"},
                                                        {"callSid", "call"},
                                                        {"conferenceSid", "conference"},
                                                        {"recordingSid", "recording"}};
  for (const auto& [key, name] : kNames) {
    std::string sid = Str(line, key);
    if (sid.empty()) continue;
    if (!out.empty()) out += ", ";
    out += std::string(name) + " " + sid;
  }
  return out;
}

std::string Plural(long long n, const char* one) {
  return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
}

std::string OperationWords(const std::string& op, const json& line) {
  const std::string call = Str(line, "callSid");
  const std::string conference = Str(line, "conferenceSid");
  std::string recording = Str(line, "recordingSid");
  if (recording == "Twilio.CURRENT") recording = "the current recording";
  if (recording.empty()) recording = "the recording";
  if (op == "create_call_recording") {
    return "start a dual-channel recording of call " + (call.empty() ? "(none found)" : call);
  }
  if (op == "pause_call_recording") return "pause " + recording + " of call " + call;
  if (op == "resume_call_recording") return "resume " + recording + " of call " + call;
  if (op == "pause_conference_recording")
    return "pause " + recording + " of conference " + conference;
  if (op == "resume_conference_recording") {
    return "resume " + recording + " of conference " + conference;
  }
  if (op == "fetch_task") return "read task " + Str(line, "taskSid") + " (its attributes)";
  if (op == "update_task_attributes") {
    return "write the recording's media link into task " + Str(line, "taskSid") +
           "'s attributes (for Flex Insights)";
  }
  return op.empty() ? "(no operation named)" : op;
}

// A decision's action and how, in words.
std::string ActionWords(const json& line) {
  const std::string action = Str(line, "action");
  const std::string mode = Str(line, "mode");
  if (action == "record") {
    if (mode == "dual-channel") {
      const std::string channel = Str(line, "channel");
      return "record, a dual-channel recording of the " +
             (channel.empty() ? std::string("call") : channel + "'s") + " leg";
    }
    return "record (the conference recording Flex starts: conferenceRecord " +
           Str(line, "conferenceRecord") + ")";
  }
  if (action == "skip") {
    return mode == "conference"
               ? "do not record (conferenceRecord " + Str(line, "conferenceRecord") + ")"
               : "do not record";
  }
  if (action == "pause") {
    const std::string behavior = Str(line, "pauseBehavior");
    if (behavior.empty()) return "pause the recording";
    return behavior == "silence" ? "pause the recording (silence is kept in its place)"
                                 : "pause the recording (the pause is cut out)";
  }
  return action.empty() ? "(no action)" : action;
}

// What a Flex template endpoint asks for, in words.
std::string FlexAsk(const std::string& op, const std::string& event) {
  if (op == "create_call_recording") return "start a dual-channel recording";
  if (op == "pause_call_recording") return "pause the call recording";
  if (op == "resume_call_recording") return "resume the call recording";
  if (op == "pause_conference_recording") return "pause the conference recording";
  if (op == "resume_conference_recording") return "resume the conference recording";
  return op.empty() ? event : op;
}

std::string DecisionWords(const json& line) {
  const std::string source = Str(line, "source");
  const std::string event = Str(line, "event");
  const std::string event_type = Str(line, "eventType");
  const std::string op = Str(line, "operation");
  const std::string action = Str(line, "action");
  std::string out;
  if (source == "taskrouter" && event_type == "reservation.accepted") {
    const std::string reservation = Str(line, "reservationSid");
    out = "TaskRouter: " +
          (reservation.empty() ? std::string("a reservation") : "reservation " + reservation) +
          " accepted";
  } else if (source == "taskrouter" && event_type == "task.updated") {
    out = "TaskRouter: task " + Str(line, "taskSid") + " updated (its attributes changed)";
  } else if (source == "taskrouter") {
    out = "TaskRouter: " + (event_type.empty() ? event : event_type);
  } else if (source == "flex") {
    const std::string identity = Str(line, "identity");
    out = "Flex plugin" + (identity.empty() ? std::string() : " (user " + identity + ")") +
          " asked to " + FlexAsk(op, event) + "; the policy was asked first";
  } else if (source == "api") {
    out = "API /v1/decide: asked about the " + event + " event";
  } else {
    out = (source.empty() ? std::string("decision") : source) + ": " + event;
  }
  out += "\n    decided: ";
  if (source == "flex" && !op.empty()) {
    // The policy's answer to a plugin's request: granted, or refused with a 409.
    const bool pause_op = op.rfind("pause", 0) == 0;
    const bool granted = pause_op ? action == "pause" : action == "record";
    if (granted) {
      out += "granted: " + ActionWords(line);
    } else {
      out += "refused (HTTP 409 to the plugin; Twilio is not asked): ";
      out += pause_op                     ? "the recording goes on"
             : op.rfind("resume", 0) == 0 ? "the recording stays paused"
                                          : "the call is not recorded";
    }
  } else {
    out += ActionWords(line);
  }
  const std::string matched = Str(line, "matched");
  out += "\n    rule: " + Str(line, "rule");
  if (!matched.empty()) out += " (matched " + matched + ")";
  out += "\n    why: " + Str(line, "reason");
  if (auto errors = line.find("ruleErrors"); errors != line.end() && errors->is_array()) {
    for (const json& e : *errors) {
      out += "\n    rule error: " + (e.is_string() ? e.get<std::string>() : e.dump());
    }
  }
  out += "\n    policy: " + Str(line, "policy") + ", decision " + Str(line, "id");
  const std::string names = Names(line);
  if (!names.empty()) out += "\n    on: " + names;
  return out;
}

std::string RecordingWords(const json& line) {
  const std::string source = Str(line, "source");
  const std::string op = Str(line, "operation");
  const std::string decision = Str(line, "decisionId");
  const std::string identity = Str(line, "identity");
  std::string out;
  if (source == "flex") {
    out = "Flex plugin" + (identity.empty() ? std::string() : " (user " + identity + ")") +
          ": recrules asked Twilio to " + OperationWords(op, line);
  } else {
    out = "recrules asked Twilio to " + OperationWords(op, line);
  }
  out += decision.empty() ? std::string(" (no decision of the policy was needed)")
                          : " (as decision " + decision + " says)";
  const std::string result = Str(line, "result");
  const std::string message = Str(line, "message");
  const long long status = Int(line, "httpStatus");
  const long long attempts = Int(line, "attempts");
  const long long latency = Int(line, "latencyMs");
  std::string recording = Str(line, "recordingSid");
  if (recording == "Twilio.CURRENT") recording.clear();
  out += "\n    ";
  if (result == "ok") {
    out += "Twilio answered: done (HTTP " + std::to_string(status);
    if (!recording.empty() && op.find("recording") != std::string::npos) {
      out += ", recording " + recording;
    }
    out += ", " + Plural(attempts, "attempt") + ", " + std::to_string(latency) + " ms)";
  } else if (result == "already_recorded") {
    out += "not sent: the leg already has recording " + recording +
           " (one recording per leg; the first one's answer is given again)";
  } else if (attempts == 0 && status == 0) {
    out += "not sent: " + (message.empty() ? std::string("no reason given") : message);
  } else if (status == 0) {
    out += "no answer from Twilio after " + Plural(attempts, "attempt") + ": " + message;
  } else {
    out += "Twilio answered: HTTP " + std::to_string(status);
    if (const std::string code = Str(line, "twilioErrorCode"); !code.empty()) {
      out += ", error " + code;
    }
    if (!message.empty()) out += ": " + message;
    out += " (" + Plural(attempts, "attempt") + ", " + std::to_string(latency) + " ms)";
  }
  return out;
}

// A recording status callback from Twilio (in-progress, completed, absent).
std::string RecordingStatusWords(const json& line) {
  std::string status = Str(line, "status");
  if (status.empty()) status = Str(line, "recordingStatus");
  std::string out = "Twilio reported: recording " + Str(line, "recordingSid");
  if (const std::string call = Str(line, "callSid"); !call.empty()) out += " of call " + call;
  if (const std::string conf = Str(line, "conferenceSid"); !conf.empty()) {
    out += " of conference " + conf;
  }
  out += " is " + (status.empty() ? std::string("(no status)") : status);
  std::string code;
  for (const char* key : {"errorCode", "twilioErrorCode", "error_code"}) {
    if (code.empty()) code = Str(line, key);
  }
  if (!code.empty() && code != "0") out += " (Twilio error " + code + ")";
  if (const std::string source = Str(line, "recordingSource"); !source.empty()) {
    out += "\n    started by: " + source;
  }
  return out;
}

}  // namespace

std::vector<std::string> LinkedSids(const json& line) {
  std::vector<std::string> out;
  CollectSids(line, &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string DescribeLogLine(const json& line) {
  const std::string type = Str(line, "type");
  if (type == "decision") return DecisionWords(line);
  if (type == "recording") return RecordingWords(line);
  if (type == "recording_status") return RecordingStatusWords(line);
  if (type == "duplicate_event" || type == "stale_event") {
    std::string out =
        "TaskRouter: " + Str(line, "eventType") + " not acted on: " + Str(line, "message");
    if (const std::string ts = Str(line, "timestamp"); !ts.empty()) {
      out += "\n    sent at: " + ts + " (TaskRouter's Timestamp)";
    }
    if (const std::string d = Str(line, "decisionId"); !d.empty()) out += "\n    decision " + d;
    const std::string names = Names(line);
    if (!names.empty()) out += "\n    on: " + names;
    return out;
  }
  // A line of a kind this version does not know: its fields as they are.
  json rest = line;
  rest.erase("time");
  rest.erase("type");
  return (type.empty() ? std::string("a line without a type") : type) + ": " + rest.dump();
}

CallHistory FindCallHistory(const DecisionLogReader& reader, const std::string& sid) {
  CallHistory history;
  history.sids.insert(sid);
  struct Taken {
    size_t file, offset;
    json fields;        // when it parsed
    std::string error;  // when it did not
  };
  std::vector<Taken> taken;
  std::unordered_set<uint64_t> seen;  // (file, offset) of the lines taken
  std::vector<std::string> pending = {sid};
  while (!pending.empty()) {
    ++history.passes;
    std::vector<std::string> next;
    reader.FindLines(pending, [&](const DecisionLogReader::Line& l) {
      if (!seen.insert(uint64_t(l.file) << 48 | l.offset).second) return;
      Taken t{l.file, l.offset, {}, {}};
      if (std::optional<json> fields = ParseLogLine(l.text, &t.error)) {
        for (std::string& s : LinkedSids(*fields)) {
          if (history.sids.insert(s).second) next.push_back(std::move(s));
        }
        t.fields = std::move(*fields);
      }
      taken.push_back(std::move(t));
    });
    pending = std::move(next);
  }
  // In log order, so that line numbers are counted in one sweep per file.
  std::sort(taken.begin(), taken.end(), [](const Taken& a, const Taken& b) {
    return std::tie(a.file, a.offset) < std::tie(b.file, b.offset);
  });
  for (Taken& t : taken) {
    const size_t line = reader.LineNumber(t.file, t.offset);
    if (!t.error.empty()) {
      history.skipped.push_back({reader.file_name(t.file), line, std::move(t.error)});
      continue;
    }
    CallHistory::Entry e;
    e.time = Str(t.fields, "time");
    e.file = reader.file_name(t.file);
    e.line = line;
    e.words = DescribeLogLine(t.fields);
    e.fields = std::move(t.fields);
    history.entries.push_back(std::move(e));
  }
  // By time; lines of one millisecond stay in log order (files oldest first).
  std::stable_sort(
      history.entries.begin(), history.entries.end(),
      [](const CallHistory::Entry& a, const CallHistory::Entry& b) { return a.time < b.time; });
  return history;
}

}  // namespace recrules::cli
