// The JSON layer: path walking and the strict equality the built-in exclusions rely on.
#include <doctest/doctest.h>

#include <algorithm>

#include "json.h"

using nlohmann::json;
using recrules::StatusCode;
using recrules::detail::Element;
using recrules::detail::Literal;
using recrules::detail::ParseJson;
using recrules::detail::Path;
using recrules::detail::PathSet;
using recrules::detail::WalkPath;

namespace {

Element Parse(simdjson::dom::parser& p, std::string_view text) {
  auto r = ParseJson(p, text, "test", 1 << 20, 64);
  REQUIRE(r.ok());
  return *r;
}

// A document's key layout, with the arrays it points into.
class LaidOut {
 public:
  explicit LaidOut(Element object) {
    layout_.hash = recrules::detail::KeyLayout::Build(object, &at_, &fingerprints_);
    layout_.size = uint32_t(at_.size());
    layout_.at = at_.data();
    layout_.fingerprints = fingerprints_.data();
  }
  const recrules::detail::KeyLayout* layout() const { return &layout_; }

 private:
  std::vector<uint32_t> at_;
  std::vector<recrules::detail::fingerprint::Value> fingerprints_;
  recrules::detail::KeyLayout layout_;
};

bool Present(const PathSet::Found& found, size_t path) {
  return std::find(found.hits.begin(), found.hits.end(), path) != found.hits.end();
}

template <typename Paths>
void CheckAsWalked(Element root, const Paths& paths, const std::vector<size_t>& index,
                   const PathSet::Found& found) {
  for (size_t i = 0; i < std::size(paths); ++i) {
    CAPTURE(paths[i]);
    auto walked = WalkPath(root, paths[i]);
    REQUIRE(Present(found, index[i]) == walked.has_value());
    if (walked) {
      CHECK(recrules::detail::ToJsonText(found.Value(index[i])) ==
            recrules::detail::ToJsonText(*walked));
    }
  }
}

}  // namespace

TEST_CASE("WalkPath follows objects and treats missing or null steps as absent") {
  simdjson::dom::parser p;
  Element root = Parse(p, R"({"a":{"b":{"c":"x"},"n":null,"arr":[1,2]},"k-1":{"x.y":1}})");
  CHECK(std::string_view(*WalkPath(root, "a.b.c")) == "x");
  CHECK_FALSE(WalkPath(root, "a.b.d"));
  CHECK_FALSE(WalkPath(root, "a.n"));      // null final value: absent
  CHECK_FALSE(WalkPath(root, "a.n.z"));    // null intermediate: absent
  CHECK_FALSE(WalkPath(root, "a.b.c.d"));  // step into a string: absent
  CHECK(WalkPath(root, "k-1"));            // keys with '-' work
  CHECK_FALSE(WalkPath(root, "A.b.c"));    // case-sensitive
}

// Issue 23 item 12: the Flex template walks a key with value[step], so a step that is an array
// index picks an element, as JavaScript reads it.
TEST_CASE("WalkPath indexes arrays by steps that are array indexes, as the template does") {
  simdjson::dom::parser p;
  Element root = Parse(p, R"({"arr":[10,{"c":"x"},null,[5]],"s":"abc","o":{"0":"zero"}})");
  CHECK(int64_t(*WalkPath(root, "arr.0")) == 10);
  CHECK(std::string_view(*WalkPath(root, "arr.1.c")) == "x");
  CHECK(int64_t(*WalkPath(root, "arr.3.0")) == 5);
  CHECK_FALSE(WalkPath(root, "arr.2"));   // null element: absent
  CHECK_FALSE(WalkPath(root, "arr.4"));   // past the end
  CHECK_FALSE(WalkPath(root, "arr.01"));  // not an array index in JavaScript
  CHECK_FALSE(WalkPath(root, "arr.-1"));
  CHECK_FALSE(WalkPath(root, "arr.1e0"));
  CHECK_FALSE(WalkPath(root, "arr.length"));                  // no properties besides the elements
  CHECK_FALSE(WalkPath(root, "s.0"));                         // strings are not indexed
  CHECK(std::string_view(*WalkPath(root, "o.0")) == "zero");  // an object's key "0"
  uint32_t index;
  CHECK(recrules::detail::ArrayIndexOf("4294967294", &index));
  CHECK(index == 4294967294u);
  CHECK_FALSE(recrules::detail::ArrayIndexOf("4294967295", &index));  // 2^32 - 1: a key
  CHECK_FALSE(recrules::detail::ArrayIndexOf("99999999999", &index));
  CHECK_FALSE(recrules::detail::ArrayIndexOf("+1", &index));
  CHECK_FALSE(recrules::detail::ArrayIndexOf(" 1", &index));
  CHECK_FALSE(recrules::detail::ArrayIndexOf("", &index));
}

