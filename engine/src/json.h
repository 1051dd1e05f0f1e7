// JSON on the decision path: simdjson's DOM for tasks (fast, immutable, tape based), plus the
// built-in matching semantics shared by the exclusions and the Lua helpers.
#pragma once

#include <simdjson.h>

#include <bit>
#include <cstdint>
#include <cstring>
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

// Walks `path` from `root` as the Flex template does (`value[step]` per step): an object is
// indexed by key, an array by a step that is an array index (ArrayIndexOf). Returns nullopt
// when a step is missing, when an intermediate value is neither, or when a step (including the
// last) is null: the built-in rule "a missing or null step means no match". Keys are
// case-sensitive.
std::optional<Element> WalkPath(Element root, const std::vector<std::string>& steps);
std::optional<Element> WalkPath(Element root, std::string_view dot_path);

// One step of WalkPath: the value of key `step` in an object, or the element at index `step`
// of an array; nullopt when there is none or it is null.
std::optional<Element> PathStep(Element from, std::string_view step);

// Whether `step` indexes an array, as a JavaScript property key does: "0" or a decimal number
// without a leading zero, sign, point or blank, below 2^32 - 1 ("01", "-1", "1.0" do not).
bool ArrayIndexOf(std::string_view step, uint32_t* index);

// An object key prepared once for matching against keys on simdjson's tape: hashed, and its
// bytes zero padded to whole 8-byte words, so a comparison is a few word compares.
struct TapeKeyMatcher {
  explicit TapeKeyMatcher(std::string_view key);
  // Whether the tape string at `text` (simdjson's string buffer: a 32-bit length, the bytes, a
  // NUL; the buffer is padded, so whole words can be read) is this key.
  bool Matches(const uint8_t* text) const {
    uint32_t n;
    std::memcpy(&n, text, sizeof n);
    if (n != length) return false;
    const uint8_t* bytes = text + sizeof n;
    const size_t last = words.size() - 1;
    for (size_t i = 0; i < last; ++i) {
      uint64_t w;
      std::memcpy(&w, bytes + 8 * i, 8);
      if (w != words[i]) return false;
    }
    uint64_t w;
    std::memcpy(&w, bytes + 8 * last, 8);
    const size_t tail = length - 8 * last;  // 0 to 8 bytes in the last word
    if (tail < 8) w &= (uint64_t(1) << (8 * tail)) - 1;
    return w == words[last];
  }
  // A hash of a key's length and its first and last 8 bytes (zero padded when shorter), the
  // same for a matcher and a key on the tape: cheap enough for every key of a scan, and keys
  // that share a prefix ("conversation_attribute_1", "_2", ...) still spread.
  static uint64_t Hash(uint32_t length, uint64_t first_word, uint64_t last_word) {
    uint64_t h = (first_word ^ length) * 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 29) ^ last_word) * 0xC2B2AE3D27D4EB4Full;
    return h ^ (h >> 32);
  }
  // Hash of a whole string, equal to that of the same key on the tape. Also hashes queue names
  // and values: strings that differ mostly differ in their first or last bytes (SIDs are 34
  // characters of which 32 are hex), and this is several times cheaper than hashing every byte.
  static uint64_t HashOf(std::string_view s) {
    uint64_t first = 0, last = 0;
    const size_t n = s.size() < 8 ? s.size() : 8;
    if (n > 0) {  // memcpy from a null pointer is undefined even for 0 bytes
      std::memcpy(&first, s.data(), n);
      std::memcpy(&last, s.data() + s.size() - n, n);
    }
    return Hash(uint32_t(s.size()), first, last);
  }
  // The last 8 bytes of a key of `length` bytes at `bytes`, or `first_word` when shorter.
  static uint64_t LastWord(const uint8_t* bytes, uint32_t length, uint64_t first_word) {
    if (length <= 8) return first_word;
    uint64_t w;
    std::memcpy(&w, bytes + length - 8, 8);
    return w;
  }

  uint32_t length;
  uint64_t hash;                // Hash
  std::vector<uint64_t> words;  // at least one
};

// What a value is, in 16 bits, so that most comparisons with a configured value are settled
// without reading the value. Equal strings have equal fingerprints; unequal ones usually
// differ. An array's fingerprint holds a bit (InArray) for each string in it.
namespace fingerprint {
// 16 bits, so that the fingerprints of a task's values sit in a few cache lines.
using Value = uint16_t;
constexpr Value kUnknown = 0;  // not computed: read the value
constexpr Value kNull = 1;
constexpr Value kOther = 2;           // a number, boolean or object
constexpr Value kStringBit = 0x8000;  // a string; the other 15 bits hash it
constexpr Value kArrayBit = 0x4000;   // an array; the low 14 bits: its strings' InArray bits
Value OfString(std::string_view s);
inline bool IsString(Value f) {
  return (f & kStringBit) != 0;
}
inline bool IsArray(Value f) {
  return (f & (kStringBit | kArrayBit)) == kArrayBit;
}
// The bits (two of 14) a string with fingerprint `f` sets in the fingerprint of an array
// holding it: an array may hold the string only when all of them are set.
inline Value InArray(Value f) {
  return Value(1u << (f % 14) | 1u << (f / 14 % 14));
}
}  // namespace fingerprint

