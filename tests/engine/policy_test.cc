// policy.json validation: every message names the file, the JSON path and what is wrong.
#include <doctest/doctest.h>

#include <filesystem>

#include "../test_util.h"
#include "policy_config.h"
#include "recrules/engine.h"

using recrules::CheckPolicy;
using recrules::StatusCode;
using recrules::testing::TempDir;

namespace {

// The error for a policy.json with `text`, with the temporary folder replaced by "DIR".
std::string ErrorFor(const std::string& text) {
  TempDir dir;
  dir.Write("policy.json", text);
  auto r = CheckPolicy(dir.path());
  if (r.ok()) return "ok";
  CHECK(r.status().code() == StatusCode::kInvalidPolicy);
  std::string msg = r.status().message();
  size_t at = msg.find(dir.path());
  if (at != std::string::npos) msg.replace(at, dir.path().size(), "DIR");
  return msg;
}

}  // namespace

TEST_CASE("a Flex features block alone is a valid policy with the default rule order") {
  TempDir dir;
  dir.Write("policy.json", R"({"features":{"conditional_recording":{"enabled":true,
    "exclude_queues":["Legal"],"exclude_attributes":[{"key":"direction","value":"outbound"}]}}})");
  auto info = CheckPolicy(dir.path());
  REQUIRE(info.ok());
  CHECK(info->rules == std::vector<std::string>{"builtin:non_voice", "builtin:exclusions",
                                                "builtin:internal_calls",
                                                "builtin:already_recorded"});
  CHECK(info->default_action == "record");
  CHECK(info->on_rule_error == "next");
  CHECK(info->mode == "conference");
  CHECK(info->version.size() == 12);
  // The path of policy.json itself works too.
  auto by_file = CheckPolicy(dir.file("policy.json"));
  REQUIRE(by_file.ok());
  CHECK(by_file->version == info->version);
}

