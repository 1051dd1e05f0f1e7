// What the engine answers: record, skip or pause a call, how, and why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace recrules {

// The moment in a call's life at which the engine is asked.
enum class Event {
  kAccept,         // before the agent accepts the reservation: record or skip, and how
  kUpdate,         // task attributes changed mid-call: may pause or resume
  kPauseRequest,   // the agent pressed pause: "pause" grants it, "record" refuses it
  kResumeRequest,  // the agent pressed resume: "record" grants it, "pause" refuses it
};

enum class Action { kRecord, kSkip, kPause };

// How the call is recorded: the conference recording Flex starts natively
// (conferenceOptions.conferenceRecord), or a dual-channel recording of one call leg.
enum class Mode { kConference, kDualChannel };

// For dual-channel: which leg is recorded.
enum class Channel { kNone, kCustomer, kWorker };

// Twilio's PauseBehavior for a paused recording.
enum class PauseBehavior { kSkip, kSilence };

// Stable wire names ("accept", "pause_request", "record", "dual-channel", ...).
const char* EventName(Event e);
const char* ActionName(Action a);
const char* ModeName(Mode m);
const char* ChannelName(Channel c);  // "" for kNone
const char* PauseBehaviorName(PauseBehavior b);
std::optional<Event> ParseEvent(std::string_view name);
std::optional<Action> ParseAction(std::string_view name);

// One rule's answer, recorded when a decision is explained.
struct TraceEntry {
  std::string rule;     // "builtin:exclusions", "consent.lua", ...
  std::string outcome;  // "record" | "skip" | "pause" | "pass" | "error" | "not_applicable"
  std::string reason;   // the rule's words, or the error message
  std::string matched;  // the configuration entry that matched, when there is one
  int64_t elapsed_ns = 0;
};

// A decision. Plain data: copyable, owns its strings. Engine::Decide writes into a caller's
// Decision so that a caller deciding in a loop reuses the string buffers.
struct Decision {
  std::string id;  // unique per decision, for the decision log
  Event event = Event::kAccept;
  Action action = Action::kRecord;
  Mode mode = Mode::kConference;
  Channel channel = Channel::kNone;  // set when mode is dual-channel
  // The boolean the Flex plugin assigns to payload.conferenceOptions.conferenceRecord.
  bool conference_record = false;
  PauseBehavior pause_behavior = PauseBehavior::kSkip;  // meaningful when action is pause
  std::string rule;                                     // the rule that decided, or "default"
  std::string reason;   // human words: which queue, attribute or rule logic
  std::string matched;  // e.g. "features.conditional_recording.exclude_queues[1]"; may be empty
  std::string policy_version;
  // Identifiers of the call, echoed so a decision log line stands on its own.
  std::string task_sid;
  std::string reservation_sid;
  std::string call_sid;
  std::string conference_sid;
  int64_t latency_ns = 0;
  std::vector<TraceEntry> trace;         // filled only when explain was requested
  std::vector<std::string> rule_errors;  // "rule:line: message" for each rule that failed

  // One line of JSON (no trailing newline). The trace is included when it is not empty.
  std::string ToJson() const;
  void AppendJson(std::string* out) const;
};

}  // namespace recrules