// PathSet walks simdjson's tape itself; every path must resolve exactly as WalkPath does.
TEST_CASE("PathSet resolves many paths in one pass exactly as WalkPath does") {
  const char* paths[] = {"a.b.c",
                         "a.b.d",
                         "a.n",
                         "a.n.z",
                         "a.b.c.d",
                         "a.arr",
                         "a.arr.0",
                         "k-1",
                         "k-1.x.y",
                         "A.b.c",
                         "long_key_sharing_prefix_1",
                         "long_key_sharing_prefix_2",
                         "dup",
                         "dup.first",
                         "dup.second",
                         "",
                         "e.",
                         "num",
                         "num.x",
                         "abcdefgh",
                         "abcdefg",
                         "abcdefghi",
                         "deep.a.b.c.d.e",
                         "u",
                         "after",
                         "a.0",
                         "a.0.b.c",
                         "a.1",
                         "a.arr.1",
                         "a.arr.01",
                         "long_key_sharing_prefix_1.1.a",
                         "long_key_sharing_prefix_1.0",
                         "0",
                         "0.a",
                         "num.x.0"};
  const char* documents[] = {
      R"({"a":{"b":{"c":"x"},"n":null,"arr":[1,2]},"k-1":{"x.y":1}})",
      R"({"long_key_sharing_prefix_2":2,"long_key_sharing_prefix_1":[1,{"a":1}],"x":1.5,
          "dup":{"first":1},"dup":{"second":2},"":"empty","e":{"":true},"num":-7,
          "abcdefg":7,"abcdefghi":9,"abcdefgh":8,"deep":{"a":{"b":{"c":{"d":{"e":null}}}}},
          "u":18446744073709551615,"after":"end"})",
      R"({"a":[{"b":{"c":1}}],"num":{"x":[]},"k-1":null,"dup":null,"after":{"deep":1}})",
      R"({})",
      R"({"a":[null,{"b":{"c":1}}],"0":{"a":2}})",
      R"([{"a":1}])",
      R"("a")",
  };
  PathSet set;
  std::vector<size_t> index;
  for (const char* path : paths) index.push_back(set.Add(Path::Parse(path).steps));
  CHECK(set.Add(Path::Parse("a.b.c").steps) == index[0]);  // the same steps share one index
  PathSet::Found found;
  for (const char* text : documents) {
    simdjson::dom::parser p;
    Element root = Parse(p, text);
    CAPTURE(text);
    set.Resolve(root, &found);
    CheckAsWalked(root, paths, index, found);
    // Through the document's layout: the first time fills the thread's memo, the second
    // reads it.
    LaidOut laid_out(root);
    for (int pass = 0; pass < 2; ++pass) {
      set.Resolve(root, laid_out.layout(), &found);
      CheckAsWalked(root, paths, index, found);
    }
  }
}