TEST_CASE("validation messages") {
  CHECK(ErrorFor("{\"features\": {,}}") ==
        "DIR/policy.json: malformed JSON at line 1, column 15: syntax error while parsing "
        "object key - unexpected ','; expected string literal");
  // Found by fuzz_policy (fuzz/regressions/policy/number_overflow.json): a number too large for
  // a double was an uncaught exception, which ended the process on load or reload.
  CHECK(ErrorFor(R"({"features":{"pause_recording":{"enabled":45e6789}}})") ==
        "DIR/policy.json: malformed JSON number overflow parsing '45e6789'");
  CHECK(ErrorFor("[]") == "DIR/policy.json: (root): expected an object, got array");
  CHECK(ErrorFor(R"({"featurez":{}})") ==
        "DIR/policy.json: featurez: unknown section (expected \"features\" and \"recrules\")");
  CHECK(ErrorFor(R"({"features":{"dual_channel_recording":{"enabled":true}}})") ==
        "DIR/policy.json: features.dual_channel_recording.channel: missing: dual-channel "
        "recording needs \"customer\" or \"worker\"");
  CHECK(ErrorFor(R"({"features":{"dual_channel_recording":{"enabled":true,"channel":"agent"}}})") ==
        "DIR/policy.json: features.dual_channel_recording.channel: expected \"customer\" or "
        "\"worker\", got \"agent\"");
  CHECK(ErrorFor(R"({"features":{"conditional_recording":{"enabled":"yes"}}})") ==
        "DIR/policy.json: features.conditional_recording.enabled: expected a boolean, got string");
  CHECK(ErrorFor(R"({"features":{"conditional_recording":{"exclude_queues":["a",3]}}})") ==
        "DIR/policy.json: features.conditional_recording.exclude_queues[1]: expected a queue name "
        "or SID string, got number");
  CHECK(
      ErrorFor(R"({"features":{"conditional_recording":{"exclude_attributes":[{"value":1}]}}})") ==
      "DIR/policy.json: features.conditional_recording.exclude_attributes[0]: missing \"key\" "
      "(the dot path into the task attributes)");
  CHECK(
      ErrorFor(
          R"({"features":{"conditional_recording":{"exclude_attributes":[{"key":"a..b","value":1}]}}})") ==
      "DIR/policy.json: features.conditional_recording.exclude_attributes[0].key: \"a..b\" has "
      "an empty step");
  CHECK(
      ErrorFor(R"({"features":{"conditional_recording":{"exclude_attributes":[{"key":"a"}]}}})") ==
      "DIR/policy.json: features.conditional_recording.exclude_attributes[0]: missing \"value\" "
      "(the value that excludes the task)");
  CHECK(ErrorFor(R"({"recrules":{"rules":["builtin:exclusion"]}})") ==
        "DIR/policy.json: recrules.rules[0]: unknown rule \"builtin:exclusion\" (built-in rules: "
        "builtin:exclusions, builtin:non_voice, builtin:internal_calls, "
        "builtin:already_recorded)");
  CHECK(ErrorFor(R"({"recrules":{"rules":["builtin:exclusions","builtin:exclusions"]}})") ==
        "DIR/policy.json: recrules.rules[1]: \"builtin:exclusions\" is listed twice");
  CHECK(ErrorFor(R"({"recrules":{"default":"maybe"}})") ==
        "DIR/policy.json: recrules.default: expected \"record\" or \"skip\", got \"maybe\"");
  CHECK(ErrorFor(R"({"recrules":{"on_rule_error":"panic"}})") ==
        "DIR/policy.json: recrules.on_rule_error: expected \"next\", \"record\" or \"skip\", got "
        "\"panic\"");
  CHECK(ErrorFor(R"({"recrules":{"limits":{"instructions":-1}}})") ==
        "DIR/policy.json: recrules.limits.instructions: expected a positive integer, got number");
  CHECK(ErrorFor(R"({"recrules":{"limits":{"memory_kb":10}}})") ==
        "DIR/policy.json: recrules.limits.memory_kb: must be from 256 to 4194304 (4 GiB), got 10");
  CHECK(ErrorFor(R"({"recrules":{"rulez":[]}})") ==
        "DIR/policy.json: recrules.rulez: unknown setting (expected rules, default, "
        "on_rule_error, limits)");
}

// Issue 23 item 14: limits so large that they wrapped (2^64 - 1 instructions became -1 as a
// signed budget; 2^54 KB overflowed the byte count) are refused with their range.
TEST_CASE("limits are refused outside their range") {
  CHECK(ErrorFor(R"({"recrules":{"limits":{"instructions":18446744073709551615}}})") ==
        "DIR/policy.json: recrules.limits.instructions: must be from 1000 to 10000000000, got "
        "18446744073709551615");
  CHECK(ErrorFor(R"({"recrules":{"limits":{"memory_kb":18014398509481984}}})") ==
        "DIR/policy.json: recrules.limits.memory_kb: must be from 256 to 4194304 (4 GiB), got "
        "18014398509481984");
  CHECK(ErrorFor(R"({"recrules":{"limits":{"instructions":10000000000,"memory_kb":4194304}}})") ==
        "ok");
}

// Issue 23 item 14: the last of two equal keys won silently, so a second "exclude_queues": []
// erased the list.
TEST_CASE("a key twice in one object is refused, naming where") {
  CHECK(ErrorFor(R"({"features":{"conditional_recording":{"exclude_queues":["Legal"],
    "exclude_queues":[]}}})") ==
        "DIR/policy.json: duplicate key \"exclude_queues\" in features.conditional_recording "
        "(each key may appear once)");
  CHECK(ErrorFor(R"({"features":{},"features":{}})") ==
        "DIR/policy.json: duplicate key \"features\" in (root) (each key may appear once)");
  CHECK(ErrorFor(R"({"features":{"conditional_recording":{"exclude_attributes":[{"key":"a",
    "value":{"x":1,"x":2}}]}}})") ==
        "DIR/policy.json: duplicate key \"x\" in "
        "features.conditional_recording.exclude_attributes[0].value (each key may appear once)");
  // The same key in two objects is fine.
  CHECK(ErrorFor(R"({"features":{"conditional_recording":{"enabled":true},
    "pause_recording":{"enabled":true}}})") == "ok");
}

