#include "json.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <type_traits>

namespace recrules::detail {

Path Path::Parse(std::string_view dot_path) {
  Path p;
  p.text = std::string(dot_path);
  size_t start = 0;
  while (true) {
    size_t dot = dot_path.find('.', start);
    if (dot == std::string_view::npos) {
      p.steps.emplace_back(dot_path.substr(start));
      break;
    }
    p.steps.emplace_back(dot_path.substr(start, dot - start));
    start = dot + 1;
  }
  return p;
}

bool ArrayIndexOf(std::string_view step, uint32_t* index) {
  if (step.empty() || step.size() > 10 || (step[0] == '0' && step.size() > 1)) return false;
  uint64_t n = 0;
  for (char c : step) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + uint64_t(c - '0');
  }
  if (n >= UINT32_MAX) return false;  // JavaScript's largest array index is 2^32 - 2
  *index = uint32_t(n);
  return true;
}

std::optional<Element> PathStep(Element from, std::string_view step) {
  Element next;
  simdjson::dom::object obj;
  simdjson::dom::array arr;
  uint32_t index;
  if (from.get(obj) == simdjson::SUCCESS) {
    if (obj.at_key(step).get(next) != simdjson::SUCCESS) return std::nullopt;
  } else if (from.get(arr) == simdjson::SUCCESS && ArrayIndexOf(step, &index)) {
    if (arr.at(index).get(next) != simdjson::SUCCESS) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (next.is_null()) return std::nullopt;
  return next;
}

std::optional<Element> WalkPath(Element root, const std::vector<std::string>& steps) {
  Element cur = root;
  for (const std::string& step : steps) {
    auto next = PathStep(cur, step);
    if (!next) return std::nullopt;
    cur = *next;
  }
  return cur;
}

std::optional<Element> WalkPath(Element root, std::string_view dot_path) {
  return WalkPath(root, Path::Parse(dot_path).steps);
}

namespace {

// The tape walk below reads simdjson's internal tape (internal::tape_ref, the tape word layout,
// the string buffer's length prefix), which is not public API and may change in any release.
// It is checked against simdjson 3 by json_test ("reading of simdjson's internal tape"); on
// another major version, run that test and review After, StringAt, KeyAt and CopyDocument.
static_assert(simdjson::SIMDJSON_VERSION_MAJOR == 3,
              "json.cc reads simdjson's internal tape: review it for this simdjson version");

using simdjson::internal::tape_ref;
using simdjson::internal::tape_type;

// An element is a (document, tape index) pair; the tape walk below needs both. The layout is
// simdjson's (dom::element holds exactly one internal::tape_ref), checked here at compile time.
static_assert(sizeof(Element) == sizeof(tape_ref) && std::is_trivially_copyable_v<Element> &&
              std::is_trivially_copyable_v<tape_ref>);

tape_ref TapeOf(Element e) {
  return std::bit_cast<tape_ref>(e);
}
Element ElementAt(const simdjson::dom::document* doc, size_t index) {
  return std::bit_cast<Element>(tape_ref(doc, index));
}

tape_type TypeAt(const uint64_t* tape, size_t index) {
  return static_cast<tape_type>(tape[index] >> 56);
}

// The tape index of the value after the one at `index` (tape_ref::after_element). Inlined:
// the path walk of every decision calls it per key.
[[gnu::always_inline]] inline size_t After(const uint64_t* tape, size_t index) {
  switch (TypeAt(tape, index)) {
    case tape_type::START_ARRAY:
    case tape_type::START_OBJECT:
      return uint32_t(tape[index]);  // one past the matching close
    case tape_type::UINT64:
    case tape_type::INT64:
    case tape_type::DOUBLE:
      return index + 2;
    default:
      return index + 1;
  }
}

// A string on the tape (a key or a value): where it is in the string buffer, and its length.
struct TapeString {
  const uint8_t* text;  // the 32-bit length, then the bytes
  uint32_t length;
};
[[gnu::always_inline]] inline TapeString StringAt(const uint64_t* tape, const uint8_t* strings,
                                                  size_t index) {
  TapeString s;
  s.text = strings + (tape[index] & simdjson::internal::JSON_VALUE_MASK);
  std::memcpy(&s.length, s.text, sizeof s.length);
  return s;
}

// A key on the tape: its string, and the hash TapeKeyMatcher uses.
struct TapeKey : TapeString {
  uint64_t hash;
};
[[gnu::always_inline]] inline TapeKey KeyAt(const uint64_t* tape, const uint8_t* strings,
                                            size_t index) {
  TapeKey k;
  static_cast<TapeString&>(k) = StringAt(tape, strings, index);
  uint64_t first;
  std::memcpy(&first, k.text + sizeof k.length, sizeof first);  // the buffer is padded
  if (k.length < 8) first &= (uint64_t(1) << (8 * k.length)) - 1;
  k.hash = TapeKeyMatcher::Hash(
      k.length, first, TapeKeyMatcher::LastWord(k.text + sizeof k.length, k.length, first));
  return k;
}

}  // namespace

namespace {

// SipHash-1-3 (Aumasson and Bernstein): a keyed hash whose outputs cannot be steered to
// collide without the key.
uint64_t SipHash13(uint64_t k0, uint64_t k1, std::string_view bytes) {
  uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
  auto round = [&] {
    v0 += v1;
    v1 = std::rotl(v1, 13) ^ v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16) ^ v2;
    v0 += v3;
    v3 = std::rotl(v3, 21) ^ v0;
    v2 += v1;
    v1 = std::rotl(v1, 17) ^ v2;
    v2 = std::rotl(v2, 32);
  };
  const size_t whole = bytes.size() / 8 * 8;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m;
    std::memcpy(&m, bytes.data() + i, 8);
    v3 ^= m;
    round();
    v0 ^= m;
  }
  uint64_t last = uint64_t(bytes.size()) << 56;
  for (size_t i = whole; i < bytes.size(); ++i) {
    last |= uint64_t(static_cast<uint8_t>(bytes[i])) << (8 * (i - whole));
  }
  v3 ^= last;
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t LayoutHash(std::string_view signature) {
  static const std::array<uint64_t, 2> key = [] {
    std::random_device rd;
    return std::array<uint64_t, 2>{uint64_t(rd()) << 32 | rd(), uint64_t(rd()) << 32 | rd()};
  }();
  return SipHash13(key[0], key[1], signature);
}

// The hash's top bits: they come out of its last multiplication best mixed. (Its low bits
// depend on few bits of the string; folding the halves together would cancel its final step.)
fingerprint::Value FoldFingerprint(uint64_t hash) {
  return fingerprint::Value(hash >> 49) | fingerprint::kStringBit;
}

fingerprint::Value FingerprintAt(const uint64_t* tape, const uint8_t* strings, size_t at) {
  switch (TypeAt(tape, at)) {
    case tape_type::NULL_VALUE:
      return fingerprint::kNull;
    case tape_type::START_ARRAY: {
      fingerprint::Value f = fingerprint::kArrayBit;
      const size_t end = uint32_t(tape[at]) - 1;  // the closing bracket
      for (size_t i = at + 1; i < end; i = After(tape, i)) {
        if (TypeAt(tape, i) == tape_type::STRING) {
          f |= fingerprint::InArray(FingerprintAt(tape, strings, i));
        }
      }
      return f;
    }
    case tape_type::STRING:  // read as a key is: the same hash as OfString's
      return FoldFingerprint(KeyAt(tape, strings, at).hash);
    default:
      return fingerprint::kOther;
  }
}

}  // namespace

