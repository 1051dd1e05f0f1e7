#include "builtin_rules.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>
#include <vector>

#include "json.h"

namespace recrules::detail {

namespace {

// Strings (excluded queue names and SIDs, excluded attribute values) to the entry that first
// named them: open addressing over a power of two of (hash, entry) slots, a probe or two per
// lookup (std::unordered_map's buckets cost a division and a pointer chase each).
template <typename Entry>
class StringTable {
 public:
  // First occurrence wins, as in a scan of the list in order.
  void Add(const std::string& key, Entry entry) {
    if (Find(key) != nullptr) return;
    entries_.push_back({key, std::move(entry)});
    if (2 * entries_.size() <= slots_.size()) {
      Place(entries_.size() - 1);
      return;
    }
    // At most half full: double and place every entry again.
    slots_.assign(std::max<size_t>(8, 2 * slots_.size()), Slot{});
    shift_ = 64 - std::countr_zero(slots_.size());
    for (size_t i = 0; i < entries_.size(); ++i) Place(i);
  }
  bool empty() const { return entries_.empty(); }
  // `hash` is TapeKeyMatcher::HashOf(key) when the caller has it, or 0.
  const Entry* Find(std::string_view key, uint64_t hash = 0) const {
    if (entries_.size() <= 2) {  // a comparison or two is cheaper than the hash
      for (const auto& [name, entry] : entries_) {
        if (name == key) return &entry;
      }
      return nullptr;
    }
    const uint64_t h = hash != 0 ? hash : TapeKeyMatcher::HashOf(key);
    const size_t mask = slots_.size() - 1;
    for (size_t slot = h >> shift_; slots_[slot].entry != 0; slot = (slot + 1) & mask) {
      if (slots_[slot].hash != h) continue;
      const auto& [name, entry] = entries_[slots_[slot].entry - 1];
      if (name == key) return &entry;
    }
    return nullptr;
  }

 private:
  void Place(size_t i) {
    const uint64_t h = TapeKeyMatcher::HashOf(entries_[i].first);
    size_t slot = h >> shift_;
    while (slots_[slot].entry != 0) slot = (slot + 1) & (slots_.size() - 1);
    slots_[slot] = Slot{h, uint32_t(i + 1)};
  }
  struct Slot {
    uint64_t hash = 0;
    uint32_t entry = 0;  // index in entries_ plus one; 0 for an empty slot
  };
  std::vector<std::pair<std::string, Entry>> entries_;
  std::vector<Slot> slots_;
  int shift_ = 64;
};

// builtin:exclusions — exclude_queues (queue name or SID, exact) then exclude_attributes
// (dot path; array containment; strict JSON equality), entries in configuration order.
// Under dual-channel recording the dual-channel lists apply and the conditional ones do not.
class ExclusionRule : public Rule {
 public:
  ExclusionRule(const std::string& name, const PolicyConfig& cfg) : Rule(name) {
    const ExclusionConfig* list = nullptr;
    if (cfg.dual_enabled) {
      list = &cfg.dual;
    } else if (cfg.conditional_enabled) {
      list = &cfg.conditional;
    }
    if (list == nullptr) return;
    for (size_t i = 0; i < list->queues.size(); ++i) {
      const std::string& q = list->queues[i];
      std::string matched = list->source + ".exclude_queues[" + std::to_string(i) + "]";
      std::string reason = "task queue \"" + q + "\" is excluded from recording (" + matched + ")";
      queues_.Add(q, Entry{i, std::move(reason), std::move(matched)});
    }
    for (size_t i = 0; i < list->attributes.size(); ++i) {
      const AttributeExclusion& a = list->attributes[i];
      std::string matched = list->source + ".exclude_attributes[" + std::to_string(i) + "]";
      std::string reason = "task attribute " + a.key + " = " + a.value.dump() +
                           " is excluded from recording (" + matched + ")";
      size_t path = paths_.Add(Path::Parse(a.key).steps);
      if (path >= by_path_.size()) by_path_.resize(path + 1);
      if (a.value.is_string()) {
        const std::string& text = a.value.get_ref<const std::string&>();
        by_path_[path].strings.Add(text, attributes_.size());
        const fingerprint::Value f = fingerprint::OfString(text);
        by_path_[path].AddString(f);
      } else {
        by_path_[path].others.push_back(attributes_.size());
      }
      attributes_.push_back(
          Attribute{path, Literal(a.value), {i, std::move(reason), std::move(matched)}});
    }
    set_always_passes(queues_.empty() && attributes_.empty());
  }

