// JSON for PolicyInfo and ReloadResult: the one writer behind GET /v1/policy and the C API.
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <string>

#include "json.h"
#include "recrules/engine.h"

namespace recrules {

namespace {

using detail::AppendJsonString;

// "2026-11-22T02:29:45.399Z": RFC 3339 in UTC with milliseconds.
void AppendRfc3339(std::string* out, int64_t unix_ms) {
  int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
  if (ms < 0) {  // before 1970: floor, so the milliseconds stay in 0..999
    ms += 1000;
    --secs;
  }
  std::time_t t = std::time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", int(ms));
  AppendJsonString(out, buf);
}

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%" PRId64, v);
  out->append(buf, size_t(n));
}

void AppendStrings(std::string* out, const std::vector<std::string>& values) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, values[i]);
  }
  out->push_back(']');
}

}  // namespace

void ReloadResult::AppendJson(std::string* out) const {
  out->append(ok ? "{\"ok\":true" : "{\"ok\":false");
  out->append(",\"trigger\":");
  AppendJsonString(out, trigger);
  out->append(",\"version\":");
  AppendJsonString(out, version);
  out->append(",\"previousVersion\":");
  AppendJsonString(out, previous_version);
  out->append(",\"error\":");
  if (error.empty()) {
    out->append("null");
  } else {
    AppendJsonString(out, error);
  }
  out->append(",\"at\":");
  AppendRfc3339(out, at_unix_ms);
  out->append(",\"atUnixMs\":");
  AppendInt(out, at_unix_ms);
  out->append(",\"durationUs\":");
  AppendInt(out, duration_us);
  out->push_back('}');
}

std::string ReloadResult::ToJson() const {
  std::string out;
  AppendJson(&out);
  return out;
}

void PolicyInfo::AppendJson(std::string* out) const {
  out->append("{\"version\":");
  AppendJsonString(out, version);
  out->append(",\"path\":");
  AppendJsonString(out, path);
  out->append(",\"rules\":");
  AppendStrings(out, rules);
  out->append(",\"default\":");
  AppendJsonString(out, default_action);
  out->append(",\"onRuleError\":");
  AppendJsonString(out, on_rule_error);
  out->append(",\"mode\":");
  AppendJsonString(out, mode);
  out->append(",\"warnings\":");
  AppendStrings(out, warnings);
  out->append(",\"loadedAt\":");
  AppendRfc3339(out, loaded_at_unix_ms);
  out->append(",\"loadedAtUnixMs\":");
  AppendInt(out, loaded_at_unix_ms);
  out->append(",\"lastReload\":");
  if (last_reload) {
    last_reload->AppendJson(out);
  } else {
    out->append("null");
  }
  out->push_back('}');
}

std::string PolicyInfo::ToJson() const {
  std::string out;
  AppendJson(&out);
  return out;
}

}  // namespace recrules
