#include "policy_config.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "json.h"

namespace recrules::detail {

const char* OnRuleErrorName(OnRuleError e) {
  switch (e) {
    case OnRuleError::kNext:
      return "next";
    case OnRuleError::kRecord:
      return "record";
    case OnRuleError::kSkip:
      return "skip";
  }
  return "next";
}

const std::vector<std::string>& DefaultRuleOrder() {
  static const std::vector<std::string> order = {"builtin:non_voice", "builtin:exclusions",
                                                 "builtin:internal_calls",
                                                 "builtin:already_recorded"};
  return order;
}

Status CheckPolicyFile(const std::string& dir, const std::string& rel, PolicyFileKind kind) {
  char real_dir[PATH_MAX], real_file[PATH_MAX];
  if (::realpath(dir.c_str(), real_dir) == nullptr) return Status::Ok();
  const std::string path = dir + "/" + rel;
  if (::realpath(path.c_str(), real_file) == nullptr) return Status::Ok();
  const std::string_view real(real_file);
  std::string inside = real_dir;
  if (inside.back() != '/') inside += '/';
  const bool is_inside = real.substr(0, inside.size()) == inside;
  if (kind == PolicyFileKind::kData && !is_inside) {
    return Status::InvalidPolicy("resolves outside the policy folder (to " + std::string(real) +
                                 ")");
  }
  if (kind == PolicyFileKind::kRule && !is_inside &&
      (real.size() <= 4 || real.substr(real.size() - 4) != ".lua")) {
    return Status::InvalidPolicy("links to " + std::string(real) + ", not to a .lua file");
  }
  struct stat st {};
  if (::stat(real_file, &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidPolicy("not a regular file");
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  std::unique_ptr<FILE, int (*)(FILE*)> in(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!in) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::Unavailable(path + ": cannot read: " + std::strerror(err));
  }
  auto too_large = [&](uint64_t size) {
    return Status::LimitExceeded(path + ": " + std::to_string(size) +
                                 " bytes is over the limit of " + std::to_string(max_bytes) +
                                 " bytes for a policy file");
  };
  struct stat st {};
  if (::fstat(::fileno(in.get()), &st) == 0 && S_ISREG(st.st_mode)) {
    if (uint64_t(st.st_size) > max_bytes) return too_large(uint64_t(st.st_size));
  }
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, in.get())) > 0) {
    if (text.size() + n > max_bytes) return too_large(text.size() + n);  // grew, or not a file
    text.append(buf, n);
  }
  if (std::ferror(in.get())) return Status::Unavailable(path + ": read failed");
  return text;
}

namespace {

// Builds the document as nlohmann's own parser does, refusing what a policy must not hold:
// nesting deeper than kMaxPolicyJsonDepth (checked as it is read, so no deep value is ever
// built, copied or destroyed recursively) and a key twice in one object.
class PolicyJsonBuilder : public nlohmann::json_sax<nlohmann::json> {
 public:
  using json = nlohmann::json;