// The key structure of a kept task's attributes, laid out once when the task is kept so that
// a decision need not read the task's keys (tasks from one contact center share a few
// structures; see PathSet::Resolve). Every value of every object, objects in depth-first order,
// keys in document order, has its tape index in `at` and its fingerprint in `fingerprints`.
// `hash` is a keyed hash (a random key per process, so a task cannot be made to collide on
// purpose) of every key and of which values are objects. The arrays belong to the kept task.
struct KeyLayout {
  uint64_t hash = 0;
  uint32_t size = 0;
  const fingerprint::Value* fingerprints = nullptr;
  const uint32_t* at = nullptr;

  // Lays out `object` (an object element) into `at` and `fingerprints`, returning the hash.
  static uint64_t Build(Element object, std::vector<uint32_t>* at,
                        std::vector<fingerprint::Value>* fingerprints);
};

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
    std::vector<uint32_t> hits;  // the indexes of the present paths, each once
    // By path index, for the paths in `hits`: where the value is. Without a layout, its tape
    // index in `doc`; through a layout, its index in `layout`, whose `at` (a cache line or two
    // of the task's) is read only for the values a caller reads. A scan for the memo also
    // sets it for null values and sets kMissing for the absent paths.
    std::vector<uint32_t> index;
    const simdjson::dom::document* doc = nullptr;
    const KeyLayout* layout = nullptr;
    std::vector<fingerprint::Value> fingerprints;  // by path index, when known (layout)
    std::vector<uint8_t> visited;  // by node: first occurrence of a duplicate key wins

    Element Value(size_t path) const;
    fingerprint::Value FingerprintOf(size_t path) const {
      return layout == nullptr ? fingerprint::kUnknown : fingerprints[path];
    }
  };
  static constexpr uint32_t kMissing = UINT32_MAX;
  // Same rule as WalkPath for each path: a missing step, a non-object on the way, or null is
  // absent. With the layout of `root` (a kept task's), the positions of the paths in a layout
  // are found once per thread and layout, and later decisions on tasks of that layout read
  // only the values.
  void Resolve(Element root, Found* found) const;
  void Resolve(Element root, const KeyLayout* layout, Found* found) const;

 private:
  struct Node {
    std::string key;
    TapeKeyMatcher matcher{""};
    std::vector<uint32_t> children;
    // Children by a hash of (key length, key prefix), open addressing, 0 for an empty slot
    // (node 0 is the root, never a child); a power of two at least twice the children.
    std::vector<uint32_t> child_table;
    // The children whose key is an array index (ArrayIndexOf), by index: they also index an
    // array found at this node.
    std::vector<std::pair<uint32_t, uint32_t>> index_children;  // (index, child), sorted
    uint64_t child_filter = 0;  // a bit per child from the same hash: most keys stop here
    // Where a key with `hash` starts probing child_table (the hash's top bits).
    size_t FirstSlot(uint64_t hash) const {
      return hash >> (64 - std::countr_zero(child_table.size()));
    }
    int32_t path = -1;
  };
  void BuildChildTable(Node* node) const;
  void PlaceChild(Node* node, uint32_t child) const;
  uint32_t FindChild(const Node& node, const TapeKeyMatcher& matcher, std::string_view key) const;
  // Resolve by walking the tape; with `locate`, found->index is also set for null values and
  // is kMissing for the absent paths (what the memo of layouts needs).
  bool Scan(Element root, bool locate, Found* found) const;
  // Returns false when an array was indexed on the way (a layout does not describe arrays, so
  // such a result must not be remembered by layout).
  bool ResolveNode(uint32_t node, const simdjson::dom::document* doc, size_t index,
                   Found* found) const;
  std::vector<Node> nodes_{Node{}};  // nodes_[0] is the root
  size_t path_count_ = 0;
  uint64_t id_ = NewId();  // names these paths in the per-thread memo of layouts; new on Add
  static uint64_t NewId();
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

// Copies the parsed document `from` into `to` in buffers of the document's own size (plus
// simdjson's padding): a kept task then holds a few KB instead of a parser's buffers. Elements
// of `from` are moved over with MovedElement.
void CopyDocument(const simdjson::dom::document& from, simdjson::dom::document* to);
// `e` re-pointed at `to` when it is in `from`; unchanged otherwise.
Element MovedElement(Element e, const simdjson::dom::document& from,
                     const simdjson::dom::document& to);
// The document an element belongs to.
const simdjson::dom::document* DocumentOf(Element e);

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

// Copies `text` to `out` with ".0" after each integer literal too large for 64 bits, so that
// simdjson reads it as a double; false when there was none.
bool MarkBigIntegersAsDoubles(std::string_view text, std::string* out);

// The line/column message for malformed JSON text ("at line 1, column 7: ..."), computed on the
// slow path only.
std::string DescribeJsonSyntaxError(std::string_view text);

// "string", "number", "object", ... for messages.
const char* JsonTypeName(Element e);

}  // namespace recrules::detail