  void Evaluate(const RuleInput& in, RuleVerdict* out) const override {
    if (!queues_.empty()) {
      // A task without a queue name or SID matches no entry (not even an empty one).
      const TaskView& t = in.task;
      const Entry* by_name =
          t.queue_name.empty() ? nullptr : queues_.Find(t.queue_name, t.queue_name_hash);
      const Entry* by_sid =
          t.queue_sid.empty() ? nullptr : queues_.Find(t.queue_sid, t.queue_sid_hash);
      const Entry* hit = by_name;
      if (by_sid != nullptr && (hit == nullptr || by_sid->index < hit->index)) hit = by_sid;
      if (hit != nullptr) {
        out->Decide(Action::kSkip, hit->reason, hit->matched);
        return;
      }
    }
    if (!in.task.has_attributes || attributes_.empty()) return;
    thread_local PathSet::Found found;
    paths_.Resolve(in.task.attributes, &in.task.attributes_layout, &found);
    // The first entry in configuration order that matches: per path, a probe for the task's
    // string (or each string of its array) and a scan of the few entries that are not strings.
    size_t first = attributes_.size();
    for (uint32_t p : found.hits) {
      const PathExclusions& group = by_path_[p];
      if (!group.MayMatch(found.FingerprintOf(p))) continue;
      const Element value = found.Value(p);
      auto probe = [&](Element e) {
        std::string_view text;
        if (e.get(text) != simdjson::SUCCESS) return;
        if (const size_t* i = group.strings.Find(text)) first = std::min(first, *i);
      };
      simdjson::dom::array items;
      if (!group.strings.empty()) {
        if (value.get(items) == simdjson::SUCCESS) {
          for (Element item : items) probe(item);
        } else {
          probe(value);
        }
      }
      for (size_t i : group.others) {
        if (i >= first) break;
        if (attributes_[i].value.Matches(value)) first = i;
      }
    }
    if (first < attributes_.size()) {
      const Entry& entry = attributes_[first].entry;
      out->Decide(Action::kSkip, entry.reason, entry.matched);
    }
  }

 private:
  struct Entry {
    size_t index;
    std::string reason;
    std::string matched;
  };
  struct Attribute {
    size_t path;  // index in paths_
    Literal value;
    Entry entry;
  };

  // The attribute exclusions on one path: string values in a table (one probe per task value,
  // however long the list), other values in configuration order.
  struct PathExclusions {
    StringTable<size_t> strings;  // value -> index in attributes_ of the first entry with it
    std::vector<size_t> others;   // indexes in attributes_, ascending
    // A bit per string, then, while the path has at most kFew strings (the usual case: one or
    // two), their whole fingerprints: 1 in 32 768 other strings passes, not 1 in 64.
    static constexpr size_t kFew = 4;
    std::array<fingerprint::Value, kFew> few{};
    std::array<fingerprint::Value, kFew> few_in_array{};  // their fingerprint::InArray
    size_t string_count = 0;
    uint64_t string_filter = 0;           // a bit per string's fingerprint (its low 6 bits)
    fingerprint::Value array_filter = 0;  // each string's fingerprint::InArray

    void AddString(fingerprint::Value f) {
      if (string_count < kFew) {
        few[string_count] = f;
        few_in_array[string_count] = fingerprint::InArray(f);
      }
      ++string_count;
      string_filter |= uint64_t(1) << (f & 63);
      array_filter |= fingerprint::InArray(f);
    }
    // False when a task value with this fingerprint cannot match an entry on this path, so the
    // value need not be read: strings match only strings (or an array holding one), and most
    // task strings are not the configured ones.
    bool MayMatch(fingerprint::Value f) const {
      if (f == fingerprint::kUnknown || !others.empty()) return true;
      if (fingerprint::IsString(f)) {
        if (!((string_filter >> (f & 63)) & 1)) return false;  // most strings stop here
        if (string_count > kFew) return true;
        for (size_t i = 0; i < string_count; ++i) {
          if (few[i] == f) return true;
        }
        return false;
      }
      if (fingerprint::IsArray(f)) {
        if (string_count > kFew) return (f & array_filter) != 0;
        for (size_t i = 0; i < string_count; ++i) {
          if ((f & few_in_array[i]) == few_in_array[i]) return true;
        }
        return false;
      }
      return false;
    }
  };