fingerprint::Value fingerprint::OfString(std::string_view s) {
  return FoldFingerprint(TapeKeyMatcher::HashOf(s));
}

uint64_t KeyLayout::Build(Element object, std::vector<uint32_t>* at,
                          std::vector<fingerprint::Value>* fingerprints) {
  at->clear();
  fingerprints->clear();
  const tape_ref ref = TapeOf(object);
  const uint64_t* tape = ref.doc->tape.get();
  if (TypeAt(tape, ref.json_index) != tape_type::START_OBJECT) return 0;
  const uint8_t* strings = ref.doc->string_buf.get();
  // The signature spells the structure unambiguously: each key as its 32-bit length and bytes,
  // then '{' when its value is an object (whose keys follow, then '}'), 'a' when an array (a
  // path may index it) or 'v' otherwise.
  thread_local std::string signature;
  signature.assign(1, '{');
  thread_local std::vector<size_t> ends;  // the closing index of each object we are inside
  ends.clear();
  size_t end = uint32_t(tape[ref.json_index]) - 1;
  size_t i = ref.json_index + 1;
  while (true) {
    if (i == end) {
      signature.push_back('}');
      if (ends.empty()) break;
      ++i;  // past the closing brace, to the next key of the enclosing object
      end = ends.back();
      ends.pop_back();
      continue;
    }
    const TapeString key = StringAt(tape, strings, i);
    signature.append(reinterpret_cast<const char*>(key.text), sizeof key.length + key.length);
    const size_t value = i + 1;
    at->push_back(uint32_t(value));
    fingerprints->push_back(FingerprintAt(tape, strings, value));
    if (TypeAt(tape, value) == tape_type::START_OBJECT) {
      signature.push_back('{');
      ends.push_back(end);
      end = uint32_t(tape[value]) - 1;
      i = value + 1;
    } else {
      signature.push_back(TypeAt(tape, value) == tape_type::START_ARRAY ? 'a' : 'v');
      i = After(tape, value);
    }
  }
  return LayoutHash(signature);
}

