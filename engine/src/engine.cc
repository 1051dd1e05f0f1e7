#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <ctime>

#include "decision_clock.h"
#include "decision_id.h"
#include "engine_impl.h"

namespace recrules::detail {

namespace {

// Copies `text` into `out`, reusing its buffer. A decision's strings mostly keep their length
// from one decision to the next (SIDs, the policy version, the id), so that case is a bare copy;
// otherwise clear + append, the short path through libstdc++ (assign goes through _M_replace,
// which handles overlap and costs several times more).
void SetText(std::string* out, std::string_view text) {
  if (out->size() == text.size()) {
    if (!text.empty()) std::memmove(out->data(), text.data(), text.size());
    return;
  }
  out->clear();
  out->append(text.data(), text.size());
}

bool ActionAllowed(Event event, Action action) {
  return !(event == Event::kAccept && action == Action::kPause);
}

const char* OutcomeName(const RuleVerdict& v) {
  switch (v.kind) {
    case RuleVerdict::Kind::kPass:
      return "pass";
    case RuleVerdict::Kind::kError:
      return "error";
    case RuleVerdict::Kind::kDecide:
      return ActionName(v.action);
  }
  return "pass";
}

void ApplyDefault(const CompiledPolicy& policy, Event event, Decision* out) {
  SetText(&out->rule, "default");
  out->matched.clear();
  switch (event) {
    case Event::kAccept:
    case Event::kUpdate:
      out->action = policy.config.default_action;
      SetText(&out->reason, policy.config.default_action == Action::kRecord
                                ? "no rule decided: the policy default is record"
                                : "no rule decided: the policy default is skip");
      break;
    case Event::kPauseRequest:
      if (policy.config.pause_enabled) {
        out->action = Action::kPause;
        SetText(&out->reason, "no rule refused the pause request");
      } else {
        out->action = Action::kRecord;
        SetText(&out->reason, "pause request refused: features.pause_recording is not enabled");
      }
      break;
    case Event::kResumeRequest:
      out->action = Action::kRecord;
      SetText(&out->reason, "no rule refused the resume request");
      break;
  }
}

}  // namespace

void DecideOnPolicy(const CompiledPolicy& policy, PolicyThreadState* thread_state,
                    const TaskView& task, Event event, const DecideOptions& options,
                    Decision* out) {
  const int64_t start = DecisionClock::Now();
  thread_local DecisionIdSource ids;
  SetText(&out->id, ids.Next());
  out->event = event;
  out->mode = policy.mode;
  out->channel = policy.channel;
  out->pause_behavior = policy.default_pause_behavior;
  SetText(&out->policy_version, policy.version);
  SetText(&out->task_sid, task.task_sid);
  SetText(&out->reservation_sid, task.sid);
  SetText(&out->call_sid, task.call_sid);
  SetText(&out->conference_sid, task.conference_sid);
  out->trace.clear();
  out->rule_errors.clear();

  // Only Lua rules read the clock (ctx.now); the built-in rules do not need it read.
  const int64_t now_unix = options.now_unix ? *options.now_unix
                           : policy.lua     ? int64_t(std::time(nullptr))
                                            : 0;
  RuleInput input{task, event, now_unix, policy, thread_state};
  RuleVerdict verdict;
  bool decided = false;
  for (const auto& rule : policy.rules) {
    if (rule->always_passes() && !options.explain) continue;
    if (!rule->AppliesTo(event)) {
      if (options.explain) out->trace.push_back({rule->name(), "not_applicable", "", "", 0});
      continue;
    }
    verdict.Reset();
    const int64_t t0 = options.explain ? DecisionClock::Now() : 0;
    rule->Evaluate(input, &verdict);
    if (verdict.kind == RuleVerdict::Kind::kDecide && !ActionAllowed(event, verdict.action)) {
      verdict.Fail(rule->name() + ": returned " + ActionName(verdict.action) +
                   ", which is not a valid decision for the " + EventName(event) + " event");
    }
    if (options.explain) {
      out->trace.push_back(
          {rule->name(), OutcomeName(verdict),
           std::string(verdict.kind == RuleVerdict::Kind::kError ? std::string_view(verdict.error)
                                                                 : verdict.reason),
           std::string(verdict.matched), DecisionClock::ElapsedNs(t0, DecisionClock::Now())});
    }
    if (verdict.kind == RuleVerdict::Kind::kPass) continue;
    if (verdict.kind == RuleVerdict::Kind::kError) {
      spdlog::warn("rule {} failed (policy {}, on_rule_error={}): {}", rule->name(), policy.version,
                   OnRuleErrorName(policy.config.on_rule_error), verdict.error);
      out->rule_errors.push_back(rule->name() + ": " + verdict.error);
      if (policy.config.on_rule_error == OnRuleError::kNext) continue;
      out->action =
          policy.config.on_rule_error == OnRuleError::kRecord ? Action::kRecord : Action::kSkip;
      out->rule = rule->name();
      out->reason = std::string("rule failed and on_rule_error is ") +
                    OnRuleErrorName(policy.config.on_rule_error) + ": " + verdict.error;
      out->matched.clear();
      decided = true;
      break;
    }
    out->action = verdict.action;
    SetText(&out->rule, rule->name());
    SetText(&out->reason, verdict.reason);
    SetText(&out->matched, verdict.matched);
    if (verdict.has_pause_behavior) out->pause_behavior = verdict.pause_behavior;
    decided = true;
    break;
  }
  if (!decided) ApplyDefault(policy, event, out);
  out->conference_record = out->mode == Mode::kConference && out->action != Action::kSkip;
  if (out->mode == Mode::kConference) out->channel = Channel::kNone;
  out->latency_ns = DecisionClock::ElapsedNs(start, DecisionClock::Now());
}

}  // namespace recrules::detail