TEST_CASE("a key layout names the structure, not the values") {
  auto hash_of = [](const char* text) {
    simdjson::dom::parser p;
    return LaidOut(Parse(p, text)).layout()->hash;
  };
  const uint64_t base = hash_of(R"({"a":{"b":"x"},"c":[1],"d":null})");
  CHECK(hash_of(R"({"a":{"b":7},"c":"s","d":{"e":1}})") != base);  // d became an object
  CHECK(hash_of(R"({"a":{"b":null},"c":[],"d":"now a string"})") == base);
  CHECK(hash_of(R"({"c":[1],"a":{"b":"x"},"d":null})") != base);  // key order
  CHECK(hash_of(R"({"a":{"b":"x"},"c":[1],"d":null,"e":1})") != base);
  CHECK(hash_of(R"({"a":{"bc":"x"},"c":[1],"d":null})") != base);
  CHECK(hash_of(R"({"a":{},"b":"x","c":[1],"d":null})") != base);  // nesting, same key list
  CHECK(hash_of(R"({"a":null,"c":[1],"d":null})") != base);        // a is no longer an object

  simdjson::dom::parser p;
  LaidOut laid_out(
      Parse(p, R"({"s":"denied","n":null,"e":[],"a":["x"],"i":1,"o":{"t":true},"z":""})"));
  const recrules::detail::KeyLayout* layout = laid_out.layout();
  REQUIRE(layout->size == 8);  // o's own value and t's, depth first
  namespace fp = recrules::detail::fingerprint;
  CHECK(layout->fingerprints[0] == fp::OfString("denied"));
  CHECK(fp::IsString(layout->fingerprints[0]));
  CHECK(layout->fingerprints[0] != fp::OfString("denieD"));
  CHECK(layout->fingerprints[1] == fp::kNull);
  CHECK(layout->fingerprints[2] == fp::kArrayBit);  // no strings in it
  CHECK(fp::IsArray(layout->fingerprints[3]));
  CHECK(layout->fingerprints[3] == (fp::kArrayBit | fp::InArray(fp::OfString("x"))));
  CHECK(layout->fingerprints[4] == fp::kOther);
  CHECK(layout->fingerprints[5] == fp::kOther);
  CHECK(layout->fingerprints[6] == fp::kOther);
  CHECK(layout->fingerprints[7] == fp::OfString(""));
}

TEST_CASE("tasks of one layout resolve each with its own values, null or not") {
  PathSet set;
  const size_t ab = set.Add(Path::Parse("a.b").steps);
  const size_t c = set.Add(Path::Parse("c").steps);
  PathSet::Found found;
  // The memo is filled from the first task, whose a.b is null; the second's is a string.
  const char* texts[] = {R"({"a":{"b":null},"c":"x"})", R"({"a":{"b":"y"},"c":null})",
                         R"({"a":{"b":["z"]},"c":"w"})"};
  for (const char* text : texts) {
    simdjson::dom::parser p;
    Element root = Parse(p, text);
    LaidOut laid_out(root);
    CAPTURE(text);
    set.Resolve(root, laid_out.layout(), &found);
    CheckAsWalked(root, std::vector<const char*>{"a.b", "c"}, {ab, c}, found);
  }
}

// A layout does not describe what an array holds: a path through an array is not remembered
// by layout, and a value that is an array is told apart from one that is not.
TEST_CASE("tasks of one key layout resolve paths through arrays each by its own elements") {
  PathSet set;
  const size_t first = set.Add(Path::Parse("customers.0.consent").steps);
  PathSet::Found found;
  const char* texts[] = {R"({"customers":"none"})", R"({"customers":[{"consent":"no"}]})",
                         R"({"customers":[]})", R"({"customers":[{"consent":"yes"}]})",
                         R"({"customers":[1,{"consent":"no"}]})"};
  for (int round = 0; round < 2; ++round) {
    for (const char* text : texts) {
      simdjson::dom::parser p;
      Element root = Parse(p, text);
      LaidOut laid_out(root);
      CAPTURE(text);
      set.Resolve(root, laid_out.layout(), &found);
      CheckAsWalked(root, std::vector<const char*>{"customers.0.consent"}, {first}, found);
    }
  }
}

TEST_CASE("more layouts than the memo holds still resolve right") {
  PathSet set;
  const size_t path = set.Add(Path::Parse("x.v").steps);
  PathSet::Found found;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3000; ++i) {
      // A different key per task gives each its own layout, and x.v moves between them.
      std::string text = "{\"k" + std::to_string(i) + "\":1,";
      for (int k = 0; k < i % 5; ++k) text += "\"p" + std::to_string(k) + "\":{},";
      text += "\"x\":{\"v\":\"" + std::to_string(i) + "\"}}";
      simdjson::dom::parser p;
      Element root = Parse(p, text);
      LaidOut laid_out(root);
      set.Resolve(root, laid_out.layout(), &found);
      REQUIRE(Present(found, path));
      REQUIRE(std::string_view(found.Value(path)) == std::to_string(i));
    }
  }
}