TapeKeyMatcher::TapeKeyMatcher(std::string_view key)
    : length(uint32_t(key.size())), words(key.size() / 8 + (key.size() % 8 != 0) + key.empty()) {
  if (!key.empty()) std::memcpy(words.data(), key.data(), key.size());
  hash = Hash(length, words[0],
              LastWord(reinterpret_cast<const uint8_t*>(key.data()), length, words[0]));
}

void CopyDocument(const simdjson::dom::document& from, simdjson::dom::document* to) {
  const uint64_t* tape = from.tape.get();
  // The first root word's payload is the number of words (one past the closing root word).
  const size_t words = tape[0] & simdjson::internal::JSON_VALUE_MASK;
  size_t string_bytes = 0;
  for (size_t i = 1; i < words;) {
    const tape_type type = TypeAt(tape, i);
    if (type == tape_type::STRING) {
      const size_t offset = tape[i] & simdjson::internal::JSON_VALUE_MASK;
      uint32_t length;
      std::memcpy(&length, from.string_buf.get() + offset, sizeof length);
      string_bytes = std::max(string_bytes, offset + sizeof length + length + 1);  // and a NUL
    }
    // Numbers take two words; containers are stepped into.
    const bool number =
        type == tape_type::INT64 || type == tape_type::UINT64 || type == tape_type::DOUBLE;
    i += number ? 2 : 1;
  }
  to->tape.reset(new uint64_t[words]);
  std::memcpy(to->tape.get(), tape, words * sizeof(uint64_t));
  to->string_buf.reset(new uint8_t[string_bytes + simdjson::SIMDJSON_PADDING]());
  if (string_bytes > 0) std::memcpy(to->string_buf.get(), from.string_buf.get(), string_bytes);
}

Element MovedElement(Element e, const simdjson::dom::document& from,
                     const simdjson::dom::document& to) {
  const tape_ref ref = TapeOf(e);
  return ref.doc == &from ? ElementAt(&to, ref.json_index) : e;
}

const simdjson::dom::document* DocumentOf(Element e) {
  return TapeOf(e).doc;
}

uint64_t PathSet::NewId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

size_t PathSet::Add(const std::vector<std::string>& steps) {
  id_ = NewId();
  uint32_t node = 0;
  for (const std::string& step : steps) {
    TapeKeyMatcher matcher(step);
    uint32_t next = FindChild(nodes_[node], matcher, step);
    if (next == 0) {
      next = uint32_t(nodes_.size());
      Node n;
      n.key = step;
      n.matcher = std::move(matcher);
      nodes_.push_back(std::move(n));
      Node& parent = nodes_[node];
      parent.children.push_back(next);
      if (uint32_t index; ArrayIndexOf(step, &index)) {
        auto& ic = parent.index_children;
        ic.insert(std::upper_bound(ic.begin(), ic.end(), std::make_pair(index, next)),
                  {index, next});
      }
      // The table stays at most half full: rebuilt twice as large when it would not be, so
      // adding N children costs O(N), not O(N^2).
      if (2 * parent.children.size() > parent.child_table.size()) {
        BuildChildTable(&parent);
      } else {
        PlaceChild(&parent, next);
      }
    }
    node = next;
  }
  if (nodes_[node].path < 0) nodes_[node].path = int32_t(path_count_++);
  return size_t(nodes_[node].path);
}