namespace recrules {

using detail::CompiledPolicy;
using detail::PolicyThreadState;

namespace {

std::atomic<uint64_t> g_next_engine_uid{1};

struct ThreadSlot {
  uint64_t engine_uid = 0;
  std::weak_ptr<const void> engine_alive;  // expires when the engine is destroyed
  uint64_t generation = 0;
  std::shared_ptr<const CompiledPolicy> policy;
  std::unique_ptr<PolicyThreadState> thread_state;
};

// Each thread remembers the policy (and its per-thread rule state) it last used per engine.
thread_local std::vector<ThreadSlot> t_slots;

// Drops what this thread kept for engines that no longer exist.
void PruneDeadSlots() {
  std::erase_if(t_slots, [](const ThreadSlot& s) { return s.engine_alive.expired(); });
}

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Engine::Impl::Impl(std::string path, EngineOptions options, std::shared_ptr<const CompiledPolicy> p)
    : path_(std::move(path)),
      options_(std::move(options)),
      uid_(g_next_engine_uid.fetch_add(1)),
      alive_(std::make_shared<int>(0)),
      current_(std::move(p)) {}

Engine::Impl::~Impl() {
  watcher_.reset();  // no reload may start while the engine goes away
}

const CompiledPolicy* Engine::Impl::Current(PolicyThreadState** thread_state) const {
  const uint64_t gen = generation_.load(std::memory_order_acquire);
  ThreadSlot* slot = nullptr;
  for (ThreadSlot& s : t_slots) {
    if (s.engine_uid == uid_) {
      slot = &s;
      break;
    }
  }
  if (slot == nullptr) {
    if (t_slots.size() >= 8) PruneDeadSlots();
    t_slots.emplace_back();
    slot = &t_slots.back();
    slot->engine_uid = uid_;
    slot->engine_alive = alive_;
  }
  if (slot->generation != gen || !slot->policy) {
    std::shared_ptr<const CompiledPolicy> fresh;
    uint64_t fresh_gen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fresh = current_;
      fresh_gen = generation_.load(std::memory_order_acquire);
    }
    if (fresh != slot->policy) {
      slot->thread_state.reset();  // belongs to the old policy
      slot->policy = std::move(fresh);
    }
    slot->generation = fresh_gen;
  }
  if (!slot->thread_state && slot->policy->make_thread_state) {
    slot->thread_state = slot->policy->make_thread_state();
  }
  *thread_state = slot->thread_state.get();
  return slot->policy.get();
}

std::shared_ptr<const CompiledPolicy> Engine::Impl::Shared() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

Status Engine::Impl::Decide(const detail::TaskView& task, Event event, const DecideOptions& options,
                            Decision* out) const {
  PolicyThreadState* thread_state = nullptr;
  const CompiledPolicy* policy = Current(&thread_state);
  detail::DecideOnPolicy(*policy, thread_state, task, options.event.value_or(event), options, out);
  return Status::Ok();
}

ReloadResult Engine::Impl::Reload(const std::string& trigger) {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  const auto t0 = std::chrono::steady_clock::now();
  ReloadResult result;
  result.trigger = trigger;
  result.at_unix_ms = UnixMs();
  result.previous_version = Shared()->version;
  auto compiled = detail::CompilePolicy(path_);
  result.duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::vector<ReloadListener> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (compiled.ok()) {
      result.ok = true;
      result.version = (*compiled)->version;
      for (const std::string& w : (*compiled)->config.warnings) spdlog::warn("policy: {}", w);
      current_ = std::move(compiled).value();
      generation_.fetch_add(1, std::memory_order_acq_rel);
    } else {
      result.version = result.previous_version;
      result.error = compiled.status().message();
    }
    last_reload_ = result;
    for (auto& [id, l] : listeners_) listeners.push_back(l);
  }
  if (result.ok) {
    spdlog::info("policy reloaded ({}): version {} -> {} in {} us", trigger,
                 result.previous_version, result.version, result.duration_us);
  } else {
    spdlog::error("policy reload ({}) failed, keeping version {}: {}", trigger, result.version,
                  result.error);
  }
  for (auto& l : listeners) l(result);
  return result;
}

