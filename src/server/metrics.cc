#include "server/metrics.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace recrules::server {

namespace {

constexpr std::array<double, 7> kHttpBuckets = {1e-4, 5e-4, 1e-3, 5e-3, 2.5e-2, 1e-1, 1.0};

// Label values escaped as the exposition format asks: backslash, quote, newline.
std::string EscapeLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// "rule:line: message" -> "rule".
std::string RuleOfError(const std::string& error) {
  size_t colon = error.find(": ");
  std::string rule = colon == std::string::npos ? error : error.substr(0, colon);
  // builtin:name keeps its colon; "file.lua:12" loses the line.
  size_t last = rule.rfind(':');
  if (last != std::string::npos && last + 1 < rule.size() &&
      rule.find_first_not_of("0123456789", last + 1) == std::string::npos) {
    rule.resize(last);
  }
  return rule;
}

}  // namespace

Metrics::Metrics() {
  decisions_ = {"recrules_decisions_total",
                "Decisions by action and by the rule that decided.",
                "counter",
                {"action", "rule", "event"},
                {}};
  rule_errors_ = {"recrules_rule_errors_total",
                  "Rules that failed while deciding, by rule.",
                  "counter",
                  {"rule"},
                  {}};
  reloads_ = {"recrules_policy_reloads_total",
              "Policy reload attempts by trigger and result.",
              "counter",
              {"trigger", "result"},
              {}};
  twilio_calls_ = {"recrules_twilio_calls_total",
                   "Twilio API operations by operation and result.",
                   "counter",
                   {"operation", "result"},
                   {}};
  http_requests_ = {"recrules_http_requests_total",
                    "HTTP requests answered, by route and status.",
                    "counter",
                    {"route", "status"},
                    {}};
  recordings_ = {"recrules_recordings_total",
                 "Recording status callbacks from Twilio, by status.",
                 "counter",
                 {"status"},
                 {}};
  started_unix_ = int64_t(std::time(nullptr));
}

void Metrics::AddLocked(Family& family, LabelView labels, uint64_t n) {
  auto it = family.values.find(labels);
  if (it == family.values.end()) {
    it = family.values.emplace(Labels(labels.begin(), labels.end()), 0).first;
  }
  it->second += n;
}

void Metrics::Add(Family& family, LabelView labels, uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(family, labels, n);
}

void Metrics::CountDecision(const Decision& d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    AddLocked(decisions_, {ActionName(d.action), d.rule, EventName(d.event)});
    for (const std::string& e : d.rule_errors) AddLocked(rule_errors_, {RuleOfError(e)});
  }
  const double seconds = double(d.latency_ns) / 1e9;
  size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
  latency_buckets_[i].fetch_add(1, std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(uint64_t(d.latency_ns > 0 ? d.latency_ns : 0),
                            std::memory_order_relaxed);
}

void Metrics::CountReload(const ReloadResult& r) {
  Add(reloads_, {r.trigger, r.ok ? "ok" : "error"});
}

void Metrics::CountTwilioCall(const std::string& operation, const std::string& result) {
  Add(twilio_calls_, {operation, result});
}

void Metrics::CountHttp(const std::string& route, int status, double seconds) {
  char status_text[12];
  auto [end, ec] = std::to_chars(status_text, status_text + sizeof status_text, status);
  Add(http_requests_, {route, std::string_view(status_text, size_t(end - status_text))});
  size_t i = 0;
  while (i < kHttpBuckets.size() && seconds > kHttpBuckets[i]) ++i;
  http_seconds_buckets_[i].fetch_add(1, std::memory_order_relaxed);
  http_count_.fetch_add(1, std::memory_order_relaxed);
  http_sum_ns_.fetch_add(uint64_t(seconds * 1e9), std::memory_order_relaxed);
}

void Metrics::CountRecordingStatus(std::string_view status) {
  // Twilio's statuses only: a label value per unknown word would let callers grow the family.
  static constexpr std::string_view kKnown[] = {"in-progress", "paused", "stopped", "processing",
                                                "completed",   "absent", "failed",  "deleted"};
  std::string_view label = "other";
  for (std::string_view known : kKnown) {
    if (status == known) label = known;
  }
  Add(recordings_, {label});
}

void Metrics::RenderFamily(const Family& f, std::string* out) {
  *out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
  for (const auto& [labels, value] : f.values) {
    *out += f.name + "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) *out += ",";
      *out += f.label_names[i] + "=\"" + EscapeLabel(labels[i]) + "\"";
    }
    *out += "} " + std::to_string(value) + "\n";
  }
}

namespace {

template <size_t N, size_t M>
void RenderHistogram(const std::string& name, const std::string& help,
                     const std::array<double, N>& bounds,
                     const std::array<std::atomic<uint64_t>, M>& buckets, uint64_t count,
                     uint64_t sum_ns, std::string* out) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < N; ++i) {
    cumulative += buckets[i].load(std::memory_order_relaxed);
    *out += name + "_bucket{le=\"" + Number(bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += buckets[N].load(std::memory_order_relaxed);
  // +Inf equals _count; both are read after the buckets so +Inf never runs behind a bucket.
  if (count < cumulative) count = cumulative;
  *out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
  *out += name + "_sum " + Number(double(sum_ns) / 1e9) + "\n";
  *out += name + "_count " + std::to_string(count) + "\n";
}

}  // namespace

std::string Metrics::Render(const std::string& policy_version) const {
  std::string out;
  out.reserve(4096);
  {
    std::lock_guard<std::mutex> lock(mu_);
    RenderFamily(decisions_, &out);
    RenderFamily(rule_errors_, &out);
    RenderFamily(reloads_, &out);
    RenderFamily(twilio_calls_, &out);
    RenderFamily(http_requests_, &out);
    RenderFamily(recordings_, &out);
  }
  RenderHistogram("recrules_decision_latency_seconds",
                  "Time the engine took to decide, from the decision's latency.", kLatencyBuckets,
                  latency_buckets_, latency_count_.load(), latency_sum_ns_.load(), &out);
  RenderHistogram("recrules_http_request_duration_seconds",
                  "Time from a complete request to its response.", kHttpBuckets,
                  http_seconds_buckets_, http_count_.load(), http_sum_ns_.load(), &out);
  out +=
      "# HELP recrules_policy_info The policy version in force.\n"
      "# TYPE recrules_policy_info gauge\nrecrules_policy_info{version=\"" +
      EscapeLabel(policy_version) + "\"} 1\n";
  out +=
      "# HELP recrules_start_time_seconds When the server started (unix seconds).\n"
      "# TYPE recrules_start_time_seconds gauge\nrecrules_start_time_seconds " +
      std::to_string(started_unix_) + "\n";
  return out;
}

}  // namespace recrules::server
