// policy.json: reading and validating the file. Compiling it into rules is policy.h's job.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "recrules/decision.h"
#include "recrules/status.h"

namespace recrules::detail {

struct AttributeExclusion {
  std::string key;       // dot path as written
  nlohmann::json value;  // compared with strict JSON equality
};

// One feature's exclusion lists, with the JSON path they were read from for messages.
struct ExclusionConfig {
  std::string source;  // "features.conditional_recording"
  std::vector<std::string> queues;
  std::vector<AttributeExclusion> attributes;
};

enum class OnRuleError { kNext, kRecord, kSkip };
const char* OnRuleErrorName(OnRuleError e);

// What recrules.limits accepts. Beyond the maxima a limit no longer limits anything: a
// billion instructions already takes seconds, and a state's memory is counted in bytes.
constexpr uint64_t kMinInstructions = 1000, kMaxInstructions = 10'000'000'000;
constexpr uint64_t kMinMemoryKb = 256, kMaxMemoryKb = uint64_t(4) << 20;

struct RuleLimits {
  uint64_t instructions = 1'000'000;  // per decision, per rule
  uint64_t memory_kb = 16 * 1024;     // per Lua state
  uint64_t time_ms = 200;             // wall clock per decision, per rule
};

// A file that contributes to the policy version.
struct PolicySource {
  std::string name;  // relative to the policy folder
  std::string content;
};

struct PolicyConfig {
  std::string dir;   // the policy folder
  std::string file;  // path of policy.json as given or found
  nlohmann::json features = nlohmann::json::object();

  bool conditional_enabled = false;
  ExclusionConfig conditional;
  bool dual_enabled = false;
  Channel dual_channel = Channel::kWorker;
  ExclusionConfig dual;
  bool pause_enabled = false;
  bool include_silence = false;

  std::vector<std::string> rules;
  Action default_action = Action::kRecord;
  OnRuleError on_rule_error = OnRuleError::kNext;
  RuleLimits limits;

  std::vector<std::string> warnings;
  std::vector<PolicySource> sources;  // policy.json first; rule and data files are added later
};

// The built-in rule order used when policy.json has no recrules.rules.
const std::vector<std::string>& DefaultRuleOrder();

// Reads policy.json at `path` (a folder holding policy.json, or the file itself). Errors name
// the file, then the JSON path, then what is wrong.
Result<PolicyConfig> LoadPolicyConfig(const std::string& path);

// The largest policy file (policy.json, a rule, a data file) read: larger is refused before
// it is read, since a parsed data file takes many times its size in memory.
constexpr size_t kMaxPolicyFileBytes = size_t(16) << 20;
// The deepest nesting of policy.json and data files: the default limit of requests.
constexpr size_t kMaxPolicyJsonDepth = 64;

// Reads a whole file of at most `max_bytes`; kNotFound / kUnavailable / kLimitExceeded with the
// path in the message. The size is checked before reading; a file that is not a regular one
// (a pipe, a device) is read up to the limit.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = kMaxPolicyFileBytes);

// Parses policy.json or a data file: no more than kMaxPolicyJsonDepth levels of nesting, no key
// twice in one object (JSON leaves duplicates undefined; one exclusion list silently replacing
// another is worse than an error). Integers beyond 64 bits are read as doubles. kInvalidPolicy
// naming `name`, then the JSON path or the line and column.
Result<nlohmann::json> ParsePolicyJson(std::string_view text, const std::string& name);

// What a policy may read. A data file (its contents reach rules, and through them decisions and
// logs) must be a regular file whose real path, symbolic links resolved, lies inside the policy
// folder. A rule file must be a regular file; it may be a link out of the folder (policies share
// the rule library that way, as examples/policy does), but only to a file named *.lua.
// `rel` is relative to `dir`. Ok when the file does not exist (reading it reports that).
// Otherwise an error message without the file's name, for the caller to prefix: "resolves
// outside the policy folder (to /etc/passwd)", "links to /dev/zero, not to a .lua file", "not a
// regular file".
enum class PolicyFileKind { kRule, kData };
Status CheckPolicyFile(const std::string& dir, const std::string& rel, PolicyFileKind kind);

}  // namespace recrules::detail
