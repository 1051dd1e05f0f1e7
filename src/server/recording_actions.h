// Recording actions against Twilio: the Flex template's endpoints (create a dual-channel call
// recording; pause and resume call or conference recordings) and the server-side start of a
// dual-channel recording when TaskRouter reports a reservation accepted. Every action is
// counted in the metrics and written to the decision log.
//
// Every method blocks on Twilio (timeouts and bounded retries in TwilioClient): call them on a
// worker thread, never on an I/O thread. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "recrules/decision.h"
#include "recrules/task.h"
#include "server/call_store.h"
#include "server/decision_log.h"
#include "server/form.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "twilio/auth.h"
#include "twilio/twilio_client.h"

namespace recrules::server {

enum class FlexOperation {
  kCreateRecording,            // callSid
  kPauseCallRecording,         // callSid, pauseBehavior, recordingSid (default Twilio.CURRENT)
  kPauseConferenceRecording,   // conferenceSid, pauseBehavior, recordingSid (default CURRENT)
  kResumeCallRecording,        // callSid, recordingSid
  kResumeConferenceRecording,  // conferenceSid, recordingSid
};

// "create_call_recording", "pause_call_recording", ...: the operation's name in the decision
// log and the metrics.
const char* FlexOperationName(FlexOperation op);

// A Flex template request, its form fields checked.
struct FlexRequest {
  FlexOperation op = FlexOperation::kCreateRecording;
  std::string call_sid;        // create and the call operations
  std::string conference_sid;  // the conference operations
  std::string recording_sid;   // pause and resume; Twilio.CURRENT when a pause names none
  std::optional<PauseBehavior> behavior;  // pause: the pauseBehavior, silence by default
  bool on_call() const;
  bool pause() const;
};
// Reads an operation's form fields (callSid or conferenceSid, recordingSid, pauseBehavior); a
// missing or malformed one is a 400 answer in the template's parameter-error shape naming it.
std::variant<FlexRequest, HttpResponse> ReadFlexRequest(FlexOperation op, const FormFields& fields);

struct RecordingActionsOptions {
  // Finding the worker's call leg: how often to look at the task's conference, and how long to
  // wait between looks (the leg joins the conference shortly after the reservation is accepted).
  int worker_leg_attempts = 10;
  int worker_leg_interval_ms = 500;
  // A request for a leg whose recording another request is starting waits for that one's
  // answer this long (Twilio's timeouts and retries fit in it), then answers 503.
  int claim_wait_ms = 30000;
  // The base of the Flex Insights media link written into a task (RECRULES_TWILIO_MEDIA_URL):
  // Insights fetches the recording there, so it stays Twilio's public API even when the API
  // calls go elsewhere (a proxy, or the tests' fake Twilio).
  std::string media_url = "https://api.twilio.com";
  // The Flex TaskRouter workspace (TWILIO_FLEX_WORKSPACE_SID) for update-task-attributes;
  // empty: the workspace of the TaskRouter events received.
  std::string workspace_sid;
  // Where Twilio posts the status of every recording recrules starts (in-progress, completed,
  // absent): <--public-url>/v1/twilio/recording-status. Empty (no public URL): not asked for.
  std::string recording_status_url;
};

class RecordingActions {
 public:
  RecordingActions(twilio::TwilioConfig config, Metrics* metrics, DecisionLog* decision_log,
                   RecordingActionsOptions options = {});
  ~RecordingActions();

  // A Flex user token, checked with Twilio and cached.
  twilio::TokenValidator::Check ValidateToken(const std::string& token);
  // X-Twilio-Signature over `url` and the form fields, with the auth token, or with the
  // SharedKey secret (TWILIO_WEBHOOK_SHARED_KEY) and the algorithm named when
  // X-Twilio-Webhooks-Signature-Settings (`settings`) is sent. Empty when valid, else why not.
  std::string CheckSignature(std::string_view url, const FormFields& fields,
                             std::string_view signature, std::string_view settings) const;

  // One Flex template endpoint: the answer in the template's shape
  // {recording, success, message, twilioErrorCode, twilioDocPage}. `identity` is the Flex user
  // (for the decision log), empty when a static token was used. `decision`, when the policy
  // was consulted and granted the operation, is named in the log line, and its pause behavior
  // is the one Twilio is given.
  // A create names a leg: its one recording (CallStore::ClaimLeg) is answered when it has one,
  // and started otherwise.
  HttpResponse Flex(FlexRequest request, const std::string& identity, const Decision* decision,
                    CallStore& calls);

