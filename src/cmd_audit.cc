// recrules audit: what Twilio recorded in a time window, against what recrules decided. The
// account's recordings (Twilio's Recordings list) are joined with the decision log by call,
// conference and task SID, and every recording and every decided call gets one verdict.
//
// Memory follows the window's calls, not the log: the log is read (mapped) on a thread while
// Twilio lists the recordings, and only lines whose time lies in the window (with a margin for
// calls that began before it or ended after it) are parsed, folded into a few facts per call.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cli.h"
#include "decision_log_reader.h"
#include "twilio/twilio_client.h"

namespace recrules::cli {

namespace {

using json = nlohmann::json;

constexpr const char* kCommand = "audit";
// Log lines this long before the window or after it are still read: a call's decisions come
// before its recording starts, and its pauses and resumes after (Twilio ends calls after 4 h).
constexpr int64_t kLogMarginMs = int64_t(4) * 3600 * 1000;
// A record decision this close to the end of the listed days may have its recording created
// on the next day: such calls are looked up by SID before they are called missing.
constexpr int64_t kLateStartMs = int64_t(10) * 60 * 1000;
constexpr int64_t kDayMs = int64_t(86400) * 1000;

const char* const kVerdicts[] = {"explained", "unexpected", "duplicate", "missing",
                                 "paused_not_resumed"};

struct AuditArgs {
  std::string from, to;
  std::vector<std::string> logs;
  std::string format = "table";
};

// ---- times ----------------------------------------------------------------------------------

int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool Num(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// "2026-11-22T04:15:33.188Z", the decision log's time (UTC). -1 when it is not that.
int64_t LogTimeMs(std::string_view s) {
  int y, mo, d, h, mi, se, ms = 0;
  if (s.size() < 20 || !Num(s, 0, 4, &y) || s[4] != '-' || !Num(s, 5, 2, &mo) || s[7] != '-' ||
      !Num(s, 8, 2, &d) || s[10] != 'T' || !Num(s, 11, 2, &h) || s[13] != ':' ||
      !Num(s, 14, 2, &mi) || s[16] != ':' || !Num(s, 17, 2, &se)) {
    return -1;
  }
  if (s.size() >= 23 && s[19] == '.') Num(s, 20, 3, &ms);
  return ((DaysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000 + ms;
}

// Twilio's RFC 2822 times: "Tue, 01 Dec 2026 10:00:00 +0000". -1 when unreadable.
int64_t TwilioTimeMs(std::string_view s) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  size_t comma = s.find(", ");
  if (comma != std::string_view::npos) s.remove_prefix(comma + 2);
  int d, y, h, mi, se, off_h = 0, off_m = 0;
  if (s.size() < 20 || !Num(s, 0, 2, &d) || s[2] != ' ' || s[6] != ' ' || !Num(s, 7, 4, &y) ||
      s[11] != ' ' || !Num(s, 12, 2, &h) || s[14] != ':' || !Num(s, 15, 2, &mi) || s[17] != ':' ||
      !Num(s, 18, 2, &se)) {
    return -1;
  }
  int mo = 0;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(3, 3) == kMonths[i]) mo = i + 1;
  }
  if (mo == 0) return -1;
  int sign = 0;
  if (s.size() >= 26 && (s[21] == '+' || s[21] == '-')) {
    sign = s[21] == '+' ? 1 : -1;
    if (!Num(s, 22, 2, &off_h) || !Num(s, 24, 2, &off_m)) return -1;
  }
  int64_t t = ((DaysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000;
  return t - sign * (off_h * 60 + off_m) * 60000;
}

std::string Rfc3339(int64_t ms) {
  if (ms < 0) return "";
  std::time_t secs = std::time_t(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string GmtDay(int64_t ms) {
  return Rfc3339(ms).substr(0, 10);
}

// ---- what Twilio has --------------------------------------------------------------------------

struct TwilioRecording {
  std::string sid, call_sid, conference_sid, source, status, duration;
  int64_t start_ms = -1;
  int error_code = 0;

  bool conference_kind() const {
    return source == "Conference" || source == "StartConferenceRecordingAPI" ||
           (call_sid.empty() && !conference_sid.empty());
  }
  bool absent() const { return status == "absent"; }
};

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

TwilioRecording ReadRecording(const json& r) {
  TwilioRecording rec;
  rec.sid = Str(r, "sid");
  rec.call_sid = Str(r, "call_sid");
  rec.conference_sid = Str(r, "conference_sid");
  rec.source = Str(r, "source");
  rec.status = Str(r, "status");
  if (auto it = r.find("duration"); it != r.end()) {
    rec.duration = it->is_string() ? it->get<std::string>() : it->is_number() ? it->dump() : "";
  }
  rec.start_ms = TwilioTimeMs(Str(r, "start_time"));
  if (rec.start_ms < 0) rec.start_ms = TwilioTimeMs(Str(r, "date_created"));
  if (auto it = r.find("error_code"); it != r.end()) {
    if (it->is_number_integer()) rec.error_code = it->get<int>();
    if (it->is_string()) rec.error_code = std::atoi(it->get<std::string>().c_str());
  }
  return rec;
}

// Why a recording recrules did not ask for exists, from who Twilio says started it (the Flex
// support article on unexpected recordings lists these).
std::string LikelyCause(const std::string& source) {
  if (source == "Conference") {
    return "source Conference: the Flex Console's call-recording flag is on, or agents have not "
           "logged out and in again since it was turned off";
  }
  if (source == "DialVerb" || source == "RecordVerb") {
    return "source " + source +
           ": TwiML (<Dial record>, <Record>, <Conference record>) or a "
           "Studio flow started it";
  }
  if (source == "StartCallRecordingAPI" || source == "StartConferenceRecordingAPI" ||
      source == "OutboundAPI") {
    return "source " + source + ": another API caller or custom plugin code started it";
  }
  if (source == "Trunking") return "source Trunking: the SIP trunk's recording setting";
  return "source " + (source.empty() ? std::string("unknown") : source);
}

// The progress line, on a terminal only: the listing and the log reading run side by side.
struct Progress {
  bool on = false;
  std::atomic<size_t> recordings{0};
  std::atomic<uint64_t> log_bytes{0};
  std::atomic<bool> stop{false};  // the listing failed: the log reader gives up
  void Print() const {
    if (!on) return;
    std::fprintf(stderr, "\rrecrules audit: %zu recordings listed, %llu MiB of log read   ",
                 recordings.load(), static_cast<unsigned long long>(log_bytes.load() >> 20));
  }
  void Clear() const {
    if (on) std::fputs("\r\033[K", stderr);
  }
};

// One page after another until next_page_uri is null. false (with the error printed) when
// Twilio cannot be read.
bool ListAll(twilio::TwilioClient& client, const twilio::TwilioClient::RecordingsQuery& query,
             std::vector<TwilioRecording>* out, Progress* progress) {
  twilio::TwilioResponse r = client.ListRecordings(query);
  for (int page = 1;; ++page) {
    if (!r.ok || !r.body.is_object() || !r.body.contains("recordings") ||
        !r.body["recordings"].is_array()) {
      std::string why = r.ok ? "the answer has no \"recordings\" list" : r.message;
      if (r.error_code != 0) why = "Twilio error " + std::to_string(r.error_code) + ": " + why;
      PrintError(kCommand, "cannot list recordings (page " + std::to_string(page) + "): " + why);
      return false;
    }
    for (const json& rec : r.body["recordings"]) out->push_back(ReadRecording(rec));
    if (progress) {
      progress->recordings += r.body["recordings"].size();
      progress->Print();
    }
    std::string next = Str(r.body, "next_page_uri");
    if (next.empty()) return true;
    r = client.FetchListPage(next);
  }
}

// ---- what recrules decided --------------------------------------------------------------------

struct LoggedDecision {
  int64_t ms = 0;
  std::string id, action, mode, rule, reason;
  bool conference_record = false;
};

struct LoggedAction {
  int64_t ms = 0;
  std::string operation, result, recording_sid, call_sid, decision_id, message;
  bool ok() const { return result == "ok" || result == "already_recorded"; }
};

// Everything the log says about one call: its task, its legs, its conference.
struct CallFacts {
  int64_t first_decision_ms = -1;
  std::string task_sid, call_sid, conference_sid;
  // Only the decisions a verdict names: the first of each action and the last to record (so
  // a call asked about a thousand times costs no more than one asked once).
  std::vector<LoggedDecision> decisions;
  std::vector<LoggedAction> actions;
  std::map<std::string, int> absent_codes;  // recording SID -> error code (recording_status)

  void Add(LoggedDecision d) {
    if (first_decision_ms < 0 || d.ms < first_decision_ms) first_decision_ms = d.ms;
    LoggedDecision* first = nullptr;
    LoggedDecision* last_record = nullptr;
    for (LoggedDecision& kept : decisions) {
      if (kept.action == d.action && (first == nullptr || kept.ms < first->ms)) first = &kept;
      if (kept.action == "record" && (last_record == nullptr || kept.ms > last_record->ms)) {
        last_record = &kept;
      }
    }
    if (first == nullptr) {
      decisions.push_back(std::move(d));
    } else if (d.ms < first->ms) {
      if (d.action == "record" && first == last_record && decisions.size() < 4) {
        decisions.push_back(std::move(d));  // the old first stays as the last
      } else {
        *first = std::move(d);
      }
    } else if (d.action == "record" && d.ms > last_record->ms) {
      if (last_record == first) {
        decisions.push_back(std::move(d));
      } else {
        *last_record = std::move(d);
      }
    }
  }
};

// Folds log lines into calls: SIDs seen on one line belong to one call (union-find over calls).
class CallIndex {
 public:
  int Find(int c) {
    while (parent_[c] != c) c = parent_[c] = parent_[parent_[c]];
    return c;
  }
  // The call a SID belongs to, or -1.
  int CallOf(const std::string& sid) {
    auto it = by_sid_.find(sid);
    return it == by_sid_.end() ? -1 : Find(it->second);
  }
  // The call these SIDs belong to, merging calls a line shows to be one.
  int Link(std::initializer_list<const std::string*> sids) {
    int call = -1;
    for (const std::string* sid : sids) {
      if (sid->size() != 34) continue;
      int c = CallOf(*sid);
      if (c < 0 || c == call) continue;
      call = call < 0 ? c : Merge(call, c);
    }
    if (call < 0) {
      call = int(calls_.size());
      calls_.emplace_back();
      parent_.push_back(call);
    }
    for (const std::string* sid : sids) {
      if (sid->size() == 34) by_sid_[*sid] = call;
    }
    return call;
  }
  CallFacts& facts(int call) { return calls_[size_t(call)]; }
  int size() const { return int(calls_.size()); }

 private:
  int Merge(int a, int b) {
    CallFacts& fa = calls_[size_t(a)];
    CallFacts& fb = calls_[size_t(b)];
    if (fa.decisions.size() + fa.actions.size() < fb.decisions.size() + fb.actions.size()) {
      std::swap(a, b);
    }
    CallFacts& into = calls_[size_t(a)];
    CallFacts& from = calls_[size_t(b)];
    for (LoggedDecision& d : from.decisions) into.Add(std::move(d));
    into.actions.insert(into.actions.end(), from.actions.begin(), from.actions.end());
    into.absent_codes.insert(from.absent_codes.begin(), from.absent_codes.end());
    if (into.task_sid.empty()) into.task_sid = from.task_sid;
    if (into.call_sid.empty()) into.call_sid = from.call_sid;
    if (into.conference_sid.empty()) into.conference_sid = from.conference_sid;
    if (into.first_decision_ms < 0 ||
        (from.first_decision_ms >= 0 && from.first_decision_ms < into.first_decision_ms)) {
      into.first_decision_ms = from.first_decision_ms;
    }
    from = CallFacts();
    parent_[size_t(b)] = a;
    return a;
  }

  std::vector<CallFacts> calls_;
  std::vector<int> parent_;
  std::unordered_map<std::string, int> by_sid_;
};

struct LogStats {
  uint64_t lines = 0, unreadable = 0;
};

// The top-level fields of one decision log line, as views into it. Nested values (a decision's
// trace, a masked input) are passed over, not built: most of a log's bytes are in them.
class LineFields {
 public:
  // false when the line is not one whole JSON object (a torn last line, say).
  bool Parse(std::string_view line) {
    fields_.clear();
    line_ = line;
    pos_ = 0;
    Space();
    if (!Eat('{')) return false;
    Space();
    if (Eat('}')) return Rest();
    while (true) {
      Space();
      std::string_view key;
      if (!String(&key)) return false;
      Space();
      if (!Eat(':')) return false;
      Space();
      size_t value_start = pos_;
      if (!Value()) return false;
      fields_.emplace_back(key, line_.substr(value_start, pos_ - value_start));
      Space();
      if (Eat('}')) return Rest();
      if (!Eat(',')) return false;
    }
  }

  // A string field's value (JSON escapes decoded); "" when absent or not a string.
  std::string Get(std::string_view key) const {
    std::string_view raw = Raw(key);
    if (raw.size() < 2 || raw.front() != '"') return "";
    std::string_view inner = raw.substr(1, raw.size() - 2);
    if (inner.find('\\') == std::string_view::npos) return std::string(inner);
    json decoded = json::parse(raw, nullptr, false);
    return decoded.is_string() ? decoded.get<std::string>() : std::string();
  }
  // A field's JSON text as written ("true", "13617", "\"x\""); "" when absent.
  std::string_view Raw(std::string_view key) const {
    for (const auto& [k, v] : fields_) {
      if (k == key) return v;
    }
    return {};
  }
  int Int(std::string_view key) const {
    std::string_view raw = Raw(key);
    if (!raw.empty() && raw.front() == '"') raw = raw.substr(1, raw.size() - 2);
    int v = 0;
    for (char c : raw) {
      if (c < '0' || c > '9') return 0;
      v = v * 10 + (c - '0');
    }
    return v;
  }

 private:
  bool Eat(char c) {
    if (pos_ < line_.size() && line_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void Space() {
    while (pos_ < line_.size() && (line_[pos_] == ' ' || line_[pos_] == '\t' ||
                                   line_[pos_] == '\r' || line_[pos_] == '\n')) {
      ++pos_;
    }
  }
  bool Rest() {
    Space();
    return pos_ == line_.size();
  }
  // A string at pos_; *out gets its inner text, escapes as written.
  bool String(std::string_view* out) {
    if (!Eat('"')) return false;
    size_t start = pos_;
    while (pos_ < line_.size()) {
      char c = line_[pos_];
      if (c == '\\') {
        pos_ += 2;
        continue;
      }
      if (c == '"') {
        if (out) *out = line_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      ++pos_;
    }
    return false;
  }
  // Any value; objects and arrays are skipped by their brackets (strings inside honoured).
  bool Value() {
    if (pos_ >= line_.size()) return false;
    char c = line_[pos_];
    if (c == '"') return String(nullptr);
    if (c == '{' || c == '[') {
      int depth = 0;
      while (pos_ < line_.size()) {
        c = line_[pos_];
        if (c == '"') {
          if (!String(nullptr)) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') {
          if (--depth == 0) {
            ++pos_;
            return true;
          }
        }
        ++pos_;
      }
      return false;
    }
    size_t start = pos_;
    while (pos_ < line_.size() && line_[pos_] != ',' && line_[pos_] != '}' && line_[pos_] != ' ' &&
           line_[pos_] != '\n' && line_[pos_] != '\r') {
      ++pos_;
    }
    return pos_ > start;
  }

  std::string_view line_;
  size_t pos_ = 0;
  std::vector<std::pair<std::string_view, std::string_view>> fields_;
};

// One decision log line, its fields read.
void Fold(const LineFields& line, int64_t ms, CallIndex* index) {
  const std::string type = line.Get("type");
  std::string task = line.Get("taskSid"), call = line.Get("callSid"),
              conference = line.Get("conferenceSid"), recording = line.Get("recordingSid"),
              leg = line.Get("leg");
  if (recording.rfind("RE", 0) != 0) recording.clear();
  if (leg.rfind("CA", 0) != 0) leg.clear();
  if (type == "decision") {
    int c = index->Link({&task, &call, &conference, &leg});
    CallFacts& f = index->facts(c);
    LoggedDecision d;
    d.ms = ms;
    d.id = line.Get("id");
    d.action = line.Get("action");
    d.mode = line.Get("mode");
    d.rule = line.Get("rule");
    d.reason = line.Get("reason");
    d.conference_record = line.Raw("conferenceRecord") == "true";
    f.Add(std::move(d));
    if (f.task_sid.empty()) f.task_sid = task;
    if (f.call_sid.empty()) f.call_sid = call;
    if (f.conference_sid.empty()) f.conference_sid = conference;
  } else if (type == "recording") {
    int c = index->Link({&task, &call, &conference, &recording, &leg});
    CallFacts& f = index->facts(c);
    LoggedAction a;
    a.ms = ms;
    a.operation = line.Get("operation");
    a.result = line.Get("result");
    a.recording_sid = recording;
    a.call_sid = call;
    a.decision_id = line.Get("decisionId");
    a.message = line.Get("message");
    f.actions.push_back(std::move(a));
    if (f.task_sid.empty()) f.task_sid = task;
    if (f.conference_sid.empty()) f.conference_sid = conference;
  } else if (type == "recording_status") {
    int c = index->Link({&task, &call, &conference, &recording});
    if (line.Get("status") == "absent" && !recording.empty()) {
      int code = 0;
      for (const char* key : {"errorCode", "twilioErrorCode", "error_code"}) {
        if (code == 0) code = line.Int(key);
      }
      index->facts(c).absent_codes[recording] = code;
    }
  }
}

// Folds every line of the decision log whose time lies in [keep_from_ms, keep_to_ms] into
// calls. Stops early (leaving the rest unread) once progress->stop is set.
void ReadLog(const DecisionLogReader& reader, int64_t keep_from_ms, int64_t keep_to_ms,
             CallIndex* index, LogStats* stats, Progress* progress) {
  LineFields fields;
  uint64_t bytes = 0;
  reader.ForEachLine([&](const DecisionLogReader::Line& l) {
    ++stats->lines;
    bytes += l.text.size() + 1;
    if ((stats->lines & 0x3fff) == 0) progress->log_bytes.store(bytes, std::memory_order_relaxed);
    if (progress->stop.load(std::memory_order_relaxed)) return;
    std::string_view line = l.text;
    if (line.empty()) return;
    // Lines written by recrules start with their time: most are dismissed without parsing.
    constexpr std::string_view kTimeKey = "{\"time\":\"";
    int64_t ms = -1;
    if (line.substr(0, kTimeKey.size()) == kTimeKey) {
      ms = LogTimeMs(line.substr(kTimeKey.size()));
      if (ms >= 0 && (ms < keep_from_ms || ms > keep_to_ms)) return;
      constexpr std::string_view kTypeKey = "\",\"type\":\"";
      size_t type_at = line.find(kTypeKey, kTimeKey.size());
      if (type_at != std::string_view::npos && type_at < 48) {
        std::string_view type = line.substr(type_at + kTypeKey.size(), 17);
        if (type.substr(0, 9) != "decision\"" && type.substr(0, 10) != "recording\"" &&
            type.substr(0, 17) != "recording_status\"") {
          return;
        }
      }
    }
    if (!fields.Parse(line)) {
      ++stats->unreadable;
      return;
    }
    if (ms < 0) {
      ms = LogTimeMs(fields.Get("time"));
      if (ms < 0 || ms < keep_from_ms || ms > keep_to_ms) return;
    }
    Fold(fields, ms, index);
  });
}

// ---- verdicts ---------------------------------------------------------------------------------

struct Row {
  std::string verdict, recording_sid, call_sid, conference_sid, task_sid, source, status, duration,
      decision_id, rule, cause;
  int64_t start_ms = -1;  // the recording's start, or the call's first decision
};

// What the log says recrules wanted for one call.
struct Intent {
  const LoggedDecision* record = nullptr;  // the first decision to record
  const LoggedDecision* other = nullptr;   // the first decision to skip or pause
  const LoggedAction* started = nullptr;   // the create_call_recording that worked
  const LoggedAction* failed = nullptr;    // the last create_call_recording that did not
  bool paused_not_resumed = false;
  std::string pause_cause;
};

Intent IntentOf(CallFacts& f) {
  std::stable_sort(f.decisions.begin(), f.decisions.end(),
                   [](const auto& a, const auto& b) { return a.ms < b.ms; });
  std::stable_sort(f.actions.begin(), f.actions.end(),
                   [](const auto& a, const auto& b) { return a.ms < b.ms; });
  Intent in;
  for (const LoggedDecision& d : f.decisions) {
    if (d.action == "record" && in.record == nullptr) in.record = &d;
    if (d.action != "record" && in.other == nullptr) in.other = &d;
  }
  const LoggedAction* last_pause = nullptr;
  for (const LoggedAction& a : f.actions) {
    if (a.operation == "create_call_recording") {
      if (a.ok() && in.started == nullptr) in.started = &a;
      if (!a.ok()) in.failed = &a;
    }
    if (a.operation.rfind("pause_", 0) == 0 && a.ok()) last_pause = &a;
    if (a.operation.rfind("resume_", 0) == 0 && a.ok()) last_pause = nullptr;
  }
  if (last_pause != nullptr) {
    // Paused by recrules and never resumed: wrong only when the policy said record again.
    for (const LoggedDecision& d : f.decisions) {
      if (d.ms > last_pause->ms && d.action == "record") {
        in.paused_not_resumed = true;
        std::string resume_failed;
        for (const LoggedAction& a : f.actions) {
          if (a.ms >= last_pause->ms && a.operation.rfind("resume_", 0) == 0 && !a.ok()) {
            resume_failed = a.operation + " failed: " + a.message;
          }
        }
        in.pause_cause = "paused by " + last_pause->operation + " at " + Rfc3339(last_pause->ms) +
                         "; decision " + d.id + " (rule " + d.rule + ") said record again at " +
                         Rfc3339(d.ms) + ", but " +
                         (resume_failed.empty() ? "no resume succeeded" : resume_failed);
        break;
      }
    }
  }
  return in;
}

// "decision 5f0c... (rule default: no rule matched) said record dual-channel"
std::string DecisionWords(const LoggedDecision& d) {
  std::string words = "decision " + d.id + " (rule " + d.rule;
  if (!d.reason.empty()) words += ": " + d.reason;
  words += ") said " + d.action;
  if (d.action == "record" && !d.mode.empty()) words += " " + d.mode;
  return words;
}

// True when a record decision asks for recordings of this kind: conference recordings when
// Flex records the conference, call recordings when recrules records the legs itself.
bool KindDecided(const LoggedDecision& d, const TwilioRecording& r) {
  const bool conference = d.conference_record || d.mode == "conference";
  return r.conference_kind() ? conference : d.mode == "dual-channel";
}

class Audit {
 public:
  Audit(int64_t from_ms, int64_t to_ms) : from_ms_(from_ms), to_ms_(to_ms) {}

  // recordings: everything listed (whole days); only those starting in the window, or tied to a
  // call decided in it, become rows.
  std::vector<Row> Judge(std::vector<TwilioRecording>& recordings, CallIndex& index) {
    std::vector<Row> rows;
    std::vector<int> call_of(recordings.size(), -1);
    std::unordered_map<int, Intent> intents;
    std::unordered_map<int, std::vector<size_t>> recordings_of;
    for (size_t i = 0; i < recordings.size(); ++i) {
      const TwilioRecording& r = recordings[i];
      int c = -1;
      for (const std::string* sid : {&r.sid, &r.call_sid, &r.conference_sid}) {
        if (c < 0 && !sid->empty()) c = index.CallOf(*sid);
      }
      call_of[i] = c;
      if (c >= 0) recordings_of[c].push_back(i);
    }
    auto intent = [&](int c) -> Intent& {
      auto it = intents.find(c);
      if (it == intents.end()) it = intents.emplace(c, IntentOf(index.facts(c))).first;
      return it->second;
    };
    // Duplicates: a second live recording of one leg (one call SID), or of one conference.
    std::vector<size_t> order(recordings.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return recordings[a].start_ms < recordings[b].start_ms;
    });
    std::unordered_map<std::string, size_t> first_on_leg;
    std::vector<long> duplicate_of(recordings.size(), -1);
    for (size_t i : order) {
      const TwilioRecording& r = recordings[i];
      if (r.absent() || r.status == "deleted") continue;
      std::string leg = r.conference_kind() ? "CF:" + r.conference_sid : r.call_sid;
      if (leg.size() <= 3) continue;
      auto [it, first] = first_on_leg.emplace(leg, i);
      if (!first) duplicate_of[i] = long(it->second);
    }

    for (size_t i = 0; i < recordings.size(); ++i) {
      const TwilioRecording& r = recordings[i];
      const int c = call_of[i];
      const bool in_window = r.start_ms >= from_ms_ && r.start_ms < to_ms_;
      const bool call_in_window = c >= 0 && InWindow(index.facts(c).first_decision_ms);
      if (!in_window && !call_in_window) continue;
      Row row;
      row.recording_sid = r.sid;
      row.call_sid = r.call_sid;
      row.conference_sid = r.conference_sid;
      row.source = r.source;
      row.status = r.status;
      row.duration = r.duration;
      row.start_ms = r.start_ms;
      const CallFacts* f = c >= 0 ? &index.facts(c) : nullptr;
      if (f != nullptr) {
        row.task_sid = f->task_sid;
        if (row.conference_sid.empty()) row.conference_sid = f->conference_sid;
      }
      if (f == nullptr || f->decisions.empty()) {
        row.verdict = duplicate_of[i] >= 0 ? "duplicate" : "unexpected";
        row.cause = "recrules never decided on this call; " + LikelyCause(r.source);
        if (duplicate_of[i] >= 0) row.cause = DuplicateCause(recordings, i, duplicate_of[i]);
        rows.push_back(std::move(row));
        continue;
      }
      Intent& in = intent(c);
      const LoggedDecision* named = in.record ? in.record : in.other;
      row.decision_id = named ? named->id : "";
      row.rule = named ? named->rule : "";
      if (duplicate_of[i] >= 0) {
        row.verdict = "duplicate";
        row.cause = DuplicateCause(recordings, i, duplicate_of[i]);
      } else if (r.absent()) {
        row.verdict = in.record ? "missing" : "unexpected";
        row.cause = "Twilio has this recording absent (no audio; error_code " +
                    std::to_string(r.error_code) + ")";
        if (!in.record) row.cause += "; " + LikelyCause(r.source);
      } else if (in.record == nullptr) {
        row.verdict = "unexpected";
        row.cause = "recorded, but " + DecisionWords(*in.other) + "; " + LikelyCause(r.source);
      } else if (!StartedByRecrules(f, r) && !KindDecided(*in.record, r)) {
        row.verdict = "unexpected";
        row.cause = "recorded, but " + DecisionWords(*in.record) + ", not a " +
                    (r.conference_kind() ? "conference" : "call") + " recording; " +
                    LikelyCause(r.source);
      } else if (in.paused_not_resumed) {
        row.verdict = "paused_not_resumed";
        row.cause = in.pause_cause;
      } else {
        row.verdict = "explained";
        row.cause = DecisionWords(*in.record);
        if (StartedByRecrules(f, r)) {
          row.cause += "; recrules started it (create_call_recording ok)";
        } else if (r.conference_kind()) {
          row.cause += "; Flex records the conference";
        }
      }
      rows.push_back(std::move(row));
    }

    // Calls decided in the window: one row each that has no recording row.
    for (int c = 0; c < index.size(); ++c) {
      if (index.Find(c) != c) continue;
      CallFacts& f = index.facts(c);
      if (f.decisions.empty() || !InWindow(f.first_decision_ms)) continue;
      Intent& in = intent(c);
      bool has_live = false;
      for (size_t i : recordings_of[c]) has_live = has_live || !recordings[i].absent();
      if (has_live) continue;
      bool has_row = !recordings_of[c].empty();  // absent ones already said missing
      if (has_row && in.record) continue;
      Row row;
      row.task_sid = f.task_sid;
      row.call_sid = f.call_sid;
      row.conference_sid = f.conference_sid;
      row.start_ms = f.first_decision_ms;
      const LoggedDecision* named = in.record ? in.record : in.other;
      row.decision_id = named->id;
      row.rule = named->rule;
      if (in.record == nullptr) {
        row.verdict = "explained";
        row.cause = "not recorded, as " + DecisionWords(*in.other);
      } else {
        row.verdict = "missing";
        if (in.started != nullptr) {
          row.recording_sid = in.started->recording_sid;
          row.call_sid = in.started->call_sid.empty() ? row.call_sid : in.started->call_sid;
          row.cause = "recrules started " + in.started->recording_sid + " on " +
                      in.started->call_sid + " at " + Rfc3339(in.started->ms) +
                      " but Twilio does not list it";
        } else if (in.failed != nullptr) {
          row.call_sid = in.failed->call_sid.empty() ? row.call_sid : in.failed->call_sid;
          row.cause = "create_call_recording failed: " + in.failed->message;
        } else if (in.record->mode == "conference" || in.record->conference_record) {
          row.cause = "Flex was to record the conference; Twilio has no recording of it";
        } else {
          row.cause = "no recording was started (no create_call_recording in the log)";
        }
        for (const auto& [sid, code] : f.absent_codes) {
          row.recording_sid = sid;
          row.cause += "; Twilio reported it absent (error_code " + std::to_string(code) + ")";
        }
        row.cause = DecisionWords(*in.record) + "; " + row.cause;
      }
      rows.push_back(std::move(row));
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.recording_sid < b.recording_sid;
    });
    return rows;
  }

  bool InWindow(int64_t ms) const { return ms >= from_ms_ && ms < to_ms_; }

 private:
  static bool StartedByRecrules(const CallFacts* f, const TwilioRecording& r) {
    for (const LoggedAction& a : f->actions) {
      if (a.ok() && a.recording_sid == r.sid) return true;
    }
    return false;
  }

  static std::string DuplicateCause(const std::vector<TwilioRecording>& recordings, size_t i,
                                    long first) {
    const TwilioRecording& r = recordings[i];
    const TwilioRecording& f = recordings[size_t(first)];
    std::string leg = r.conference_kind() ? "conference " + r.conference_sid : "call " + r.call_sid;
    return "second recording of " + leg + " (the first is " + f.sid + ", source " + f.source +
           "); this one: " + LikelyCause(r.source);
  }

  int64_t from_ms_, to_ms_;
};

// ---- output -----------------------------------------------------------------------------------

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

nlohmann::ordered_json RowJson(const Row& r) {
  auto opt = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json duration = nullptr;
  if (!r.duration.empty()) {
    char* end = nullptr;
    long v = std::strtol(r.duration.c_str(), &end, 10);
    duration = end && *end == '\0' ? json(v) : json(r.duration);
  }
  return nlohmann::ordered_json{
      {"verdict", r.verdict},       {"recordingSid", opt(r.recording_sid)},
      {"callSid", opt(r.call_sid)}, {"conferenceSid", opt(r.conference_sid)},
      {"taskSid", opt(r.task_sid)}, {"source", opt(r.source)},
      {"status", opt(r.status)},    {"startTime", opt(Rfc3339(r.start_ms))},
      {"duration", duration},       {"decisionId", opt(r.decision_id)},
      {"rule", opt(r.rule)},        {"cause", r.cause}};
}

// Rows go out in batches: a day's table need not sit in memory twice.
void FlushIfLarge(std::string* out) {
  if (out->size() < (1 << 20)) return;
  std::fwrite(out->data(), 1, out->size(), stdout);
  out->clear();
}

void Print(const std::vector<Row>& rows, const std::string& format, int64_t from_ms,
           int64_t to_ms) {
  std::map<std::string, size_t> summary;
  for (const char* v : kVerdicts) summary[v] = 0;
  for (const Row& r : rows) ++summary[r.verdict];
  std::string out;
  if (format == "json") {
    nlohmann::ordered_json doc;
    doc["from"] = Rfc3339(from_ms);
    doc["to"] = Rfc3339(to_ms);
    nlohmann::ordered_json counts;
    for (const char* v : kVerdicts) counts[v] = summary[v];
    doc["summary"] = counts;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Row& r : rows) list.push_back(RowJson(r));
    doc["rows"] = std::move(list);
    out = doc.dump() + "\n";
  } else if (format == "csv") {
    out =
        "verdict,recordingSid,callSid,conferenceSid,taskSid,source,status,startTime,duration,"
        "decisionId,rule,cause\n";
    for (const Row& r : rows) {
      for (const std::string& f :
           {r.verdict, r.recording_sid, r.call_sid, r.conference_sid, r.task_sid, r.source,
            r.status, Rfc3339(r.start_ms), r.duration, r.decision_id, r.rule}) {
        out += CsvField(f);
        out += ',';
      }
      out += CsvField(r.cause);
      out += '\n';
      FlushIfLarge(&out);
    }
  } else {
    char line[512];
    std::snprintf(line, sizeof line, "%-18s %-34s %-34s %-20s %-27s %s\n", "VERDICT", "RECORDING",
                  "CALL", "START", "SOURCE", "CAUSE");
    out += line;
    for (const Row& r : rows) {
      std::snprintf(line, sizeof line, "%-18s %-34s %-34s %-20s %-27s ", r.verdict.c_str(),
                    r.recording_sid.empty() ? "-" : r.recording_sid.c_str(),
                    r.call_sid.empty() ? "-" : r.call_sid.c_str(), Rfc3339(r.start_ms).c_str(),
                    r.source.empty() ? "-" : r.source.c_str());
      out += line;
      out += r.cause;
      out += '\n';
      FlushIfLarge(&out);
    }
    out += "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  // The summary: in the JSON document, on stderr beside CSV (which stays one table), and at
  // the end of the table.
  if (format != "json") {
    std::string s = "audit " + Rfc3339(from_ms) + " .. " + Rfc3339(to_ms) + ":";
    for (const char* v : kVerdicts) s += " " + std::string(v) + " " + std::to_string(summary[v]);
    s += "\n";
    std::fputs(s.c_str(), format == "csv" ? stderr : stdout);
  }
}

int RunAudit(const AuditArgs& args) {
  std::optional<int64_t> from = ParseTimeArg(args.from);
  if (!from) {
    PrintError(kCommand, "--from \"" + args.from +
                             "\": expected unix seconds or an RFC 3339 time "
                             "(2026-12-01T00:00:00Z)");
    return kExitBadInput;
  }
  std::optional<int64_t> to = ParseTimeArg(args.to);
  if (!to) {
    PrintError(kCommand, "--to \"" + args.to +
                             "\": expected unix seconds or an RFC 3339 time "
                             "(2026-12-02T00:00:00Z)");
    return kExitBadInput;
  }
  if (*to <= *from) {
    PrintError(kCommand, "--to must be after --from");
    return kExitBadInput;
  }
  std::vector<std::string> logs = args.logs;
  if (logs.empty()) {
    if (::isatty(STDIN_FILENO)) {
      PrintError(kCommand, "no decision log: give --log FILE (or pipe it on stdin)");
      return kExitBadInput;
    }
    logs.push_back("-");
  }
  // Rotated files come with each: FILE.N ... FILE.1, then FILE.
  Result<std::unique_ptr<DecisionLogReader>> reader = DecisionLogReader::Open(logs);
  if (!reader.ok()) {
    PrintError(kCommand, "--log " + reader.status().message());
    return kExitBadInput;
  }
  Result<twilio::TwilioConfig> config = twilio::TwilioConfig::FromEnvironment();
  if (!config.ok()) {
    PrintError(kCommand, config.status().message());
    return kExitBadInput;
  }
  if (!config->has_credentials()) {
    PrintError(kCommand,
               "Twilio credentials are not configured: set TWILIO_ACCOUNT_SID and "
               "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)");
    return kExitBadInput;
  }
  const int64_t from_ms = *from * 1000, to_ms = *to * 1000;

  twilio::TwilioClient client(*config);
  Progress progress;
  progress.on = ::isatty(STDERR_FILENO);
  // The log is read while Twilio lists the recordings: neither needs the other until the join.
  CallIndex index;
  LogStats stats;
  auto log_read = std::async(std::launch::async, [&] {
    ReadLog(**reader, from_ms - kLogMarginMs, to_ms + kLogMarginMs, &index, &stats, &progress);
  });
  std::vector<TwilioRecording> recordings;
  twilio::TwilioClient::RecordingsQuery query;
  query.date_created_from = GmtDay(from_ms);
  query.date_created_to = GmtDay(to_ms - 1);
  const bool listed = ListAll(client, query, &recordings, &progress);
  if (!listed) progress.stop = true;
  while (log_read.wait_for(std::chrono::milliseconds(250)) != std::future_status::ready) {
    progress.Print();
  }
  log_read.get();
  progress.Clear();
  if (!listed) return kExitBadInput;
  if (stats.unreadable > 0) {
    PrintError(kCommand, std::to_string(stats.unreadable) +
                             " decision log line(s) are not JSON objects; skipped");
  }

  // A call decided to record just before the end of the listed days may have its recording
  // created on the next day: ask Twilio about such a call, when none of its recordings was
  // listed, before calling it missing.
  const int64_t listed_until = (to_ms - 1) / kDayMs * kDayMs + kDayMs;
  std::unordered_map<std::string, bool> have;
  std::vector<bool> recorded(size_t(index.size()), false);
  for (const TwilioRecording& r : recordings) {
    have[r.sid] = true;
    for (const std::string* sid : {&r.sid, &r.call_sid, &r.conference_sid}) {
      int c = sid->empty() ? -1 : index.CallOf(*sid);
      if (c >= 0 && !r.absent()) recorded[size_t(c)] = true;
    }
  }
  for (int c = 0; c < index.size(); ++c) {
    if (index.Find(c) != c || recorded[size_t(c)]) continue;
    CallFacts& f = index.facts(c);
    if (f.decisions.empty() || f.first_decision_ms < from_ms || f.first_decision_ms >= to_ms ||
        f.first_decision_ms + kLateStartMs < listed_until ||
        std::none_of(f.decisions.begin(), f.decisions.end(),
                     [](const LoggedDecision& d) { return d.action == "record"; })) {
      continue;
    }
    twilio::TwilioClient::RecordingsQuery late;
    late.date_created_from = GmtDay(listed_until);
    late.call_sid = f.call_sid;
    late.conference_sid = f.call_sid.empty() ? f.conference_sid : "";
    if (late.call_sid.empty() && late.conference_sid.empty()) continue;
    std::vector<TwilioRecording> more;
    if (!ListAll(client, late, &more, nullptr)) return kExitBadInput;
    for (TwilioRecording& r : more) {
      if (have.emplace(r.sid, true).second) recordings.push_back(std::move(r));
    }
  }

  Audit audit(from_ms, to_ms);
  std::vector<Row> rows = audit.Judge(recordings, index);
  Print(rows, args.format, from_ms, to_ms);
  for (const Row& r : rows) {
    if (r.verdict == "unexpected" || r.verdict == "duplicate" || r.verdict == "missing") {
      return kExitFailed;
    }
  }
  return kExitOk;
}

}  // namespace

void AddAuditCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<AuditArgs>();
  CLI::App* cmd = app.add_subcommand(
      "audit",
      "Compare what Twilio recorded in a time window with what recrules decided: every "
      "recording and every decided call gets a verdict (explained, unexpected, duplicate, "
      "missing, paused_not_resumed). Exit 0 when nothing is unexpected, duplicate or missing, 1 "
      "otherwise, 2 for bad input or when Twilio cannot be read. Twilio credentials and base "
      "URL from the environment, as for serve.");
  cmd->add_option("--from", args->from, "Start of the window (RFC 3339 or unix seconds)")
      ->required();
  cmd->add_option("--to", args->to, "End of the window, exclusive (RFC 3339 or unix seconds)")
      ->required();
  cmd->add_option("--log", args->logs,
                  "Decision log files (rotated ones too; - for stdin). Default: stdin");
  cmd->add_option("--format", args->format, "table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  cmd->callback([args, exit_code] { *exit_code = RunAudit(*args); });
}

}  // namespace recrules::cli
