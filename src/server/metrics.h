// Prometheus metrics of `recrules serve`, rendered in the text exposition format.
// Thread-safe: every method may be called from any thread. Counting takes a short lock on a
// small map (labels are few: actions x rules, routes x statuses); the latency histogram is atomic.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "recrules/decision.h"
#include "recrules/engine.h"

namespace recrules::server {

class Metrics {
 public:
  Metrics();
  void CountDecision(const Decision& decision);
  void CountReload(const ReloadResult& result);
  // operation: "create_call_recording", "update_call_recording", ...; result: "ok",
  // "error_<http status>" or "unreachable".
  void CountTwilioCall(const std::string& operation, const std::string& result);
  void CountHttp(const std::string& route, int status, double seconds);
  // A recording status callback from Twilio: "in-progress", "completed", "absent", ...
  void CountRecordingStatus(std::string_view status);
  // policy_version is exported as recrules_policy_info{version="..."} 1.
  std::string Render(const std::string& policy_version) const;

  // Upper bounds of the decision latency buckets, in seconds.
  static constexpr std::array<double, 12> kLatencyBuckets = {
      1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 1e-1};

 private:
  using Labels = std::vector<std::string>;  // label values in the family's label order
  // Label values to look up with: counting an existing label set allocates nothing.
  using LabelView = std::initializer_list<std::string_view>;
  struct LabelsLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::lexicographical_compare(
          a.begin(), a.end(), b.begin(), b.end(),
          [](std::string_view x, std::string_view y) { return x < y; });
    }
  };
  struct Family {
    std::string name, help, type;
    std::vector<std::string> label_names;
    std::map<Labels, uint64_t, LabelsLess> values;
  };
  // Adds n under the labels; the caller holds mu_.
  static void AddLocked(Family& family, LabelView labels, uint64_t n = 1);
  void Add(Family& family, LabelView labels, uint64_t n = 1);
  static void RenderFamily(const Family& family, std::string* out);

  mutable std::mutex mu_;
  Family decisions_, rule_errors_, reloads_, twilio_calls_, http_requests_, recordings_;
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency_buckets_{};
  std::atomic<uint64_t> latency_count_{0};
  std::atomic<uint64_t> latency_sum_ns_{0};
  std::array<std::atomic<uint64_t>, 8> http_seconds_buckets_{};  // see kHttpBuckets in .cc
  std::atomic<uint64_t> http_count_{0};
  std::atomic<uint64_t> http_sum_ns_{0};
  int64_t started_unix_ = 0;
};

}  // namespace recrules::server
