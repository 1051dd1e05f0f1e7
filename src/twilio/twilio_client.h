// A small client for the parts of Twilio's REST API recrules uses: call and conference
// recordings, conference participants, TaskRouter tasks, and Flex token validation.
//
// Thread safety: every method may be called from many threads at once. Methods block (HTTP with
// timeouts and bounded retries): call them from a worker thread, never from an I/O loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "recrules/decision.h"
#include "recrules/status.h"

namespace recrules::twilio {

// Who we are and where Twilio is. Credentials: TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or
// with TWILIO_API_KEY and TWILIO_API_SECRET (the auth token is still needed to check webhook
// signatures). Base URLs: RECRULES_TWILIO_API_URL, RECRULES_TWILIO_IAM_URL,
// RECRULES_TWILIO_TASKROUTER_URL (tests point them at a fake Twilio on 127.0.0.1).
struct TwilioConfig {
  std::string account_sid;
  std::string auth_token;
  std::string api_key;
  std::string api_secret;
  // TWILIO_WEBHOOK_SHARED_KEY: the secret of a SharedKey Twilio signs webhooks with (they carry
  // X-Twilio-Webhooks-Signature-Settings); empty: such webhooks are refused.
  std::string webhook_shared_key;
  std::string api_url = "https://api.twilio.com";
  std::string iam_url = "https://iam.twilio.com";
  std::string taskrouter_url = "https://taskrouter.twilio.com";
  int connect_timeout_ms = 2000;
  int timeout_ms = 5000;  // per attempt
  int max_attempts = 3;   // retries on 429, 503 and connection resets, with jittered backoff
  int backoff_base_ms = 100;
  int backoff_max_ms = 2000;

  bool has_credentials() const {
    return !account_sid.empty() && (!auth_token.empty() || !api_key.empty());
  }
  // Reads the environment; an error names the variable that is wrong (e.g. an account SID that
  // does not start with "AC", an API key without its secret). Also reads
  // RECRULES_TWILIO_TIMEOUT_MS, RECRULES_TWILIO_CONNECT_TIMEOUT_MS, RECRULES_TWILIO_MAX_ATTEMPTS.
  static Result<TwilioConfig> FromEnvironment();
};

// The outcome of one API operation, after retries.
struct TwilioResponse {
  bool ok = false;        // a 2xx answer whose body is JSON
  int http_status = 0;    // 0 when there was no HTTP answer (timeout, reset, refused)
  nlohmann::json body;    // the parsed JSON answer; null when none or not JSON
  int error_code = 0;     // Twilio's "code" (e.g. 21220: the call is not in progress), 0 if none
  std::string message;    // Twilio's "message", or what went wrong on the wire
  std::string more_info;  // Twilio's "more_info" documentation URL, when given
  std::string etag;       // the ETag header (a TaskRouter task's version), when given
  int attempts = 0;
  int64_t elapsed_ms = 0;
};

enum class RecordingStatus { kPaused, kInProgress, kStopped };

class TwilioClient {
 public:
  explicit TwilioClient(TwilioConfig config);
  ~TwilioClient();
  TwilioClient(const TwilioClient&) = delete;
  TwilioClient& operator=(const TwilioClient&) = delete;

  const TwilioConfig& config() const;

  // POST {api}/2010-04-01/Accounts/{AC}/Calls/{call_sid}/Recordings.json
  //   RecordingChannels=dual (and RecordingTrack=both); with a `status_callback` URL also
  //   RecordingStatusCallback=<it>, RecordingStatusCallbackEvent=in-progress completed absent,
  //   RecordingStatusCallbackMethod=POST.
  // Not idempotent: retried on 429/503 and when the connection failed before the request was
  // sent, never after a reset or timeout once sent (Twilio may have started the recording).
  TwilioResponse CreateCallRecording(const std::string& call_sid,
                                     const std::string& status_callback = "");

  // POST {api}/2010-04-01/Accounts/{AC}/Calls/{call_sid}/Recordings/{recording_sid}.json
  //   Status=paused|in-progress|stopped, PauseBehavior=skip|silence (with paused only).
  // recording_sid may be "Twilio.CURRENT".
  TwilioResponse UpdateCallRecording(const std::string& call_sid, const std::string& recording_sid,
                                     RecordingStatus status,
                                     std::optional<PauseBehavior> pause_behavior = std::nullopt);

  // POST
  // {api}/2010-04-01/Accounts/{AC}/Conferences/{conference_sid}/Recordings/{recording_sid}.json
  TwilioResponse UpdateConferenceRecording(
      const std::string& conference_sid, const std::string& recording_sid, RecordingStatus status,
      std::optional<PauseBehavior> pause_behavior = std::nullopt);

  // GET {api}/2010-04-01/Accounts/{AC}/Conferences/{conference_sid}/Participants.json
  TwilioResponse ListConferenceParticipants(const std::string& conference_sid);

  // GET {taskrouter}/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}
  TwilioResponse FetchTask(const std::string& workspace_sid, const std::string& task_sid);

  // POST {taskrouter}/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}  Attributes=<json>
  // With a non-empty if_match the update is conditional (If-Match: ETag), so concurrent
  // attribute writers do not overwrite each other.
  TwilioResponse UpdateTaskAttributes(const std::string& workspace_sid, const std::string& task_sid,
                                      const std::string& attributes_json,
                                      const std::string& if_match = "");

  // POST {iam}/v1/Accounts/{AC}/Tokens/validate  {"token": "..."}
  TwilioResponse ValidateToken(const std::string& token);

  // GET {api}/2010-04-01/Accounts/{AC}/Recordings.json: the first page of the account's
  // recordings, newest first. Dates are whole days in GMT ("YYYY-MM-DD"), both inclusive; an
  // empty field is no filter. Follow the answer's next_page_uri with FetchListPage.
  struct RecordingsQuery {
    std::string date_created_from;  // DateCreated>=
    std::string date_created_to;    // DateCreated<=
    std::string call_sid;           // CallSid
    std::string conference_sid;     // ConferenceSid
    int page_size = 1000;           // PageSize, 1..1000
  };
  TwilioResponse ListRecordings(const RecordingsQuery& query);

  // GET {api}{page_uri}: a next page of a list, page_uri as Twilio gave it in next_page_uri.
  // Only URIs under this account ("/2010-04-01/Accounts/{AC}/") are followed; any other is
  // refused without a request (ok false, http_status 0).
  TwilioResponse FetchListPage(const std::string& page_uri);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace recrules::twilio
