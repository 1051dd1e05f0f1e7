// The rule contract inside the engine: built-in rules and Lua rules both implement Rule.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "recrules/decision.h"
#include "task_data.h"

namespace recrules::detail {

class CompiledPolicy;

// Per-thread, per-policy state a rule kind may need (the Lua host keeps its lua_State here).
// Created lazily on the deciding thread and only ever used by that thread.
class PolicyThreadState {
 public:
  virtual ~PolicyThreadState() = default;
};

struct RuleInput {
  const TaskView& task;
  Event event;
  int64_t now_unix;
  const CompiledPolicy& policy;
  PolicyThreadState* thread_state;  // null when the policy has no rule that needs one
};

struct RuleVerdict {
  enum class Kind { kPass, kDecide, kError } kind = Kind::kPass;
  Action action = Action::kRecord;
  bool has_pause_behavior = false;
  PauseBehavior pause_behavior = PauseBehavior::kSkip;
  // Built-in rules point `reason` and `matched` at strings they own for the policy's lifetime;
  // rules with dynamic text fill `reason_storage` and point `reason` at it.
  std::string_view reason;
  std::string_view matched;
  std::string reason_storage;
  std::string error;  // for kError: "rule.lua:12: message"

  void Reset() {
    kind = Kind::kPass;
    has_pause_behavior = false;
    reason = {};
    matched = {};
    reason_storage.clear();
    error.clear();
  }
  void Decide(Action a, std::string_view why, std::string_view what_matched = {}) {
    kind = Kind::kDecide;
    action = a;
    reason = why;
    matched = what_matched;
  }
  void Fail(std::string message) {
    kind = Kind::kError;
    error = std::move(message);
  }
};

class Rule {
 public:
  // `events` is a bit set of (1 << Event); all events by default.
  explicit Rule(std::string name, uint32_t events = 0xF)
      : name_(std::move(name)), events_(events) {}
  virtual ~Rule() = default;

  const std::string& name() const { return name_; }
  bool AppliesTo(Event e) const { return (events_ >> static_cast<int>(e)) & 1u; }
  // True when, under its policy, the rule can only pass (a dual-channel guard while dual-channel
  // recording is off, exclusions with empty lists): a decision skips it unless explained.
  bool always_passes() const { return always_passes_; }

  // Must not throw. Thread-safe: called concurrently from many threads (thread_state is the
  // calling thread's own).
  virtual void Evaluate(const RuleInput& in, RuleVerdict* out) const = 0;

 protected:
  void set_events(uint32_t events) { events_ = events; }
  void set_always_passes(bool always) { always_passes_ = always; }

 private:
  std::string name_;
  uint32_t events_;
  bool always_passes_ = false;
};

}  // namespace recrules::detail