// Issue 23 item 2: a 100 000-deep array overflowed the stack (copying the parsed value) in
// `recrules check` and on reload.
TEST_CASE("policy.json nested deeper than requests may be is refused before it is built") {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(ErrorFor(R"({"features":{"x":)" + deep + "}}") ==
        "DIR/policy.json: JSON nesting is deeper than 64 levels");
  CHECK(ErrorFor(R"({"description":)" + std::string(62, '[') + std::string(62, ']') + "}") == "ok");
  CHECK(ErrorFor(R"({"description":)" + std::string(64, '[') + std::string(64, ']') + "}") ==
        "DIR/policy.json: JSON nesting is deeper than 64 levels");
}

TEST_CASE("data files are held to the same rules: depth, duplicate keys, size") {
  TempDir dir;
  dir.Write("policy.json", R"({"recrules":{"rules":["r.lua"]}})");
  dir.Write("r.lua", "return function(task) return nil end");
  auto error = [&] {
    auto r = CheckPolicy(dir.path());
    if (r.ok()) return std::string("ok");
    std::string msg = r.status().message();
    size_t at = msg.find(dir.path());
    if (at != std::string::npos) msg.replace(at, dir.path().size(), "DIR");
    return msg;
  };
  dir.Write("data/deep.json", std::string(100000, '[') + std::string(100000, ']'));
  CHECK(error() == "data/deep.json: JSON nesting is deeper than 64 levels");
  dir.Write("data/deep.json", R"({"numbers":["+15550100"],"numbers":[]})");
  CHECK(error() ==
        "data/deep.json: duplicate key \"numbers\" in (root) (each key may appear once)");
  dir.Write("data/deep.json", R"({"big":18446744073709552000})");
  CHECK(error() == "ok");
  // A file over the limit is refused by its size, before it is read (sparse: no disk used).
  std::filesystem::resize_file(dir.file("data/deep.json"), 100 << 20);
  CHECK(error() ==
        "data/deep.json: DIR/data/deep.json: 104857600 bytes is over the limit of "
        "16777216 bytes for a policy file");
  std::filesystem::remove(dir.file("data/deep.json"));
  std::filesystem::resize_file(dir.Write("policy.json", ""), 100 << 20);
  CHECK(error() ==
        "DIR/policy.json: 104857600 bytes is over the limit of 16777216 bytes for a "
        "policy file");
}

TEST_CASE("a missing policy names the path") {
  auto r = CheckPolicy("/nonexistent/recrules-policy");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() ==
        "/nonexistent/recrules-policy: no such file (a policy is a folder holding policy.json, or "
        "the path of the file)");
}

TEST_CASE("dual-channel enabled with conditional enabled warns that conditional is ignored") {
  TempDir dir;
  dir.Write("policy.json", R"({"features":{"conditional_recording":{"enabled":true},
    "dual_channel_recording":{"enabled":true,"channel":"customer"}}})");
  auto info = CheckPolicy(dir.path());
  REQUIRE(info.ok());
  CHECK(info->mode == "dual-channel");
  REQUIRE(info->warnings.size() == 1);
  CHECK(info->warnings[0] ==
        "features.conditional_recording is ignored because features.dual_channel_recording is "
        "enabled: its own exclusions apply");
}

TEST_CASE("the version is a content hash") {
  TempDir a, b;
  a.Write("policy.json", R"({"features":{}})");
  b.Write("policy.json", R"({"features":{}})");
  CHECK(CheckPolicy(a.path())->version == CheckPolicy(b.path())->version);
  b.Write("policy.json", R"({"features":{} })");
  CHECK(CheckPolicy(a.path())->version != CheckPolicy(b.path())->version);
}
