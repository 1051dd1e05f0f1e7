// The Twilio REST client on libcurl. Each thread keeps one CURL easy handle (so keep-alive
// connections are reused per thread); nothing on the request path takes a lock.
#include "twilio/twilio_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

namespace recrules::twilio {
namespace {

constexpr size_t kMaxResponseBytes = 8 * 1024 * 1024;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The calling thread's easy handle, reset before every request.
CURL* ThreadHandle() {
  struct Owner {
    CURL* handle = curl_easy_init();
    ~Owner() {
      if (handle) curl_easy_cleanup(handle);
    }
  };
  thread_local Owner owner;
  return owner.handle;
}

std::mt19937& ThreadRandom() {
  thread_local std::mt19937 rng(std::random_device{}());
  return rng;
}

// RFC 3986 percent-encoding of everything but unreserved characters; right for both URL path
// segments and application/x-www-form-urlencoded keys and values.
std::string PercentEncode(std::string_view in) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(key);
    out.push_back('=');
    out += PercentEncode(value);
  }
  return out;
}

const char* RecordingStatusName(RecordingStatus s) {
  switch (s) {
    case RecordingStatus::kPaused:
      return "paused";
    case RecordingStatus::kInProgress:
      return "in-progress";
    case RecordingStatus::kStopped:
      return "stopped";
  }
  return "in-progress";
}

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool IsSid(const std::string& s, std::string_view prefix) {
  return s.size() == 34 && s.compare(0, 2, prefix) == 0;
}

Status ReadUrl(const char* name, std::string& out) {
  std::string v = GetEnv(name);
  if (v.empty()) return Status::Ok();
  if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
    return Status::InvalidInput(std::string(name) + " must start with http:// or https:// (got \"" +
                                v + "\")");
  }
  while (!v.empty() && v.back() == '/') v.pop_back();
  out = v;
  return Status::Ok();
}

Status ReadInt(const char* name, int min, int max, int& out) {
  std::string v = GetEnv(name);
  if (v.empty()) return Status::Ok();
  int parsed = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
  if (ec != std::errc() || end != v.data() + v.size() || parsed < min || parsed > max) {
    return Status::InvalidInput(std::string(name) + " must be a whole number from " +
                                std::to_string(min) + " to " + std::to_string(max) + " (got \"" +
                                v + "\")");
  }
  out = parsed;
  return Status::Ok();
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kMaxResponseBytes) return 0;  // aborts with CURLE_WRITE_ERROR
  body->append(data, size * n);
  return size * n;
}

// Collects the headers of the last response (a 100-continue or redirect starts a new block).
size_t AppendHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) headers->clear();
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  (*headers)[name] = std::string(value);
  return size * n;
}

// Retry-After as milliseconds: delta-seconds or an HTTP date; -1 when absent or unreadable.
int64_t RetryAfterMs(const std::map<std::string, std::string>& headers) {
  auto it = headers.find("retry-after");
  if (it == headers.end() || it->second.empty()) return -1;
  const std::string& v = it->second;
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec == std::errc() && end == v.data() + v.size()) return std::max<int64_t>(seconds, 0) * 1000;
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return -1;
  return std::max<int64_t>(0, (static_cast<int64_t>(when) - time(nullptr)) * 1000);
}

struct Request {
  const char* method = "GET";
  std::string url;
  std::string body;
  const char* content_type = nullptr;
  std::string if_match;
  // Safe to send twice. A request that may have reached Twilio is retried after a reset or
  // timeout only when this is true (a second CreateCallRecording would record twice).
  bool idempotent = true;
};

struct Attempt {
  CURLcode code = CURLE_OK;
  long http_status = 0;
  bool sent = false;  // some bytes of the request left this host
  std::string body;
  std::map<std::string, std::string> headers;
  std::string error;  // curl's words when code != CURLE_OK
};

}  // namespace

// ---- TwilioConfig ---------------------------------------------------------------------------