// json.cc reads simdjson's internal tape (not its public API): this pins that reading to what
// the public API says, for every kind of value, so a simdjson upgrade that changes the tape
// fails here rather than in a decision.
TEST_CASE("json.cc's reading of simdjson's internal tape agrees with its public API") {
  const char* text = R"({"s":"x\"y\u00e9","e":"","long":"abcdefghijklmnopqrstuvwxyz",
    "i":-5,"u":18446744073709551615,"d":2.5,"t":true,"f":false,"n":null,
    "a":[1,"two",[3,{"k":null}],{}],"o":{"p":{"q":[]}},"after":"end"})";
  simdjson::dom::parser p;
  Element root = Parse(p, text);
  // A copied document reads the same through the public API.
  simdjson::dom::document copy;
  recrules::detail::CopyDocument(p.doc, &copy);
  Element moved = recrules::detail::MovedElement(root, p.doc, copy);
  CHECK(recrules::detail::DocumentOf(moved) == &copy);
  CHECK(recrules::detail::ToJsonText(moved) == recrules::detail::ToJsonText(root));
  // The tape walk finds every value (stepping over each kind) as the public API does.
  const char* paths[] = {"s", "e",   "long",    "i",   "u",     "d",     "t",   "f",    "n",
                         "a", "a.1", "a.2.1.k", "a.3", "o.p.q", "after", "o.p", "a.2.0"};
  PathSet set;
  std::vector<size_t> index;
  for (const char* path : paths) index.push_back(set.Add(Path::Parse(path).steps));
  PathSet::Found found;
  set.Resolve(moved, &found);
  CheckAsWalked(moved, paths, index, found);
  LaidOut laid_out(moved);
  for (int pass = 0; pass < 2; ++pass) {
    set.Resolve(moved, laid_out.layout(), &found);
    CheckAsWalked(moved, paths, index, found);
  }
}

TEST_CASE("Literal equality is strict JSON equality, without coercion") {
  simdjson::dom::parser p;
  Element root =
      Parse(p, R"({"one":1,"s1":"1","t":true,"ts":"true","f":1.0,"big":18446744073709551615,
    "neg":-5,"obj":{"a":1,"b":[1,"x"]},"arr":["a",1,true]})");
  auto at = [&](const char* k) { return *WalkPath(root, k); };
  SUBCASE("numbers and strings never equal") {
    CHECK(Literal(json(1)).Equals(at("one")));
    CHECK_FALSE(Literal(json("1")).Equals(at("one")));
    CHECK_FALSE(Literal(json(1)).Equals(at("s1")));
    CHECK(Literal(json("1")).Equals(at("s1")));
  }
  SUBCASE("booleans and strings never equal") {
    CHECK(Literal(json(true)).Equals(at("t")));
    CHECK_FALSE(Literal(json("true")).Equals(at("t")));
    CHECK_FALSE(Literal(json(true)).Equals(at("ts")));
  }
  SUBCASE("numbers compare by value across representations") {
    CHECK(Literal(json(1.0)).Equals(at("one")));
    CHECK(Literal(json(1)).Equals(at("f")));
    CHECK(Literal(json(18446744073709551615ull)).Equals(at("big")));
    CHECK_FALSE(Literal(json(-1)).Equals(at("big")));
    CHECK(Literal(json(-5)).Equals(at("neg")));
  }
  SUBCASE("objects and arrays compare structurally; an object never equals a string") {
    CHECK(Literal(json::parse(R"({"b":[1,"x"],"a":1})")).Equals(at("obj")));
    CHECK_FALSE(Literal(json::parse(R"({"a":1})")).Equals(at("obj")));
    CHECK_FALSE(Literal(json("[object Object]")).Equals(at("obj")));
  }
  SUBCASE("an array found matches when one element equals") {
    CHECK(Literal(json("a")).Matches(at("arr")));
    CHECK(Literal(json(true)).Matches(at("arr")));
    CHECK_FALSE(Literal(json("true")).Matches(at("arr")));
    CHECK_FALSE(Literal(json::parse(R"(["a",1,true])")).Matches(at("arr")));
  }
}