Status Engine::Impl::StartWatching() {
  auto watcher = detail::PolicyWatcher::Start(Shared()->config.dir, options_.watch_debounce_ms,
                                              [this] { Reload("watch"); });
  if (!watcher.ok()) return watcher.status();
  watcher_ = std::move(watcher).value();
  return Status::Ok();
}

PolicyInfo Engine::Impl::Info() const {
  std::lock_guard<std::mutex> lock(mu_);
  PolicyInfo info = current_->Info();
  info.last_reload = last_reload_;
  return info;
}

int Engine::Impl::Subscribe(ReloadListener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void Engine::Impl::Unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.erase(id);
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Open(const std::string& policy_path,
                                             const EngineOptions& options) {
  detail::DecisionClock::Calibrate();
  auto compiled = detail::CompilePolicy(policy_path);
  if (!compiled.ok()) return compiled.status();
  for (const std::string& w : (*compiled)->config.warnings) spdlog::warn("policy: {}", w);
  auto impl = std::make_unique<Impl>(policy_path, options, std::move(compiled).value());
  if (options.watch_policy) {
    Status s = impl->StartWatching();
    if (!s.ok()) return s;
  }
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Status Engine::Decide(std::string_view request_json, const DecideOptions& options,
                      Decision* out) const {
  detail::TaskView view;
  Event event = Event::kAccept;
  Status s = detail::ParseRequestView(request_json, impl_->options().parse_limits, &event, &view);
  if (!s.ok()) return s;
  return impl_->Decide(view, event, options, out);
}

Status Engine::Decide(const Request& request, const DecideOptions& options, Decision* out) const {
  const detail::TaskData& task = detail::DataOf(request.task);
  task.Prefetch();
  return impl_->Decide(task.view, request.event, options, out);
}

ReloadResult Engine::Reload(const std::string& trigger) {
  return impl_->Reload(trigger);
}
std::string Engine::PolicyVersion() const {
  return impl_->Shared()->version;
}
PolicyInfo Engine::Info() const {
  return impl_->Info();
}
int Engine::Subscribe(ReloadListener listener) {
  return impl_->Subscribe(std::move(listener));
}
void Engine::Unsubscribe(int id) {
  impl_->Unsubscribe(id);
}

Result<PolicyInfo> CheckPolicy(const std::string& policy_path) {
  auto compiled = detail::CompilePolicy(policy_path);
  if (!compiled.ok()) return compiled.status();
  return (*compiled)->Info();
}

}  // namespace recrules