uint32_t PathSet::FindChild(const Node& node, const TapeKeyMatcher& matcher,
                            std::string_view key) const {
  if (node.child_table.empty()) return 0;
  const size_t mask = node.child_table.size() - 1;
  for (size_t slot = node.FirstSlot(matcher.hash); node.child_table[slot] != 0;
       slot = (slot + 1) & mask) {
    const uint32_t child = node.child_table[slot];
    if (nodes_[child].key == key) return child;
  }
  return 0;
}

void PathSet::PlaceChild(Node* node, uint32_t child) const {
  const uint64_t hash = nodes_[child].matcher.hash;
  size_t slot = node->FirstSlot(hash);
  while (node->child_table[slot] != 0) slot = (slot + 1) & (node->child_table.size() - 1);
  node->child_table[slot] = child;
  node->child_filter |= uint64_t(1) << ((hash >> 32) & 63);
}

void PathSet::BuildChildTable(Node* node) const {
  size_t size = 4;
  while (size < 2 * node->children.size()) size *= 2;
  node->child_table.assign(size, 0);
  node->child_filter = 0;
  for (uint32_t child : node->children) PlaceChild(node, child);
}

Element PathSet::Found::Value(size_t path) const {
  return ElementAt(doc, layout == nullptr ? index[path] : layout->at[index[path]]);
}

void PathSet::Resolve(Element root, Found* found) const {
  Scan(root, /*locate=*/false, found);
}

bool PathSet::Scan(Element root, bool locate, Found* found) const {
  if (locate) {
    found->index.assign(path_count_, kMissing);
  } else {
    found->index.resize(path_count_);  // read only for the hits
  }
  found->layout = nullptr;  // the values are read
  found->visited.assign(nodes_.size(), 0);
  found->hits.clear();
  const tape_ref ref = TapeOf(root);
  found->doc = ref.doc;
  return ResolveNode(0, ref.doc, ref.json_index, found);
}

void PathSet::Resolve(Element root, const KeyLayout* layout, Found* found) const {
  if (layout == nullptr || layout->size == 0) return Resolve(root, found);
  // Where each path sits in a layout, by (paths, layout), per thread: 512 entries, a layout
  // looked for in the 4 from its home entry on (so a few layouts sharing a home do not evict
  // each other); when all 4 are taken, the home entry is replaced. A miss costs a scan.
  struct Memo {
    uint64_t paths = 0;  // PathSet::id_; 0 for an empty entry
    uint64_t hash = 0;
    size_t size = 0;
    std::vector<uint32_t> slots;  // by path index: the index in the layout, or kMissing
  };
  constexpr size_t kEntries = 512, kWays = 4;
  thread_local std::array<Memo, kEntries> memo;
  const size_t home = (layout->hash ^ (id_ * 0x9E3779B97F4A7C15ull)) >> 55;
  Memo* hit = nullptr;
  Memo* empty = nullptr;
  for (size_t w = 0; w < kWays; ++w) {
    Memo& e = memo[(home + w) % kEntries];
    if (e.paths == id_ && e.hash == layout->hash && e.size == layout->size) {
      hit = &e;
      break;
    }
    if (empty == nullptr && e.paths == 0) empty = &e;
  }
  if (hit == nullptr) {
    if (!Scan(root, /*locate=*/true, found)) return;  // through an array: no memo
    Memo& m = empty != nullptr ? *empty : memo[home];
    m.paths = 0;
    m.slots.assign(path_count_, kMissing);
    for (size_t p = 0; p < path_count_; ++p) {
      const uint32_t at = found->index[p];
      if (at == kMissing) continue;
      const uint32_t* end = layout->at + layout->size;
      const uint32_t* it = std::lower_bound(layout->at, end, at);
      if (it == end || *it != at) return;  // not a key's value: no memo
      m.slots[p] = uint32_t(it - layout->at);
    }
    m.paths = id_;
    m.hash = layout->hash;
    m.size = layout->size;
    return;
  }
  const Memo& m = *hit;
  found->index.resize(path_count_);
  found->fingerprints.resize(path_count_);
  found->hits.clear();
  found->doc = TapeOf(root).doc;
  found->layout = layout;
  for (size_t p = 0; p < path_count_; ++p) {
    const uint32_t slot = m.slots[p];
    if (slot == kMissing) continue;
    const fingerprint::Value f = layout->fingerprints[slot];
    if (f == fingerprint::kNull) continue;
    found->index[p] = slot;
    found->fingerprints[p] = f;
    found->hits.push_back(uint32_t(p));
  }
}