TEST_CASE("ParseJson reports where malformed JSON broke, and enforces limits") {
  simdjson::dom::parser p;
  SUBCASE("syntax error with line and column") {
    auto r = ParseJson(p, "{\n  \"a\": tru\n}", "request", 1 << 20, 64);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidInput);
    CHECK(r.status().message().rfind("request: malformed JSON at line 2, column ", 0) == 0);
  }
  SUBCASE("empty input") {
    auto r = ParseJson(p, "  \n", "request", 1 << 20, 64);
    CHECK(r.status().message() == "request: empty input, expected a JSON object");
  }
  SUBCASE("too large") {
    auto r = ParseJson(p, std::string(100, ' '), "request", 10, 64);
    CHECK(r.status().code() == StatusCode::kLimitExceeded);
    CHECK(r.status().message() == "request: 100 bytes is over the limit of 10");
  }
  SUBCASE("integers beyond 64 bits are read as doubles (issue 23 item 13)") {
    // What JSON.stringify(2**64) writes; simdjson alone refuses it.
    auto r = ParseJson(p, R"({"n":18446744073709552000,"m":-9223372036854775809,
      "s":"18446744073709552000","k":[1e2,18446744073709551615,-9223372036854775808]})",
                       "request", 1 << 20, 64);
    REQUIRE(r.ok());
    CHECK(double(*WalkPath(*r, "n")) == 18446744073709551616.0);
    CHECK(double(*WalkPath(*r, "m")) == -9223372036854775808.0);
    CHECK(std::string_view(*WalkPath(*r, "s")) == "18446744073709552000");
    CHECK(uint64_t(*WalkPath(*r, "k.1")) == UINT64_MAX);  // still integers when they fit
    CHECK(int64_t(*WalkPath(*r, "k.2")) == INT64_MIN);
    auto huge = ParseJson(p, "{\"n\":" + std::string(400, '9') + "}", "request", 1 << 20, 64);
    CHECK(huge.status().code() == StatusCode::kInvalidInput);  // beyond a double too
  }
  SUBCASE("MarkBigIntegersAsDoubles leaves strings and fitting numbers alone") {
    std::string out;
    CHECK_FALSE(recrules::detail::MarkBigIntegersAsDoubles(R"({"a":1,"b":-2.5e3})", &out));
    CHECK(recrules::detail::MarkBigIntegersAsDoubles(
        R"({"x\"18446744073709551616":"\\",  "y":[18446744073709551616,-99999999999999999999]})",
        &out));
    CHECK(
        out ==
        R"({"x\"18446744073709551616":"\\",  "y":[18446744073709551616.0,-99999999999999999999.0]})");
  }
  SUBCASE("too deep") {
    std::string deep = std::string(70, '[') + std::string(70, ']');
    auto r = ParseJson(p, deep, "request", 1 << 20, 64);
    CHECK(r.status().code() == StatusCode::kLimitExceeded);
    CHECK(r.status().message() == "request: JSON nesting is deeper than 64 levels");
  }
}

TEST_CASE("AppendJsonString escapes what JSON requires") {
  std::string out;
  recrules::detail::AppendJsonString(&out, std::string_view("a\"b\\c\n\x01z", 8));
  CHECK(out == R"("a\"b\\c\n\u0001z")");
}

// The plain-text fast path reads 8 bytes at a time: a special byte at any offset must still be
// escaped.
TEST_CASE("AppendJsonString escapes a special byte wherever it sits in a long string") {
  for (char special : {'"', '\\', '\n', '\x01', '\x1f', '\x7f'}) {
    for (size_t at = 0; at < 24; ++at) {
      std::string text(24, 'a');
      text[at] = special;
      std::string expected = "\"";
      for (char c : text) {
        if (c == '"') {
          expected += "\\\"";
        } else if (c == '\\') {
          expected += "\\\\";
        } else if (c == '\n') {
          expected += "\\n";
        } else if (c == '\x01') {
          expected += "\\u0001";
        } else if (c == '\x1f') {
          expected += "\\u001f";
        } else {
          expected += c;  // 'a' and DEL are plain
        }
      }
      expected += "\"";
      std::string out;
      recrules::detail::AppendJsonString(&out, text);
      CAPTURE(at);
      CHECK(out == expected);
    }
  }
}

TEST_CASE("AppendJsonString keeps valid UTF-8 and replaces invalid bytes (fuzz regression)") {
  // Found by fuzz_form: a TaskRouter form value with raw bytes reached a decision's reason.
  std::string out;
  recrules::detail::AppendJsonString(&out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e");
  CHECK(out == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e\"");
  out.clear();
  recrules::detail::AppendJsonString(&out, "voice\x84x\xc3\x8d\xed\xa0\x80\xc0\xaf\xf5");
  CHECK(out == "\"voice\\ufffdx\xc3\x8d\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
  CHECK_FALSE(nlohmann::json::parse(out, nullptr, false).is_discarded());
}
