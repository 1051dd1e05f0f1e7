// Embedding recrules in a call-control loop.
//
// Calls arrive on several threads. Before the agent accepts, each thread asks the engine whether
// to record and acts on the answer (start the conference recording or not); when the agent
// presses pause, it asks again with the pause_request event. Halfway through, an admin edits the
// policy (Sales is no longer recorded); the engine reloads it while calls keep flowing, and the
// calls decided after the swap follow the new policy.
//
// Usage: embed_cpp [CALLS_PER_THREAD]   (about half before the edit, half after)
// The program writes its policy to a fresh scratch folder and removes it at the end. It exits 0
// when every decision matched the policy version it was made on.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "recrules/engine.h"

namespace fs = std::filesystem;

namespace {

constexpr int kThreads = 4;
const char* const kQueues[] = {"Sales", "Support", "HR Internal"};

std::string PolicyJson(bool sales_excluded) {
  return std::string(R"({
  "features": {
    "conditional_recording": {
      "enabled": true,
      "exclude_queues": ["HR Internal")") +
         (sales_excluded ? R"(, "Sales")" : "") + R"(],
      "exclude_attributes": [{ "key": "customer.consent.recording", "value": "denied" }]
    },
    "pause_recording": { "enabled": true, "include_silence": true }
  },
  "recrules": { "rules": ["builtin:exclusions"], "default": "record" }
}
)";
}

// An admin's edit: write beside the file, then rename, so the engine never reads half a file.
bool WritePolicy(const fs::path& dir, const std::string& text) {
  const fs::path tmp = dir / "policy.json.tmp";
  {
    std::ofstream out(tmp);
    out << text;
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, dir / "policy.json", ec);
  return !ec;
}

// What one call ended up as, for the check at the end.
struct CallOutcome {
  std::string queue;
  std::string version;
  recrules::Action action;
  bool consent_denied;
};