Result<TwilioConfig> TwilioConfig::FromEnvironment() {
  TwilioConfig c;
  c.account_sid = GetEnv("TWILIO_ACCOUNT_SID");
  c.auth_token = GetEnv("TWILIO_AUTH_TOKEN");
  c.api_key = GetEnv("TWILIO_API_KEY");
  c.api_secret = GetEnv("TWILIO_API_SECRET");

  if (!c.account_sid.empty() && !IsSid(c.account_sid, "AC")) {
    return Status::InvalidInput("TWILIO_ACCOUNT_SID must be 34 characters starting with \"AC\"");
  }
  if (!c.api_key.empty() && c.api_secret.empty()) {
    return Status::InvalidInput("TWILIO_API_KEY is set without TWILIO_API_SECRET");
  }
  if (c.api_key.empty() && !c.api_secret.empty()) {
    return Status::InvalidInput("TWILIO_API_SECRET is set without TWILIO_API_KEY");
  }
  if (!c.api_key.empty() && !IsSid(c.api_key, "SK")) {
    return Status::InvalidInput("TWILIO_API_KEY must be 34 characters starting with \"SK\"");
  }
  if (c.account_sid.empty() && !c.auth_token.empty()) {
    return Status::InvalidInput("TWILIO_AUTH_TOKEN is set without TWILIO_ACCOUNT_SID");
  }
  if (c.account_sid.empty() && !c.api_key.empty()) {
    return Status::InvalidInput("TWILIO_API_KEY is set without TWILIO_ACCOUNT_SID");
  }
  if (!c.account_sid.empty() && c.auth_token.empty() && c.api_key.empty()) {
    return Status::InvalidInput(
        "TWILIO_ACCOUNT_SID is set without TWILIO_AUTH_TOKEN or TWILIO_API_KEY/TWILIO_API_SECRET");
  }
  c.webhook_shared_key = GetEnv("TWILIO_WEBHOOK_SHARED_KEY");
  for (auto [name, field] : {std::pair{"RECRULES_TWILIO_API_URL", &c.api_url},
                             std::pair{"RECRULES_TWILIO_IAM_URL", &c.iam_url},
                             std::pair{"RECRULES_TWILIO_TASKROUTER_URL", &c.taskrouter_url}}) {
    if (Status s = ReadUrl(name, *field); !s.ok()) return s;
  }
  if (Status s = ReadInt("RECRULES_TWILIO_CONNECT_TIMEOUT_MS", 1, 600000, c.connect_timeout_ms);
      !s.ok()) {
    return s;
  }
  if (Status s = ReadInt("RECRULES_TWILIO_TIMEOUT_MS", 1, 600000, c.timeout_ms); !s.ok()) return s;
  if (Status s = ReadInt("RECRULES_TWILIO_MAX_ATTEMPTS", 1, 10, c.max_attempts); !s.ok()) return s;
  return c;
}

// ---- TwilioClient ---------------------------------------------------------------------------

class TwilioClient::Impl {
 public:
  explicit Impl(TwilioConfig config) : config_(std::move(config)) {
    InitCurlOnce();
    // An API key, when set, is the credential; the auth token then only signs webhooks.
    if (!config_.api_key.empty()) {
      user_ = config_.api_key;
      password_ = config_.api_secret;
    } else {
      user_ = config_.account_sid;
      password_ = config_.auth_token;
    }
  }

  const TwilioConfig& config() const { return config_; }

  std::string AccountUrl() const {
    return config_.api_url + "/2010-04-01/Accounts/" + PercentEncode(config_.account_sid);
  }

  TwilioResponse Perform(const Request& request) const {
    auto start = std::chrono::steady_clock::now();
    TwilioResponse out;
    int max_attempts = std::max(config_.max_attempts, 1);
    Attempt attempt;
    for (int n = 1;; ++n) {
      attempt = Send(request);
      out.attempts = n;
      if (n >= max_attempts || !Retryable(request, attempt)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(BackoffMs(n, attempt)));
    }
    out.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    Interpret(attempt, out);
    return out;
  }

 private:
  Attempt Send(const Request& request) const {
    Attempt a;
    CURL* h = ThreadHandle();
    if (h == nullptr) {
      a.code = CURLE_FAILED_INIT;
      a.error = "curl_easy_init failed";
      return a;
    }
    curl_easy_reset(h);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Accept: application/json");
    if (request.content_type) {
      headers = curl_slist_append(headers,
                                  (std::string("Content-Type: ") + request.content_type).c_str());
    }
    if (!request.if_match.empty()) {
      headers = curl_slist_append(headers, ("If-Match: " + request.if_match).c_str());
    }
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip

    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(h, CURLOPT_USERNAME, user_.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, password_.c_str());
    curl_easy_setopt(h, CURLOPT_USERAGENT, "recrules-twilio/1");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    // curl silently sends a request again when a reused keep-alive connection turns out dead;
    // a request that must not be sent twice therefore goes on a connection of its own.
    if (!request.idempotent) curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, AppendHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &a.headers);
    if (std::string_view(request.method) == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
    } else {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }

    a.code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.http_status);
    long request_size = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
    a.sent = request_size > 0;
    if (a.code != CURLE_OK) a.error = errbuf[0] ? errbuf : curl_easy_strerror(a.code);
    // Do not leave pointers to this frame in the reused handle.
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_slist_free_all(headers);
    return a;
  }

  static bool Retryable(const Request& request, const Attempt& a) {
    if (a.code == CURLE_OK) return a.http_status == 429 || a.http_status == 503;
    switch (a.code) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
        return true;  // never reached Twilio
      case CURLE_OPERATION_TIMEDOUT:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_PARTIAL_FILE:
        return !a.sent || request.idempotent;
      default:
        return false;  // TLS, URL or local errors: trying again will not help
    }
  }

  // Exponential backoff with jitter in [d/2, d]; Retry-After wins when given. Both capped.
  int64_t BackoffMs(int attempt, const Attempt& a) const {
    int64_t cap = std::max(config_.backoff_max_ms, 0);
    if (a.code == CURLE_OK) {
      int64_t retry_after = RetryAfterMs(a.headers);
      if (retry_after >= 0) return std::min(retry_after, cap);
    }
    int64_t d = std::max(config_.backoff_base_ms, 0);
    for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
    d = std::min(d, cap);
    if (d <= 1) return d;
    std::uniform_int_distribution<int64_t> jitter(d / 2, d);
    return jitter(ThreadRandom());
  }

  void Interpret(const Attempt& a, TwilioResponse& out) const {
    std::string after =
        out.attempts > 1 ? " (after " + std::to_string(out.attempts) + " attempts)" : std::string();
    if (a.code != CURLE_OK) {
      out.http_status = 0;
      switch (a.code) {
        case CURLE_OPERATION_TIMEDOUT:
          out.message =
              a.sent ? "Twilio did not answer within " + std::to_string(config_.timeout_ms) + " ms"
                     : "could not connect to Twilio: " + a.error;
          break;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
          out.message = "could not connect to Twilio: " + a.error;
          break;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
          out.message = "connection to Twilio was reset: " + a.error;
          break;
        case CURLE_GOT_NOTHING:
          out.message = "Twilio closed the connection without answering";
          break;
        case CURLE_WRITE_ERROR:
          out.message =
              "Twilio's answer is larger than " + std::to_string(kMaxResponseBytes) + " bytes";
          break;
        default:
          out.message = "request to Twilio failed: " + a.error;
          break;
      }
      out.message += after;
      return;
    }
    out.http_status = static_cast<int>(a.http_status);
    if (auto it = a.headers.find("etag"); it != a.headers.end()) out.etag = it->second;
    bool success = a.http_status >= 200 && a.http_status < 300;
    out.body = nlohmann::json::parse(a.body, nullptr, /*allow_exceptions=*/false);
    if (out.body.is_discarded()) {
      out.body = nullptr;
      out.ok = false;
      out.message = success ? "Twilio answered HTTP " + std::to_string(a.http_status) +
                                  " with a body that is not JSON"
                            : "Twilio answered HTTP " + std::to_string(a.http_status);
      out.message += after;
      return;
    }
    if (success) {
      out.ok = true;
      return;
    }
    if (out.body.is_object()) {
      if (auto it = out.body.find("code"); it != out.body.end() && it->is_number_integer()) {
        out.error_code = it->get<int>();
      }
      if (auto it = out.body.find("message"); it != out.body.end() && it->is_string()) {
        out.message = it->get<std::string>();
      }
      if (auto it = out.body.find("more_info"); it != out.body.end() && it->is_string()) {
        out.more_info = it->get<std::string>();
      }
    }
    if (out.message.empty()) out.message = "Twilio answered HTTP " + std::to_string(a.http_status);
    out.message += after;
  }

  TwilioConfig config_;
  std::string user_;
  std::string password_;
};

TwilioClient::TwilioClient(TwilioConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
TwilioClient::~TwilioClient() = default;

const TwilioConfig& TwilioClient::config() const {
  return impl_->config();
}

TwilioResponse TwilioClient::CreateCallRecording(const std::string& call_sid,
                                                 const std::string& status_callback) {
  Request r;
  r.method = "POST";
  r.url = impl_->AccountUrl() + "/Calls/" + PercentEncode(call_sid) + "/Recordings.json";
  r.content_type = "application/x-www-form-urlencoded";
  std::vector<std::pair<std::string, std::string>> fields = {{"RecordingChannels", "dual"},
                                                             {"RecordingTrack", "both"}};
  if (!status_callback.empty()) {
    fields.insert(fields.end(), {{"RecordingStatusCallback", status_callback},
                                 {"RecordingStatusCallbackEvent", "in-progress completed absent"},
                                 {"RecordingStatusCallbackMethod", "POST"}});
  }
  r.body = FormEncode(fields);
  r.idempotent = false;
  return impl_->Perform(r);
}

namespace {
std::string RecordingUpdateBody(RecordingStatus status,
                                std::optional<PauseBehavior> pause_behavior) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"Status", RecordingStatusName(status)}};
  if (status == RecordingStatus::kPaused && pause_behavior) {
    fields.emplace_back("PauseBehavior", PauseBehaviorName(*pause_behavior));
  }
  return FormEncode(fields);
}
}  // namespace

