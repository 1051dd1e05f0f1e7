// The calls `recrules serve` looks after. TaskRouter events and the Flex template's recording
// requests come through here: the policy is asked, Twilio is acted on (RecordingActions), and
// what is known about calls is kept in one CallStore. Results are plain values; HttpAdapter
// maps them to HTTP.
//
// TaskRouterEvent and CheckFlex are fast (a decision, no Twilio call): the I/O thread may call
// them; what blocks on Twilio runs on the worker pool given as `post`, or is a method that says
// it blocks. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "recrules/engine.h"
#include "server/call_store.h"
#include "server/decision_log.h"
#include "server/form.h"
#include "server/metrics.h"
#include "server/recording_actions.h"

namespace recrules::server {

class CallService {
 public:
  // Runs a job on the worker pool.
  using Post = std::function<void(std::function<void()>)>;

  // All pointers must outlive the service. `recording` may be null (no Twilio credentials):
  // events are then decided and logged only.
  CallService(Engine* engine, Metrics* metrics, DecisionLog* decision_log,
              RecordingActions* recording, std::unique_ptr<CallStore> calls, ParseLimits limits,
              Post post);

  CallStore& calls() { return *calls_; }
  bool can_record() const { return recording_ != nullptr; }

  // A TaskRouter event callback, its signature checked. `body_size` bounds its JSON fields.
  struct EventResult {
    Status status;  // not ok: the event was not decided (a field, or the engine)
    std::string event_type;
    const char* action = "decided";  // "decided", "ignored" or "duplicate"
    std::string decision_json;       // when decided
    // "starting", "not_started" (reservation.accepted); "pausing", "resuming", "unchanged",
    // "stale" (task.updated)
    const char* recording = "not_started";
  };
  EventResult TaskRouterEvent(const FormFields& form, size_t body_size);

  // A Flex recording request on a call recrules has decided on is put to the policy first. A
  // call or conference SID recrules cannot tie to a task is tied to the caller's task when the
  // caller is a worker (`worker_sid`, from the Flex token) whose voice reservation recrules saw
  // accepted: the latest one (a worker takes one voice call at a time). The leg is then
  // remembered with that task. With no such worker the request is not put to the policy.
  struct FlexCheck {
    Status status;                     // the engine failed
    std::optional<Decision> decision;  // the policy was asked
    std::string refusal;               // not empty: it refused, and why (the answer's message)
  };
  FlexCheck CheckFlex(const FlexRequest& request, const std::string& identity,
                      const std::string& worker_sid = "");
  // Carries out a checked request; blocks on Twilio. The answer in the template's shape.
  HttpResponse PerformFlex(const FlexRequest& request, const std::string& identity,
                           const std::optional<Decision>& decision);

  // update-task-attributes; blocks on Twilio. `workspace_sid` empty: the workspace of the
  // TaskRouter events received (503 when none was).
  HttpResponse UpdateTaskAttributes(std::string workspace_sid, const std::string& task_sid,
                                    const nlohmann::ordered_json& update,
                                    const std::string& identity);

  // A recording status callback from Twilio (RecordingStatusCallback), its signature checked:
  // a decision log line (type recording_status), counted by status; an absent recording is
  // logged as an error. Fast (no Twilio call). Not ok: a field is missing or malformed.
  Status RecordingStatus(const FormFields& form);

  // A /v1/decide request, decided: so that a later Flex request on its call is asked too.
  void RememberDecided(const Decision& decision, std::string_view request_json);

 private:
  EventResult Accepted(const FormFields& form, const ParseLimits& limits, EventResult result);
  EventResult Updated(const FormFields& form, const ParseLimits& limits, EventResult result);
  // On a worker: Twilio calls until the recording is as the latest decision wants.
  void Reconcile(const Decision& decision, const Task& task);
  // A decision-log line for an event recrules received and did not act on.
  void LogEventNotActedOn(const char* type, std::string_view event_type, std::string_view task_sid,
                          nlohmann::json fields, const char* message);

  Engine* engine_;
  Metrics* metrics_;
  DecisionLog* decision_log_;
  RecordingActions* recording_;
  std::unique_ptr<CallStore> calls_;
  ParseLimits limits_;
  Post post_;
  std::mutex workspace_mu_;
  std::string event_workspace_;  // of the TaskRouter events received
};

// {"time":...,"type":"decision","source":...,<extra_fields>,<the decision's own fields>}
void LogDecision(DecisionLog* log, const std::string& decision_json, std::string_view source,
                 std::string_view extra_fields);
void LogDecision(DecisionLog* log, const std::string& decision_json, std::string_view source,
                 const nlohmann::json& extra);

}  // namespace recrules::server