  // After a reservation.accepted decision to record dual-channel: starts the recording on the
  // customer's or the worker's leg and merges the Flex Insights media link into the task's
  // attributes. `fields` are the callback's form fields (WorkspaceSid, TaskSid, ...).
  // Returns the SID of the call leg now recorded, empty when none was.
  // A leg that already has its recording (or is being recorded) is not recorded again.
  std::string StartDualChannel(const Decision& decision, const Task& task, const FormFields& fields,
                               CallStore& calls);

  // The template's /common/flex/taskrouter/update-task-attributes: merges `update` (a JSON
  // object) into the task's attributes as lodash's merge does (objects and arrays member by
  // member), written conditionally on the version fetched (a lost race is fetched again, three
  // times). Answers {success, message, twilioErrorCode, twilioDocPage} with Twilio's status.
  // `*task_form`, on success: the task as TaskRouter fields (TaskSid, TaskAttributes merged,
  // TaskQueueName, ...), so that the caller can learn its legs.
  HttpResponse UpdateTaskAttributes(const std::string& workspace_sid, const std::string& task_sid,
                                    const nlohmann::ordered_json& update,
                                    const std::string& identity, FormFields* task_form);
  const RecordingActionsOptions& options() const { return options_; }

  // After a task.updated decision: pauses (`pause`) or resumes the task's recording. Under
  // dual-channel, the call recording on `leg` (the customer's call when empty); otherwise the
  // conference recording of the task's conference. A pause names Twilio.CURRENT, a resume
  // `paused_sid`, the recording the pause changed. Returns whether Twilio did it, and the SID
  // of the recording changed in `*recording_sid`.
  bool ApplyUpdate(const Decision& decision, const Task& task, const std::string& leg, bool pause,
                   const std::string& paused_sid, std::string* recording_sid);

  twilio::TwilioClient& client() { return client_; }

 private:
  // Records a finished Twilio operation in the metrics and the decision log; `from_store`: an
  // answer from the call store, with no Twilio call (logged as "already_recorded").
  void Note(const char* source, const char* operation, const twilio::TwilioResponse& response,
            const std::string& decision_id, const std::string& task_sid,
            const std::string& reservation_sid, const std::string& call_sid,
            const std::string& conference_sid, const std::string& recording_sid,
            const std::string& identity, bool from_store = false);
  // One recording operation against Twilio, noted (`source`, the decision that allowed it,
  // `identity`); *recording_sid is the recording changed (Twilio's SID, else the one asked for).
  twilio::TwilioResponse Send(const FlexRequest& request, const char* source,
                              const Decision* decision, const std::string& identity,
                              std::string* recording_sid);
  // Starts the dual-channel recording of `leg` unless it has one: then `*existing` is set and
  // the answer is the stored one (no Twilio call). Noted as Send does.
  twilio::TwilioResponse RecordLegOnce(const std::string& leg, const char* source,
                                       const Decision* decision, const std::string& identity,
                                       const std::string& conference_sid, CallStore& calls,
                                       bool* existing);
  // `start_ms`: the media's start_time, epoch milliseconds.
  bool MergeMediaAttributes(const Decision& decision, const std::string& workspace_sid,
                            const std::string& recording_sid, int64_t start_ms,
                            const std::string& call_sid);

  twilio::TwilioClient client_;
  twilio::TokenValidator validator_;
  Metrics* metrics_;
  DecisionLog* decision_log_;
  RecordingActionsOptions options_;
};

// A recording as Twilio's REST API gives it (snake_case, RFC 2822 dates) in the shape the
// template's functions answer with: the `twilio` node library's RecordingInstance as JSON
// (camelCase; dates as ISO 8601 with milliseconds, "2023-11-14T22:13:20.000Z"; channels and
// errorCode as integers; fields the library does not read are left out). `conference`: a
// conference recording, which has no `track`.
nlohmann::json RecordingAsTwilioNode(const nlohmann::json& twilio, bool conference);

// `target` merged with `source` as lodash's merge does for JSON: objects and arrays member by
// member (arrays by index), anything else replaced.
void LodashMerge(nlohmann::ordered_json& target, const nlohmann::ordered_json& source);

// Answers in the template's shapes: a failure that is not Twilio's, {success: false, message};
// a missing or malformed parameter, 400 {data: null, message}, as prepareFlexFunction answers.
HttpResponse FlexFailure(int status, const std::string& message);
HttpResponse FlexParameterError(const std::string& message);

// Twilio's answer as a human sentence; 21220 says the call has already ended.
std::string TwilioFailureMessage(const twilio::TwilioResponse& response);

}  // namespace recrules::server