bool PathSet::ResolveNode(uint32_t index, const simdjson::dom::document* doc, size_t at,
                          Found* found) const {
  const Node& node = nodes_[index];
  const uint64_t* tape = doc->tape.get();
  const tape_type type = TypeAt(tape, at);
  if (node.path >= 0) found->index[node.path] = uint32_t(at);
  if (type == tape_type::NULL_VALUE) return true;
  if (node.path >= 0) found->hits.push_back(uint32_t(node.path));
  if (type == tape_type::START_ARRAY && !node.index_children.empty()) {
    // Elements in order, each index child once; arrays are walked, not laid out.
    const size_t end = uint32_t(tape[at]) - 1;  // the closing bracket
    auto next = node.index_children.begin();
    uint32_t position = 0;
    for (size_t element = at + 1; element < end && next != node.index_children.end();
         element = After(tape, element), ++position) {
      for (; next != node.index_children.end() && next->first == position; ++next) {
        ResolveNode(next->second, doc, element, found);
      }
    }
    return false;
  }
  if (node.children.empty() || type != tape_type::START_OBJECT) return true;
  const uint8_t* strings = doc->string_buf.get();
  const uint32_t* table = node.child_table.data();
  const size_t mask = node.child_table.size() - 1;
  const size_t end = uint32_t(tape[at]) - 1;  // the object's closing brace
  size_t remaining = node.children.size();
  bool layout_only = true;
  for (size_t key = at + 1; key < end; key = After(tape, key + 1)) {
    const TapeKey k = KeyAt(tape, strings, key);
    if (!(node.child_filter & (uint64_t(1) << ((k.hash >> 32) & 63)))) continue;
    for (size_t slot = node.FirstSlot(k.hash); table[slot] != 0; slot = (slot + 1) & mask) {
      const uint32_t child = table[slot];
      const Node& c = nodes_[child];
      if (c.matcher.hash != k.hash || !c.matcher.Matches(k.text)) continue;
      if (!found->visited[child]) {  // a duplicate key: the first occurrence won
        found->visited[child] = 1;
        layout_only &= ResolveNode(child, doc, key + 1, found);
        --remaining;
      }
      break;
    }
    if (remaining == 0) break;
  }
  return layout_only;
}

Literal::Literal(nlohmann::json value) : value_(std::move(value)) {
  using T = nlohmann::json::value_t;
  switch (value_.type()) {
    case T::null:
    case T::discarded:
      kind_ = Kind::kNull;
      break;
    case T::boolean:
      kind_ = Kind::kBool;
      bool_ = value_.get<bool>();
      break;
    case T::number_integer:
      kind_ = Kind::kInt;
      int_ = value_.get<int64_t>();
      break;
    case T::number_unsigned:
      kind_ = Kind::kUint;
      uint_ = value_.get<uint64_t>();
      break;
    case T::number_float:
      kind_ = Kind::kDouble;
      double_ = value_.get<double>();
      break;
    case T::string:
      kind_ = Kind::kString;
      string_ = value_.get<std::string>();
      break;
    case T::array:
    case T::binary:
      kind_ = Kind::kArray;
      break;
    case T::object:
      kind_ = Kind::kObject;
      break;
  }
}

namespace {

// Numeric equality across simdjson's three number representations and nlohmann's.
bool NumberEquals(Element e, const nlohmann::json& j) {
  switch (e.type()) {
    case ElementType::INT64: {
      int64_t a = int64_t(e);
      if (j.is_number_integer() && !j.is_number_unsigned()) return a == j.get<int64_t>();
      if (j.is_number_unsigned()) return a >= 0 && uint64_t(a) == j.get<uint64_t>();
      return double(a) == j.get<double>();
    }
    case ElementType::UINT64: {
      uint64_t a = uint64_t(e);
      if (j.is_number_unsigned()) return a == j.get<uint64_t>();
      if (j.is_number_integer()) {
        int64_t b = j.get<int64_t>();
        return b >= 0 && a == uint64_t(b);
      }
      return double(a) == j.get<double>();
    }
    case ElementType::DOUBLE:
      return double(e) == j.get<double>();
    default:
      return false;
  }
}

}  // namespace