  bool null() override { return Put(json(nullptr)); }
  bool boolean(bool v) override { return Put(json(v)); }
  bool number_integer(number_integer_t v) override { return Put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Put(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return Put(json(v)); }
  bool string(string_t& v) override { return Put(json(std::move(v))); }
  bool binary(binary_t&) override { return Put(json()); }  // not produced by JSON text
  bool start_object(std::size_t) override { return Open(json::object()); }
  bool key(string_t& k) override {
    if (open_.back().value->contains(k)) {
      error_ = "duplicate key \"" + k + "\" in " + (open_.size() == 1 ? "(root)" : Where()) +
               " (each key may appear once)";
      return false;
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(json::array()); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    syntax_error_ = true;
    return false;
  }

  json root;
  std::string error_;  // depth or duplicate key; empty for a syntax error
  bool syntax_error_ = false;

 private:
  struct Open_ {
    json* value;
    std::string name;  // ".key" or "[i]", how its parent holds it
  };
  std::string Where() const {
    std::string w;
    for (size_t i = 1; i < open_.size(); ++i) w += open_[i].name;
    return w.empty() ? w : (w[0] == '.' ? w.substr(1) : w);
  }
  // Stores `v` in the open container (or as the root); returns where it went.
  json* Place(json v, std::string* name) {
    if (open_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& parent = *open_.back().value;
    if (parent.is_object()) {
      *name = "." + key_;
      return &(parent[key_] = std::move(v));
    }
    *name = "[" + std::to_string(parent.size()) + "]";
    parent.push_back(std::move(v));
    return &parent.back();
  }
  bool Put(json v) {
    std::string name;
    Place(std::move(v), &name);
    return true;
  }
  bool Open(json container) {
    if (open_.size() >= kMaxPolicyJsonDepth) {
      error_ = "JSON nesting is deeper than " + std::to_string(kMaxPolicyJsonDepth) + " levels";
      return false;
    }
    Open_ o;
    o.value = Place(std::move(container), &o.name);
    open_.push_back(std::move(o));
    return true;
  }
  bool Close() {
    open_.pop_back();
    return true;
  }

  std::vector<Open_> open_;
  std::string key_;
};

}  // namespace

Result<nlohmann::json> ParsePolicyJson(std::string_view text, const std::string& name) {
  PolicyJsonBuilder builder;
  bool ok;
  try {
    ok = nlohmann::json::sax_parse(text.begin(), text.end(), &builder);
  } catch (const std::exception& e) {
    return Status::InvalidPolicy(name + ": malformed JSON " + e.what());
  }
  if (ok) return std::move(builder.root);
  if (!builder.error_.empty()) return Status::InvalidPolicy(name + ": " + builder.error_);
  return Status::InvalidPolicy(name + ": malformed JSON " + DescribeJsonSyntaxError(text));
}

namespace {

using json = nlohmann::json;

const char* TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::null:
      return "null";
    default:
      return j.is_number() ? "number" : "value";
  }
}

// Collects validation errors as "file: json.path: what"; the first one is reported.
class Validator {
 public:
  explicit Validator(std::string file) : file_(std::move(file)) {}

  bool Fail(const std::string& path, const std::string& what) {
    if (error_.empty()) error_ = file_ + ": " + path + ": " + what;
    return false;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Optional member of `obj`; returns nullptr when absent. Wrong type is an error.
  const json* Get(const json& obj, const std::string& path, const char* key, json::value_t type,
                  const char* type_name) {
    auto it = obj.find(key);
    if (it == obj.end()) return nullptr;
    bool type_ok = it->type() == type || (type == json::value_t::number_unsigned &&
                                          it->is_number_integer() && it->get<int64_t>() >= 0);
    if (!type_ok) {
      Fail(path + "." + key, std::string("expected ") + type_name + ", got " + TypeName(*it));
      return nullptr;
    }
    return &*it;
  }

  void Bool(const json& obj, const std::string& path, const char* key, bool* out) {
    if (auto* v = Get(obj, path, key, json::value_t::boolean, "a boolean")) *out = v->get<bool>();
  }

  void Exclusions(const json& feature, const std::string& path, ExclusionConfig* out) {
    out->source = path;
    if (auto* qs = Get(feature, path, "exclude_queues", json::value_t::array, "an array")) {
      for (size_t i = 0; i < qs->size(); ++i) {
        const json& q = (*qs)[i];
        std::string at = path + ".exclude_queues[" + std::to_string(i) + "]";
        if (!q.is_string()) {
          Fail(at, std::string("expected a queue name or SID string, got ") + TypeName(q));
          return;
        }
        out->queues.push_back(q.get<std::string>());
      }
    }
    if (auto* as = Get(feature, path, "exclude_attributes", json::value_t::array, "an array")) {
      for (size_t i = 0; i < as->size(); ++i) {
        const json& a = (*as)[i];
        std::string at = path + ".exclude_attributes[" + std::to_string(i) + "]";
        if (!a.is_object()) {
          Fail(at, std::string("expected an object {\"key\", \"value\"}, got ") + TypeName(a));
          return;
        }
        auto k = a.find("key");
        if (k == a.end()) {
          Fail(at, "missing \"key\" (the dot path into the task attributes)");
          return;
        }
        if (!k->is_string() || k->get<std::string>().empty()) {
          Fail(at + ".key", std::string("expected a non-empty dot path string, got ") +
                                (k->is_string() ? "an empty string" : TypeName(*k)));
          return;
        }
        const std::string key = k->get<std::string>();
        if (key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos) {
          Fail(at + ".key", "\"" + key + "\" has an empty step");
          return;
        }
        auto v = a.find("value");
        if (v == a.end()) {
          Fail(at, "missing \"value\" (the value that excludes the task)");
          return;
        }
        out->attributes.push_back({key, *v});
      }
    }
  }

 private:
  std::string file_;
  std::string error_;
};

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Result<PolicyConfig> LoadPolicyConfig(const std::string& path) {
  PolicyConfig cfg;
  if (IsDirectory(path)) {
    cfg.dir = path;
    cfg.file = path + (path.back() == '/' ? "" : "/") + "policy.json";
  } else {
    cfg.file = path;
    size_t slash = path.rfind('/');
    cfg.dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  }
  auto text = ReadFile(cfg.file);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return Status::InvalidPolicy(cfg.file +
                                   ": no such file (a policy is a folder holding "
                                   "policy.json, or the path of the file)");
    }
    return Status::InvalidPolicy(text.status().message());
  }
  auto parsed = ParsePolicyJson(*text, cfg.file);
  if (!parsed.ok()) return parsed.status();
  json root = std::move(parsed).value();
  cfg.sources.push_back({"policy.json", std::move(text).value()});