// The call-control side: what a switch does with each answer.
void ActOnAccept(const std::string& call_sid, const std::string& queue,
                 const recrules::Decision& d) {
  if (d.action == recrules::Action::kRecord) {
    std::printf("%s %-11s conferenceRecord=true  (policy %s, %s)\n", call_sid.c_str(),
                queue.c_str(), d.policy_version.c_str(), d.rule.c_str());
  } else {
    std::printf("%s %-11s conferenceRecord=false (policy %s, %s: %s)\n", call_sid.c_str(),
                queue.c_str(), d.policy_version.c_str(), d.rule.c_str(), d.reason.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int calls_per_thread = argc > 1 ? std::atoi(argv[1]) : 40;
  if (calls_per_thread <= 0) {
    std::fprintf(stderr, "usage: embed_cpp [CALLS_PER_THREAD]\n");
    return 2;
  }
  std::error_code ec;
  const fs::path dir =
      fs::temp_directory_path(ec) / ("recrules_embed_cpp." + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  if (ec || !WritePolicy(dir, PolicyJson(false))) {
    std::fprintf(stderr, "embed_cpp: cannot write the policy in %s\n", dir.c_str());
    return 1;
  }

  // The engine watches the policy folder and reloads when a file changes. Where the watcher is
  // not available, the program reloads by calling Engine::Reload (below).
  recrules::EngineOptions options;
  options.watch_policy = true;
  options.watch_debounce_ms = 50;
  auto opened = recrules::Engine::Open(dir.string(), options);
  if (!opened.ok()) {
    std::fprintf(stderr, "embed_cpp: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<recrules::Engine> engine = std::move(opened).value();
  const std::string first_version = engine->PolicyVersion();
  std::printf("policy %s loaded\n", first_version.c_str());

  // Reload results arrive on the thread that reloaded (here: main; with
  // EngineOptions::watch_policy, the watcher thread).
  std::atomic<int> reloads{0};  // successful ones
  const int subscription = engine->Subscribe([&reloads](const recrules::ReloadResult& r) {
    if (r.ok) {
      std::printf("policy reloaded (%s): %s -> %s in %lld us\n", r.trigger.c_str(),
                  r.previous_version.c_str(), r.version.c_str(),
                  static_cast<long long>(r.duration_us));
    } else {
      std::printf("policy reload (%s) failed, keeping %s: %s\n", r.trigger.c_str(),
                  r.version.c_str(), r.error.c_str());
    }
    if (r.ok) reloads.fetch_add(1);
  });

  std::mutex outcomes_mu;
  std::vector<CallOutcome> outcomes;
  std::atomic<int> calls_done{0};
  std::atomic<int> errors{0};
  std::atomic<bool> closing{false};  // the switch stops taking calls

  auto handle_calls = [&](int thread_index) {
    recrules::Decision decision;  // reused across calls: Decide reuses its buffers
    for (int i = 0; !closing.load(); ++i) {
      const int n = i * kThreads + thread_index;
      const std::string queue = kQueues[n % 3];
      const bool consent_denied = n % 7 == 0;
      char call_sid[40];
      std::snprintf(call_sid, sizeof call_sid, "CA%032d", n);
      const std::string attributes = std::string(R"({"call_sid":")") + call_sid +
                                     R"(","customer":{"consent":{"recording":")" +
                                     (consent_denied ? "denied" : "granted") + R"("}}})";

      recrules::Status s;
      if (n % 2 == 0) {
        // A call as the Flex UI shows it: decide straight from JSON text.
        const std::string request = R"({"event":"accept","task":{"taskSid":"WT)" +
                                    std::to_string(n) + R"(","queueName":")" + queue +
                                    R"(","taskChannelUniqueName":"voice","attributes":)" +
                                    attributes + "}}";
        s = engine->Decide(request, {}, &decision);
      } else {
        // A call from a TaskRouter event callback: build the task model once, then decide on it
        // (as many times as the call needs, without parsing again).
        auto task = recrules::Task::FromForm({{"TaskSid", "WT" + std::to_string(n)},
                                              {"TaskQueueName", queue},
                                              {"TaskChannelUniqueName", "voice"},
                                              {"TaskAttributes", attributes}});
        if (!task.ok()) {
          s = task.status();
        } else {
          recrules::Request request{recrules::Event::kAccept, *task};
          s = engine->Decide(request, {}, &decision);
          if (s.ok() && decision.action == recrules::Action::kRecord && n % 5 == 1) {
            // The agent presses pause before the customer reads out card details.
            recrules::Decision pause;
            recrules::DecideOptions ask;
            ask.event = recrules::Event::kPauseRequest;
            if (engine->Decide(request, ask, &pause).ok() &&
                pause.action == recrules::Action::kPause) {
              std::printf("%s pause granted: PauseBehavior=%s\n", call_sid,
                          recrules::PauseBehaviorName(pause.pause_behavior));
            }
          }
        }
      }
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", call_sid, s.ToString().c_str());
        errors.fetch_add(1);
        continue;
      }
      ActOnAccept(call_sid, queue, decision);
      {
        std::lock_guard<std::mutex> lock(outcomes_mu);
        outcomes.push_back({queue, decision.policy_version, decision.action, consent_denied});
      }
      calls_done.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the call goes on
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(handle_calls, t);

  // After half the calls, the admin stops recording Sales; the other half follow the edit.
  const int half = kThreads * calls_per_thread / 2;
  auto wait_for_calls = [&](int n) {
    while (calls_done.load() + errors.load() < n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  wait_for_calls(half);
  if (!WritePolicy(dir, PolicyJson(true))) {
    std::fprintf(stderr, "embed_cpp: cannot edit the policy\n");
    errors.fetch_add(1);
  }
  // Give the folder watcher a moment to pick the edit up; without one, reload by call.
  for (int waited_ms = 0; reloads.load() == 0 && waited_ms < 500; waited_ms += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (reloads.load() == 0) {
    std::printf("no reload from a folder watcher: reloading by call\n");
    engine->Reload("admin-edit");
  }
  wait_for_calls(calls_done.load() + errors.load() + half);
  closing.store(true);
  for (auto& t : threads) t.join();
  engine->Unsubscribe(subscription);

  const std::string second_version = engine->PolicyVersion();
  // Every decision must match the version it was made on.
  int wrong = 0, on_first = 0, on_second = 0;
  for (const CallOutcome& o : outcomes) {
    const bool second = o.version != first_version;
    (second ? on_second : on_first) += 1;
    const bool excluded =
        o.queue == "HR Internal" || o.consent_denied || (second && o.queue == "Sales");
    const recrules::Action expected =
        excluded ? recrules::Action::kSkip : recrules::Action::kRecord;
    if (o.action != expected) ++wrong;
  }
  std::printf(
      "embed_cpp: %zu calls, %d on policy %s, %d on policy %s, %d reloads, %d errors, "
      "%d wrong\n",
      outcomes.size(), on_first, first_version.c_str(), on_second, second_version.c_str(),
      reloads.load(), errors.load(), wrong);
  engine.reset();
  fs::remove_all(dir, ec);
  const bool ok = second_version != first_version && reloads.load() >= 1 && errors.load() == 0 &&
                  wrong == 0 && on_second >= half &&
                  static_cast<int>(outcomes.size()) == calls_done.load();
  std::printf("embed_cpp: %s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
