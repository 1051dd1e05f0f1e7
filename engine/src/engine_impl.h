// Engine internals shared with the Lua host and tests: the decision procedure on a TaskView.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "policy.h"
#include "policy_watcher.h"
#include "recrules/engine.h"
#include "task_data.h"

namespace recrules::detail {

// Runs `policy`'s rules on `task` for `event` and fills `out`. Never fails: rule errors are
// handled per on_rule_error and reported in out->rule_errors. `thread_state` is the calling
// thread's state for this policy (from policy.make_thread_state), or null when it has none.
void DecideOnPolicy(const CompiledPolicy& policy, PolicyThreadState* thread_state,
                    const TaskView& task, Event event, const DecideOptions& options, Decision* out);

}  // namespace recrules::detail

namespace recrules {

class Engine::Impl {
 public:
  Impl(std::string path, EngineOptions options, std::shared_ptr<const detail::CompiledPolicy> p);
  ~Impl();

  // The policy in force, as seen by the calling thread. Lock-free unless a reload happened
  // since this thread last looked.
  // The returned pointers stay valid until this thread's next call.
  const detail::CompiledPolicy* Current(detail::PolicyThreadState** thread_state) const;
  std::shared_ptr<const detail::CompiledPolicy> Shared() const;

  Status Decide(const detail::TaskView& task, Event event, const DecideOptions& options,
                Decision* out) const;
  ReloadResult Reload(const std::string& trigger);
  PolicyInfo Info() const;
  int Subscribe(ReloadListener listener);
  void Unsubscribe(int id);

  // Starts watching the policy folder (EngineOptions::watch_policy); reloads on change.
  Status StartWatching();

  const EngineOptions& options() const { return options_; }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const EngineOptions options_;
  const uint64_t uid_;                       // tells thread caches of different engines apart
  const std::shared_ptr<const void> alive_;  // thread caches hold it weakly

  mutable std::mutex mu_;  // guards current_, last_reload_, listeners_
  std::shared_ptr<const detail::CompiledPolicy> current_;
  std::atomic<uint64_t> generation_{1};
  std::optional<ReloadResult> last_reload_;
  std::map<int, ReloadListener> listeners_;
  int next_listener_ = 1;
  std::mutex reload_mu_;                            // one reload at a time
  std::unique_ptr<detail::PolicyWatcher> watcher_;  // stopped first in ~Impl
};

}  // namespace recrules
