// Recording actions against Twilio: the Flex template's endpoints (create a dual-channel call
// recording; pause and resume call or conference recordings) and the server-side start of a
// dual-channel recording when TaskRouter reports a reservation accepted. Every action is
// counted in the metrics and written to the decision log.
//
// Every method blocks on Twilio (timeouts and bounded retries in TwilioClient): call them on a
// worker thread, never on an I/O thread. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "recrules/decision.h"
#include "recrules/task.h"
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

struct RecordingActionsOptions {
  // Finding the worker's call leg: how often to look at the task's conference, and how long to
  // wait between looks (the leg joins the conference shortly after the reservation is accepted).
  int worker_leg_attempts = 10;
  int worker_leg_interval_ms = 500;
};

class RecordingActions {
 public:
  RecordingActions(twilio::TwilioConfig config, Metrics* metrics, DecisionLog* decision_log,
                   RecordingActionsOptions options = {});
  ~RecordingActions();

  // A Flex user token, checked with Twilio and cached.
  twilio::TokenValidator::Check ValidateToken(const std::string& token);
  // X-Twilio-Signature over `url` and the form fields. False when no auth token is configured.
  bool ValidSignature(std::string_view url, const FormFields& fields,
                      std::string_view signature) const;

  // One Flex template endpoint: the answer in the template's shape
  // {recording, success, message, twilioErrorCode, twilioDocPage}. `identity` is the Flex user
  // (for the decision log), empty when a static token was used.
  HttpResponse Flex(FlexOperation op, const FormFields& fields, const std::string& identity);

  // After a reservation.accepted decision to record dual-channel: starts the recording on the
  // customer's or the worker's leg and merges the Flex Insights media link into the task's
  // attributes. `fields` are the callback's form fields (WorkspaceSid, TaskSid, ...).
  void StartDualChannel(const Decision& decision, const Task& task, const FormFields& fields);

  twilio::TwilioClient& client() { return client_; }

 private:
  // Records a finished Twilio operation in the metrics and the decision log.
  void Note(const char* source, const char* operation, const twilio::TwilioResponse& response,
            const std::string& decision_id, const std::string& task_sid,
            const std::string& reservation_sid, const std::string& call_sid,
            const std::string& conference_sid, const std::string& recording_sid,
            const std::string& identity);
  bool MergeMediaAttributes(const Decision& decision, const std::string& workspace_sid,
                            const std::string& recording_sid, const std::string& start_time,
                            const std::string& call_sid);

  twilio::TwilioClient client_;
  twilio::TokenValidator validator_;
  Metrics* metrics_;
  DecisionLog* decision_log_;
  RecordingActionsOptions options_;
};

// Twilio's answer as a human sentence; 21220 says the call has already ended.
std::string TwilioFailureMessage(const twilio::TwilioResponse& response);

}  // namespace recrules::server
