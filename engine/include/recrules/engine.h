// The recrules engine: a loaded policy that answers decisions, and reloads while running.
//
// Thread safety: every method of Engine may be called from any number of threads at once.
// Decide never blocks on a reload: it runs on the policy that was current when it started, and
// a decision never sees a mix of two policy versions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recrules/decision.h"
#include "recrules/status.h"
#include "recrules/task.h"

namespace recrules {

struct EngineOptions {
  // Watch the policy folder and reload, debounced, when a file in it changes.
  bool watch_policy = false;
  int watch_debounce_ms = 200;
  // Limits for requests parsed from JSON text.
  ParseLimits parse_limits;
};

struct DecideOptions {
  bool explain = false;             // fill Decision::trace
  std::optional<int64_t> now_unix;  // pin the clock rules see (tests, replays)
  std::optional<Event> event;       // overrides the request's event
};

// The outcome of one reload attempt.
struct ReloadResult {
  bool ok = false;
  std::string trigger;           // "start", "api", "signal", "watch", ...
  std::string version;           // version now in force
  std::string previous_version;  // version before the attempt
  std::string error;             // why it failed (the old policy stays), empty when ok
  int64_t at_unix_ms = 0;
  int64_t duration_us = 0;

  // {"ok","trigger","version","previousVersion","error" (null when ok),"at" (RFC 3339, UTC,
  // milliseconds),"atUnixMs","durationUs"}: one line, no trailing newline.
  std::string ToJson() const;
  void AppendJson(std::string* out) const;
};

// A description of the policy in force.
struct PolicyInfo {
  std::string version;
  std::string path;                   // the policy.json that was loaded
  std::vector<std::string> rules;     // rule order as configured
  std::string default_action;         // "record" | "skip"
  std::string on_rule_error;          // "next" | "record" | "skip"
  std::string mode;                   // "conference" | "dual-channel"
  std::vector<std::string> warnings;  // e.g. conditional settings ignored under dual-channel
  int64_t loaded_at_unix_ms = 0;
  std::optional<ReloadResult> last_reload;

  // The one JSON shape of a policy description, shared by GET /v1/policy and the C API:
  // {"version","path","rules":[...],"default","onRuleError","mode","warnings":[...],
  //  "loadedAt" (RFC 3339),"loadedAtUnixMs","lastReload":{ReloadResult}|null}.
  std::string ToJson() const;
  void AppendJson(std::string* out) const;
};

class Engine {
 public:
  // Loads the policy at `policy_path` (a folder holding policy.json, or the file itself).
  // A bad policy is an error naming the file, the JSON path or line, and what is wrong.
  static Result<std::unique_ptr<Engine>> Open(const std::string& policy_path,
                                              const EngineOptions& options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Decides on a request given as JSON text (see ParseRequest). On failure `out` is left in an
  // unspecified state and the Status names what is wrong with the input.
  Status Decide(std::string_view request_json, const DecideOptions& options, Decision* out) const;
  // Decides on an already parsed request.
  Status Decide(const Request& request, const DecideOptions& options, Decision* out) const;

  // Builds the policy anew from its path and swaps it in when it is complete and valid. When
  // anything fails the old policy stays in force and the result says why.
  ReloadResult Reload(const std::string& trigger = "api");

  std::string PolicyVersion() const;
  PolicyInfo Info() const;

  // Listeners run on the thread that performed the reload, after the swap. The returned id
  // unsubscribes. Listeners must not call Reload.
  using ReloadListener = std::function<void(const ReloadResult&)>;
  int Subscribe(ReloadListener listener);
  void Unsubscribe(int id);

 private:
  class Impl;  // engine/src/engine_impl.h
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Validates a policy without starting an engine (`recrules check`).
Result<PolicyInfo> CheckPolicy(const std::string& policy_path);

}  // namespace recrules