  Validator v(cfg.file);
  if (!root.is_object()) {
    v.Fail("(root)", std::string("expected an object, got ") + TypeName(root));
    return Status::InvalidPolicy(v.error());
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() != "features" && it.key() != "recrules" && it.key() != "$schema" &&
        it.key() != "description") {
      v.Fail(it.key(), "unknown section (expected \"features\" and \"recrules\")");
      return Status::InvalidPolicy(v.error());
    }
  }

  if (auto* features = v.Get(root, "", "features", json::value_t::object, "an object")) {
    cfg.features = *features;
    if (auto* cr = v.Get(*features, "features", "conditional_recording", json::value_t::object,
                         "an object")) {
      v.Bool(*cr, "features.conditional_recording", "enabled", &cfg.conditional_enabled);
      v.Exclusions(*cr, "features.conditional_recording", &cfg.conditional);
    }
    if (auto* dc = v.Get(*features, "features", "dual_channel_recording", json::value_t::object,
                         "an object")) {
      const std::string p = "features.dual_channel_recording";
      v.Bool(*dc, p, "enabled", &cfg.dual_enabled);
      v.Exclusions(*dc, p, &cfg.dual);
      auto ch = dc->find("channel");
      if (ch != dc->end()) {
        if (*ch == "customer") {
          cfg.dual_channel = Channel::kCustomer;
        } else if (*ch == "worker") {
          cfg.dual_channel = Channel::kWorker;
        } else {
          v.Fail(p + ".channel", "expected \"customer\" or \"worker\", got " + ch->dump());
        }
      } else if (cfg.dual_enabled) {
        v.Fail(p + ".channel", "missing: dual-channel recording needs \"customer\" or \"worker\"");
      }
    }
    if (auto* pr =
            v.Get(*features, "features", "pause_recording", json::value_t::object, "an object")) {
      v.Bool(*pr, "features.pause_recording", "enabled", &cfg.pause_enabled);
      v.Bool(*pr, "features.pause_recording", "include_silence", &cfg.include_silence);
    }
  }
  if (!v.ok()) return Status::InvalidPolicy(v.error());
  if (cfg.dual_enabled && cfg.conditional_enabled) {
    cfg.warnings.push_back(
        "features.conditional_recording is ignored because "
        "features.dual_channel_recording is enabled: its own exclusions apply");
  }