TwilioResponse TwilioClient::UpdateCallRecording(const std::string& call_sid,
                                                 const std::string& recording_sid,
                                                 RecordingStatus status,
                                                 std::optional<PauseBehavior> pause_behavior) {
  Request r;
  r.method = "POST";
  r.url = impl_->AccountUrl() + "/Calls/" + PercentEncode(call_sid) + "/Recordings/" +
          PercentEncode(recording_sid) + ".json";
  r.content_type = "application/x-www-form-urlencoded";
  r.body = RecordingUpdateBody(status, pause_behavior);
  return impl_->Perform(r);
}

TwilioResponse TwilioClient::UpdateConferenceRecording(
    const std::string& conference_sid, const std::string& recording_sid, RecordingStatus status,
    std::optional<PauseBehavior> pause_behavior) {
  Request r;
  r.method = "POST";
  r.url = impl_->AccountUrl() + "/Conferences/" + PercentEncode(conference_sid) + "/Recordings/" +
          PercentEncode(recording_sid) + ".json";
  r.content_type = "application/x-www-form-urlencoded";
  r.body = RecordingUpdateBody(status, pause_behavior);
  return impl_->Perform(r);
}

TwilioResponse TwilioClient::ListConferenceParticipants(const std::string& conference_sid) {
  Request r;
  r.url =
      impl_->AccountUrl() + "/Conferences/" + PercentEncode(conference_sid) + "/Participants.json";
  return impl_->Perform(r);
}

TwilioResponse TwilioClient::FetchTask(const std::string& workspace_sid,
                                       const std::string& task_sid) {
  Request r;
  r.url = impl_->config().taskrouter_url + "/v1/Workspaces/" + PercentEncode(workspace_sid) +
          "/Tasks/" + PercentEncode(task_sid);
  return impl_->Perform(r);
}

TwilioResponse TwilioClient::UpdateTaskAttributes(const std::string& workspace_sid,
                                                  const std::string& task_sid,
                                                  const std::string& attributes_json,
                                                  const std::string& if_match) {
  Request r;
  r.method = "POST";
  r.url = impl_->config().taskrouter_url + "/v1/Workspaces/" + PercentEncode(workspace_sid) +
          "/Tasks/" + PercentEncode(task_sid);
  r.content_type = "application/x-www-form-urlencoded";
  r.body = FormEncode({{"Attributes", attributes_json}});
  r.if_match = if_match;
  return impl_->Perform(r);
}

TwilioResponse TwilioClient::ValidateToken(const std::string& token) {
  Request r;
  r.method = "POST";
  r.url = impl_->config().iam_url + "/v1/Accounts/" + PercentEncode(impl_->config().account_sid) +
          "/Tokens/validate";
  r.content_type = "application/json";
  r.body = nlohmann::json{{"token", token}}.dump();
  return impl_->Perform(r);
}

TwilioResponse TwilioClient::ListRecordings(const RecordingsQuery& query) {
  std::string q = "PageSize=" + std::to_string(std::clamp(query.page_size, 1, 1000));
  for (auto [name, value] :
       {std::pair{"DateCreated>", &query.date_created_from},
        std::pair{"DateCreated<", &query.date_created_to}, std::pair{"CallSid", &query.call_sid},
        std::pair{"ConferenceSid", &query.conference_sid}}) {
    if (!value->empty()) q += "&" + PercentEncode(name) + "=" + PercentEncode(*value);
  }
  Request r;
  r.url = impl_->AccountUrl() + "/Recordings.json?" + q;
  return impl_->Perform(r);
}

TwilioResponse TwilioClient::FetchListPage(const std::string& page_uri) {
  const std::string account =
      "/2010-04-01/Accounts/" + PercentEncode(impl_->config().account_sid) + "/";
  if (page_uri.rfind(account, 0) != 0 || page_uri.find_first_of(" \r\n\t#") != std::string::npos ||
      page_uri.find("..") != std::string::npos) {
    TwilioResponse refused;
    refused.message =
        "Twilio's next_page_uri is not a page of this account: \"" + page_uri.substr(0, 200) + "\"";
    return refused;
  }
  Request r;
  r.url = impl_->config().api_url + page_uri;
  return impl_->Perform(r);
}

}  // namespace recrules::twilio