bool JsonEquals(Element e, const nlohmann::json& j) {
  switch (e.type()) {
    case ElementType::NULL_VALUE:
      return j.is_null();
    case ElementType::BOOL:
      return j.is_boolean() && bool(e) == j.get<bool>();
    case ElementType::STRING:
      return j.is_string() && std::string_view(e) == j.get_ref<const std::string&>();
    case ElementType::INT64:
    case ElementType::UINT64:
    case ElementType::DOUBLE:
      return j.is_number() && NumberEquals(e, j);
    case ElementType::ARRAY: {
      if (!j.is_array()) return false;
      simdjson::dom::array arr = e;
      if (arr.size() != j.size()) return false;
      size_t i = 0;
      for (Element item : arr) {
        if (!JsonEquals(item, j[i++])) return false;
      }
      return true;
    }
    case ElementType::OBJECT: {
      if (!j.is_object()) return false;
      simdjson::dom::object obj = e;
      size_t n = 0;
      for (auto field : obj) {
        auto it = j.find(std::string(field.key));
        if (it == j.end() || !JsonEquals(field.value, *it)) return false;
        ++n;
      }
      // Duplicate keys in the task would make n larger; equal sizes mean equal key sets.
      return n == j.size();
    }
  }
  return false;
}

bool Literal::Equals(Element e) const {
  switch (kind_) {
    case Kind::kString: {
      std::string_view s;
      return e.get(s) == simdjson::SUCCESS && s == string_;
    }
    case Kind::kBool: {
      bool b;
      return e.get(b) == simdjson::SUCCESS && b == bool_;
    }
    case Kind::kNull:
      return e.is_null();
    default:
      return JsonEquals(e, value_);
  }
}

bool Literal::Matches(Element found) const {
  simdjson::dom::array arr;
  if (found.get(arr) == simdjson::SUCCESS) {
    for (Element item : arr) {
      if (Equals(item)) return true;
    }
    return false;
  }
  return Equals(found);
}

std::string ToJsonText(Element e) {
  return simdjson::minify(e);
}

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no overlongs, no
// surrogates, at most U+10FFFF), or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

namespace {

// 1 for the bytes a JSON string literal may carry as they are (printable ASCII but '"' and '\').
constexpr std::array<uint8_t, 256> kPlainByte = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

// Nonzero when one of the 8 bytes of `x` is not plain (see kPlainByte). Exact for bytes below
// 0x80; may also flag a plain byte next to one that is not, which only costs the slow path.
uint64_t HasSpecialByte(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  return (x & kHigh) | ((x - 0x20 * kOnes) & ~x & kHigh) | has_zero(x ^ ('"' * kOnes)) |
         has_zero(x ^ ('\\' * kOnes));
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes copied as they are
  size_t i = 0;
  while (i < s.size()) {
    // Most text is plain ASCII: skip over it 8 bytes at a time, then a byte at a time.
    while (i + 8 <= s.size()) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, sizeof word);
      if (HasSpecialByte(word)) break;
      i += 8;
    }
    while (i < s.size() && kPlainByte[static_cast<unsigned char>(s[i])]) ++i;
    if (i == s.size()) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(s, i);
      if (len > 0) {
        i += len;
        continue;
      }
      // Not UTF-8 (e.g. raw bytes from a form field): the output must stay valid JSON.
      out->append(s.data() + run, i - run);
      out->append("\\ufffd");
      run = ++i;
      continue;
    }
    out->append(s.data() + run, i - run);
    run = ++i;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