  cfg.rules = DefaultRuleOrder();
  if (auto* rr = v.Get(root, "", "recrules", json::value_t::object, "an object")) {
    for (auto it = rr->begin(); it != rr->end(); ++it) {
      static const char* known[] = {"rules", "default", "on_rule_error", "limits", "description"};
      bool found = false;
      for (const char* k : known) found = found || it.key() == k;
      if (!found) {
        v.Fail("recrules." + it.key(),
               "unknown setting (expected rules, default, on_rule_error, limits)");
        return Status::InvalidPolicy(v.error());
      }
    }
    if (auto* rules = v.Get(*rr, "recrules", "rules", json::value_t::array, "an array")) {
      cfg.rules.clear();
      for (size_t i = 0; i < rules->size(); ++i) {
        const json& r = (*rules)[i];
        std::string at = "recrules.rules[" + std::to_string(i) + "]";
        if (!r.is_string() || r.get<std::string>().empty()) {
          v.Fail(at, std::string("expected a rule name (\"builtin:...\" or a .lua file), got ") +
                         (r.is_string() ? "an empty string" : TypeName(r)));
          break;
        }
        for (const std::string& seen : cfg.rules) {
          if (seen == r.get<std::string>()) {
            v.Fail(at, "\"" + seen + "\" is listed twice");
            break;
          }
        }
        cfg.rules.push_back(r.get<std::string>());
      }
    }
    if (auto* d = v.Get(*rr, "recrules", "default", json::value_t::string, "a string")) {
      if (*d == "record") {
        cfg.default_action = Action::kRecord;
      } else if (*d == "skip") {
        cfg.default_action = Action::kSkip;
      } else {
        v.Fail("recrules.default", "expected \"record\" or \"skip\", got " + d->dump());
      }
    }
    if (auto* e = v.Get(*rr, "recrules", "on_rule_error", json::value_t::string, "a string")) {
      if (*e == "next") {
        cfg.on_rule_error = OnRuleError::kNext;
      } else if (*e == "record") {
        cfg.on_rule_error = OnRuleError::kRecord;
      } else if (*e == "skip") {
        cfg.on_rule_error = OnRuleError::kSkip;
      } else {
        v.Fail("recrules.on_rule_error",
               "expected \"next\", \"record\" or \"skip\", got " + e->dump());
      }
    }
    if (auto* l = v.Get(*rr, "recrules", "limits", json::value_t::object, "an object")) {
      if (auto* n = v.Get(*l, "recrules.limits", "instructions", json::value_t::number_unsigned,
                          "a positive integer")) {
        cfg.limits.instructions = n->get<uint64_t>();
        if (cfg.limits.instructions < kMinInstructions ||
            cfg.limits.instructions > kMaxInstructions) {
          v.Fail("recrules.limits.instructions",
                 "must be from " + std::to_string(kMinInstructions) + " to " +
                     std::to_string(kMaxInstructions) + ", got " + n->dump());
        }
      }
      if (auto* n = v.Get(*l, "recrules.limits", "memory_kb", json::value_t::number_unsigned,
                          "a positive integer")) {
        cfg.limits.memory_kb = n->get<uint64_t>();
        if (cfg.limits.memory_kb < kMinMemoryKb || cfg.limits.memory_kb > kMaxMemoryKb) {
          v.Fail("recrules.limits.memory_kb", "must be from " + std::to_string(kMinMemoryKb) +
                                                  " to " + std::to_string(kMaxMemoryKb) +
                                                  " (4 GiB), got " + n->dump());
        }
      }
      if (auto* n = v.Get(*l, "recrules.limits", "time_ms", json::value_t::number_unsigned,
                          "a positive integer")) {
        cfg.limits.time_ms = n->get<uint64_t>();
        if (cfg.limits.time_ms < 1 || cfg.limits.time_ms > 60000) {
          v.Fail("recrules.limits.time_ms", "must be between 1 and 60000, got " + n->dump());
        }
      }
    }
  }
  if (!v.ok()) return Status::InvalidPolicy(v.error());
  return cfg;
}

}  // namespace recrules::detail
