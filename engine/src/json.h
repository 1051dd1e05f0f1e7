// JSON on the decision path: simdjson's DOM for tasks (fast, immutable, tape based), plus the
// built-in matching semantics shared by the exclusions and the Lua helpers.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "recrules/status.h"

namespace recrules::detail {

using Element = simdjson::dom::element;
using ElementType = simdjson::dom::element_type;

// A dot path ("customer.consent.recording"), split once when the policy is compiled.
struct Path {
  std::string text;
  std::vector<std::string> steps;
  static Path Parse(std::string_view dot_path);
};

// Walks `path` from `root` through objects. Returns nullopt when a step is missing, when an
// intermediate value is not an object, or when a step (including the last) is null: the
// built-in rule "a missing or null step means no match". Keys are case-sensitive.
std::optional<Element> WalkPath(Element root, const std::vector<std::string>& steps);
std::optional<Element> WalkPath(Element root, std::string_view dot_path);

// Many dot paths resolved together: each object level on the way is scanned once, instead of
// once per path, by walking simdjson's tape directly (a key costs a few loads and compares, not
// an iterator step and a string_view). Built when the policy is compiled; Resolve is
// thread-safe.
class PathSet {
 public:
  // Adds a path (its steps); returns its index. Adding the same steps twice returns one index.
  size_t Add(const std::vector<std::string>& steps);
  size_t size() const { return path_count_; }

  // Per-decision results; reuse one per thread to avoid allocation.
  struct Found {
    std::vector<Element> values;   // by path index
    std::vector<uint8_t> present;  // by path index: the path exists and its value is not null
    std::vector<uint8_t> visited;  // by node: first occurrence of a duplicate key wins
  };
  // Same rule as WalkPath for each path: a missing step, a non-object on the way, or null is
  // absent.
  void Resolve(Element root, Found* found) const;

 private:
  struct Node {
    std::string key;
    uint64_t key_prefix = 0;  // the key's first 8 bytes, zero padded: most mismatches stop here
    std::vector<uint32_t> children;
    // Children by a hash of (key length, key prefix), open addressing, 0 for an empty slot
    // (node 0 is the root, never a child); a power of two at least twice the children.
    std::vector<uint32_t> child_table;
    uint64_t child_filter = 0;  // a bit per child from the same hash: most keys stop here
    int32_t path = -1;
  };
  void BuildChildTable(Node* node) const;
  void ResolveNode(uint32_t node, const simdjson::dom::document* doc, size_t index,
                   Found* found) const;
  std::vector<Node> nodes_{Node{}};  // nodes_[0] is the root
  size_t path_count_ = 0;
};

// A value from configuration that task values are compared against, with strict JSON
// equality: no coercion between types (1 != "1", true != "true"); numbers compare by value.
class Literal {
 public:
  explicit Literal(nlohmann::json value);
  bool Equals(Element e) const;
  // The exclusion semantics: an array matches when one of its elements Equals; any other value
  // matches when it Equals.
  bool Matches(Element found) const;
  const nlohmann::json& json() const { return value_; }

 private:
  nlohmann::json value_;
  // Pre-extracted scalars so the common cases do not touch nlohmann::json.
  enum class Kind { kNull, kBool, kInt, kUint, kDouble, kString, kArray, kObject } kind_;
  bool bool_ = false;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  double double_ = 0;
  std::string string_;
};

// Strict JSON equality between a task value and a configuration value (recursive).
bool JsonEquals(Element e, const nlohmann::json& j);

// Compact JSON text of an element.
std::string ToJsonText(Element e);

// Appends `s` to `out` as a JSON string literal (quotes included).
void AppendJsonString(std::string* out, std::string_view s);

// Parses `text` with `parser`, applying limits. Errors name `what` ("request", "TaskAttributes")
// and, for malformed JSON, the line and column where it broke.
Result<Element> ParseJson(simdjson::dom::parser& parser, std::string_view text,
                          std::string_view what, size_t max_bytes, size_t max_depth);

// The line/column message for malformed JSON text ("at line 1, column 7: ..."), computed on the
// slow path only.
std::string DescribeJsonSyntaxError(std::string_view text);

// "string", "number", "object", ... for messages.
const char* JsonTypeName(Element e);

}  // namespace recrules::detail