  StringTable<Entry> queues_;
  PathSet paths_;
  std::vector<Attribute> attributes_;    // in configuration order
  std::vector<PathExclusions> by_path_;  // by path index in paths_
};

// builtin:non_voice — only voice tasks are recorded. A task that names no channel passes.
class NonVoiceRule : public Rule {
 public:
  explicit NonVoiceRule(const std::string& name) : Rule(name) {}
  void Evaluate(const RuleInput& in, RuleVerdict* out) const override {
    if (in.task.channel.empty() || in.task.channel == "voice") return;
    out->reason_storage = "task channel \"";
    out->reason_storage.append(in.task.channel);
    out->reason_storage.append("\" is not voice: there is no call to record");
    out->Decide(Action::kSkip, out->reason_storage, "taskChannelUniqueName");
  }
};

// builtin:internal_calls — under dual-channel recording, an agent-to-agent call
// (attributes.client_call) is recorded on the outbound leg only, so it is not recorded twice.
class InternalCallRule : public Rule {
 public:
  InternalCallRule(const std::string& name, const PolicyConfig& cfg)
      : Rule(name), active_(cfg.dual_enabled) {
    set_always_passes(!active_);
  }
  void Evaluate(const RuleInput& in, RuleVerdict* out) const override {
    if (!active_ || !in.task.has_attributes) return;
    auto client_call = WalkPath(in.task.attributes, client_call_.steps);
    bool is_internal = false;
    if (!client_call || client_call->get(is_internal) != simdjson::SUCCESS || !is_internal) return;
    auto direction = WalkPath(in.task.attributes, direction_.steps);
    std::string_view dir;
    if (direction && direction->get(dir) == simdjson::SUCCESS && dir == "outbound") return;
    out->Decide(Action::kSkip,
                "internal call (attributes.client_call): only the outbound leg's task is "
                "recorded under dual-channel recording",
                "attributes.client_call");
  }

 private:
  bool active_;
  Path client_call_ = Path::Parse("client_call");
  Path direction_ = Path::Parse("direction");
};

// builtin:already_recorded — under dual-channel recording of the customer leg, a task whose
// attributes.conversations.media is set was recorded before (e.g. before a transfer).
class AlreadyRecordedRule : public Rule {
 public:
  AlreadyRecordedRule(const std::string& name, const PolicyConfig& cfg)
      : Rule(name), active_(cfg.dual_enabled && cfg.dual_channel == Channel::kCustomer) {
    set_always_passes(!active_);
  }
  void Evaluate(const RuleInput& in, RuleVerdict* out) const override {
    if (!active_ || !in.task.has_attributes) return;
    if (!WalkPath(in.task.attributes, media_.steps)) return;
    out->Decide(Action::kSkip,
                "the customer leg was already recorded (attributes.conversations.media is set, "
                "e.g. before a transfer): not recording it twice",
                "attributes.conversations.media");
  }

 private:
  bool active_;
  Path media_ = Path::Parse("conversations.media");
};

}  // namespace

bool IsBuiltinRuleName(std::string_view name) {
  return name.rfind("builtin:", 0) == 0;
}

Result<std::unique_ptr<Rule>> MakeBuiltinRule(const std::string& name, const PolicyConfig& cfg,
                                              const std::string& where) {
  if (name == "builtin:exclusions") return std::unique_ptr<Rule>(new ExclusionRule(name, cfg));
  if (name == "builtin:non_voice") return std::unique_ptr<Rule>(new NonVoiceRule(name));
  if (name == "builtin:internal_calls") {
    return std::unique_ptr<Rule>(new InternalCallRule(name, cfg));
  }
  if (name == "builtin:already_recorded") {
    return std::unique_ptr<Rule>(new AlreadyRecordedRule(name, cfg));
  }
  return Status::InvalidPolicy(cfg.file + ": " + where + ": unknown rule \"" + name +
                               "\" (built-in rules: builtin:exclusions, builtin:non_voice, "
                               "builtin:internal_calls, builtin:already_recorded)");
}

}  // namespace recrules::detail