std::string DescribeJsonSyntaxError(std::string_view text) {
  try {
    nlohmann::json parsed = nlohmann::json::parse(text.begin(), text.end());
    (void)parsed;
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann counts the bytes it read; the last one is where the text stopped being JSON.
    // Its own "line, column" counts a newline as the start of the next line, so derive ours.
    size_t offset = e.byte == 0 ? 0 : std::min<size_t>(e.byte - 1, text.size());
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    std::string what = e.what();
    size_t colon = what.find(": ", what.find("parse error"));
    std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
    return "at line " + std::to_string(line) + ", column " +
           std::to_string(offset - line_start + 1) + ": " + detail;
  } catch (const nlohmann::json::exception& e) {
    // Not a syntax error (a number too large for a double): the message without its prefix.
    std::string what = e.what();
    size_t end = what.find("] ");
    return end == std::string::npos ? what : what.substr(end + 2);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "invalid JSON";
}

namespace {

// Whether the digits of an integer literal (sign excluded) are beyond what simdjson reads as
// an integer: above 2^64 - 1, or above 2^63 for a negative one.
bool BeyondInt64(std::string_view digits, bool negative) {
  std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
  if (digits.size() != limit.size()) return digits.size() > limit.size();
  return digits > limit;
}

}  // namespace

bool MarkBigIntegersAsDoubles(std::string_view text, std::string* out) {
  out->clear();
  bool changed = false;
  size_t copied = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {  // skip the string, escapes included
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    size_t end = i + (c == '-');
    const size_t digits = end;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    const bool integer =
        end == text.size() || (text[end] != '.' && text[end] != 'e' && text[end] != 'E');
    if (integer && BeyondInt64(text.substr(digits, end - digits), c == '-')) {
      out->append(text.substr(copied, end - copied));
      out->append(".0");
      copied = end;
      changed = true;
    }
    // Past the rest of the number (fraction, exponent); a malformed one fails in the parser.
    while (end < text.size() && std::strchr("0123456789.eE+-", text[end]) != nullptr) ++end;
    i = end - 1;
  }
  out->append(text.substr(copied));
  return changed;
}

Result<Element> ParseJson(simdjson::dom::parser& parser, std::string_view text,
                          std::string_view what, size_t max_bytes, size_t max_depth) {
  if (text.size() > max_bytes) {
    return Status::LimitExceeded(std::string(what) + ": " + std::to_string(text.size()) +
                                 " bytes is over the limit of " + std::to_string(max_bytes));
  }
  if (parser.max_depth() != max_depth || parser.capacity() < text.size()) {
    size_t cap = std::max(text.size(), parser.capacity());
    if (parser.allocate(cap, max_depth) != simdjson::SUCCESS) {
      return Status::Internal(std::string(what) + ": out of memory for the JSON parser");
    }
  }
  Element root;
  auto err = parser.parse(text.data(), text.size(), true).get(root);
  if (err == simdjson::SUCCESS) return root;
  if (err == simdjson::NUMBER_ERROR) {
    // simdjson refuses integers beyond 64 bits; JavaScript writes them (JSON.stringify(2**64)
    // is "18446744073709552000"), and the template reads them as doubles: so do we.
    if (std::string as_doubles;
        MarkBigIntegersAsDoubles(text, &as_doubles) &&
        parser.parse(as_doubles.data(), as_doubles.size(), true).get(root) == simdjson::SUCCESS) {
      return root;
    }
  }
  if (err == simdjson::DEPTH_ERROR) {
    return Status::LimitExceeded(std::string(what) + ": JSON nesting is deeper than " +
                                 std::to_string(max_depth) + " levels");
  }
  if (text.empty() || text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidInput(std::string(what) + ": empty input, expected a JSON object");
  }
  std::string where = DescribeJsonSyntaxError(text);
  if (where == "invalid JSON" || where.rfind("at line", 0) != 0) {
    // nlohmann accepted what simdjson refused (e.g. invalid UTF-8 handling differs).
    where = std::string(simdjson::error_message(err));
  }
  return Status::InvalidInput(std::string(what) + ": malformed JSON " + where);
}

const char* JsonTypeName(Element e) {
  switch (e.type()) {
    case ElementType::ARRAY:
      return "array";
    case ElementType::OBJECT:
      return "object";
    case ElementType::INT64:
    case ElementType::UINT64:
    case ElementType::DOUBLE:
      return "number";
    case ElementType::STRING:
      return "string";
    case ElementType::BOOL:
      return "boolean";
    case ElementType::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

}  // namespace recrules::detail
