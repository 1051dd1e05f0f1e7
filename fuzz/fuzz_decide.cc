// Fuzzes the decision path with Lua rules: each input is a request (JSON text) decided against
// the rule library's policy, once with on_rule_error "next" and once with "skip". Whatever the
// task holds, both engines agree on whether it is a valid request, every decision is complete,
// and a rule error is always visible in the decision (never a silent, unexplained outcome).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "fuzz_common.h"

namespace {

using namespace recrules;

struct Engines {
  std::unique_ptr<Engine> next;
  std::unique_ptr<Engine> skip;
};

const Engines& LuaEngines() {
  static const Engines engines = [] {
    spdlog::set_level(spdlog::level::off);  // every rule error is logged; the checks cover them
    return Engines{fuzz::OpenOrAbort(fuzz::WriteLuaPolicy("next")),
                   fuzz::OpenOrAbort(fuzz::WriteLuaPolicy("skip"))};
  }();
  return engines;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The checks every decision on the Lua policy passes, whatever on_rule_error says.
void CheckExplained(const Decision& d) {
  fuzz::CheckDecision(d);
  auto parsed = nlohmann::json::parse(d.ToJson());
  // Each rule error is in the decision's JSON (the decision log line) and in its trace.
  if (d.rule_errors.empty() != !parsed.contains("ruleErrors")) std::abort();
  if (!d.rule_errors.empty() && parsed["ruleErrors"].size() != d.rule_errors.size()) std::abort();
  size_t traced_errors = 0;
  for (const TraceEntry& t : d.trace) {
    if (t.outcome == "error") {
      ++traced_errors;
      if (t.reason.empty()) std::abort();  // an error always says what failed
    }
  }
  if (traced_errors != d.rule_errors.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const Engines& engines = LuaEngines();
  DecideOptions options;
  options.explain = true;
  options.now_unix = 1767225600;  // 2026-01-01: business-hours rules see a fixed clock
  Decision on_next;
  Decision on_skip;
  Status next_status = engines.next->Decide(text, options, &on_next);
  Status skip_status = engines.skip->Decide(text, options, &on_skip);
  if (next_status.ok() != skip_status.ok()) std::abort();
  if (!next_status.ok()) {
    if (next_status.message().empty() || next_status.message() != skip_status.message()) {
      std::abort();
    }
    return 0;
  }
  CheckExplained(on_next);
  CheckExplained(on_skip);
  // "next": a failed rule never decides; the decision came from a later rule or the default.
  for (const std::string& e : on_next.rule_errors) {
    if (StartsWith(e, on_next.rule + ": ")) std::abort();
  }
  // "skip": the first failure skips the call and says why.
  if (!on_skip.rule_errors.empty()) {
    if (on_skip.action != Action::kSkip) std::abort();
    if (!StartsWith(on_skip.reason, "rule failed and on_rule_error is skip: ")) std::abort();
    if (on_skip.rule_errors.size() != 1) std::abort();
  }
  // Both run the same rules in the same order: they agree up to the first failure.
  if (on_skip.rule_errors.empty() && on_next.rule_errors.empty() &&
      (on_next.action != on_skip.action || on_next.rule != on_skip.rule)) {
    std::abort();
  }
  return 0;
}
