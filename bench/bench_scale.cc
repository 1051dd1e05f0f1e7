// How the cost of one decision grows with the policy and the task (issue 6), Google Benchmark.
//   bench_scale [benchmark flags]      (bench/run_scale_bench.sh runs it and plots the result)
//
// Every benchmark is one end-to-end decision: JSON text in -> Engine::Decide ->
// Decision::AppendJson out, on one thread, over 64 distinct generated Flex voice tasks (~1.6 KB
// each unless padded). Policies are generated into a temporary folder that is removed after.
// Names are FAMILY/SERIES/X, which bench/plot_scale.py reads:
//   exclusions/queues_nomatch/N         N exclude_queues (names and SIDs); the task's queue is in
//                                       none of them
//   exclusions/queues_match/N           ... the task's queue is the last entry
//   exclusions/attributes_nomatch/N     N exclude_attributes over 5 realistic keys (from,
//                                       customer.id, customer.account.number, crm.contact_id,
//                                       tags); every key exists in the task, no value matches,
//                                       so every entry is compared
//   exclusions/attributes_match/N       ... the last entry matches (customer.id)
//   exclusions/attribute_paths_nomatch/N  N exclude_attributes each on its own top-level key
//                                       (a worst case: N distinct paths to resolve)
//   lua_rules/pass/N                    builtin:exclusions (10 + 10) then N Lua rules that read
//                                       three attributes each and pass, so all N run
//   task_size/builtin/KB                the peers-like policy (built-in rules, 10 + 10
//                                       exclusions); tasks padded to KB kilobytes
//   task_size/builtin_and_1_lua/KB      ... plus one Lua rule that reads three attributes
// Before timing, each benchmark decides once and checks the action it expects, so a generator
// mistake is an error, not a misleading figure.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "recrules/engine.h"

namespace {

namespace fs = std::filesystem;

constexpr int kTasks = 64;

// Deterministic hex of `width` digits from a seed, so SIDs differ per task and are stable.
std::string Hex(uint64_t seed, int width) {
  std::string s;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (int i = 0; i < width; ++i) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    s.push_back("0123456789abcdef"[x & 15]);
  }
  return s;
}

std::string Quote(const std::string& s) {
  return "\"" + s + "\"";
}

// What varies in a generated task.
struct TaskShape {
  std::string queue_name = "Support";
  std::string customer_id;      // default: CUST-<6 digits> from the task number
  size_t pad_to_bytes = 0;      // add attributes.history entries until the task is this large
  std::string top_level_extra;  // raw `"key":value,` text added to the attributes
  bool compact = false;         // leave out the Insights and CRM blocks (a ~1 KB task)
};

// A Flex voice task as the plugin sends it: the shape of a real inbound call's attributes
// (call legs, IVR, CRM, Flex Insights conversations), padded when asked with the kind of data
// that makes real tasks large: a CRM's history of earlier interactions.
std::string MakeTask(int i, const TaskShape& shape) {
  const std::string customer = shape.customer_id.empty()
                                   ? "CUST-" + std::to_string(100000 + i * 7919 % 900000)
                                   : shape.customer_id;
  const std::string phone = "+1415" + std::to_string(5550000 + i * 37 % 9999);
  std::string a;
  a += "{\"account_sid\":\"AC" + Hex(1, 32) + "\",\"api_version\":\"2010-04-01\",";
  a += "\"call_sid\":\"CA" + Hex(1000 + i, 32) + "\",\"call_status\":\"in-progress\",";
  a += "\"direction\":\"inbound\",\"type\":\"inbound\",\"from\":\"" + phone +
       "\",\"to\":\"+16285550123\",";
  a += "\"caller\":\"" + phone + "\",\"called\":\"+16285550123\",\"name\":\"" + phone +
       "\",\"client_call\":false,";
  a += "\"caller_city\":\"SAN FRANCISCO\",\"caller_state\":\"CA\",\"caller_zip\":\"94107\","
       "\"caller_country\":\"US\",\"language\":\"en-US\",\"priority_level\":" +
       std::to_string(i % 5) + ",\"selected_option\":\"" + std::to_string(i % 9) + "\",";
  a += shape.top_level_extra;
  a += "\"ivr\":{\"path\":\"main>support>internet\",\"duration_s\":" + std::to_string(30 + i) +
       ",\"retries\":0,\"authenticated\":true},\"conference\":null,";
  if (!shape.compact) {
    a += "\"conversations\":{\"conversation_id\":\"WT" + Hex(2000 + i, 32) +
         "\",\"communication_channel\":\"Voice\",\"direction\":\"Inbound\","
         "\"initiated_by\":\"Customer\",\"in_business_hours\":\"true\","
         "\"conversation_attribute_1\":\"main>support>internet\",\"queue\":\"" +
         shape.queue_name + "\",\"virtual\":\"No\"},";
  }
  a += "\"customer\":{\"id\":\"" + customer +
       "\",\"name\":\"Dana Okafor\",\"tier\":\"gold\","
       "\"state\":\"NY\",\"consent\":{\"recording\":\"granted\",\"updated_at\":"
       "\"2024-02-13T11:39:29.000Z\"},\"flags\":[],\"account\":{\"number\":\"" +
       std::to_string(3800000000ull + uint64_t(i) * 104729) +
       "\",\"segment\":\"consumer\",\"region\":\"na\",\"balance_cents\":22774}},";
  a += "\"tags\":[\"billing\",\"returning\"],";
  if (!shape.compact) {
    a += "\"crm\":{\"contact_id\":\"0036" + Hex(3000 + i, 14) + "\",\"case\":{\"id\":\"5008" +
         Hex(4000 + i, 14) + "\",\"type\":\"support\"}},";
  }
  a += "\"survey_opt_in\":false,\"created_at\":\"2024-06-01T00:00:07.000Z\"";

  std::string head = "{\"sid\":\"WR" + Hex(5000 + i, 32) + "\",\"taskSid\":\"WT" +
                     Hex(2000 + i, 32) + "\",\"queueName\":" + Quote(shape.queue_name) +
                     ",\"queueSid\":\"WQ" + Hex(6000, 32) +
                     "\",\"taskChannelUniqueName\":\"voice\",\"attributes\":";
  const size_t fixed = head.size() + a.size() + 3;  // + "}}" and the history's ","
  if (shape.pad_to_bytes > fixed) {
    std::string history = ",\"history\":[";
    for (int k = 0; fixed + history.size() + 1 < shape.pad_to_bytes; ++k) {
      if (k > 0) history += ",";
      history += "{\"task_sid\":\"WT" + Hex(uint64_t(i) * 100000 + k, 32) +
                 "\",\"queue\":\"Billing\",\"started_at\":\"2024-05-" +
                 std::to_string(10 + k % 19) + "T09:" + std::to_string(10 + k % 50) +
                 ":00Z\",\"duration_s\":" + std::to_string(60 + k * 13 % 900) +
                 ",\"disposition\":\"resolved\",\"agent\":\"WK" + Hex(7000 + k % 40, 32) +
                 "\",\"notes\":\"customer asked about invoice " + std::to_string(k) +
                 "; explained late fee and set up autopay\"}";
    }
    history += "]";
    a += history;
  }
  return head + a + "}}";
}

// A policy folder in the system's temporary directory, removed with the object.
class PolicyFolder {
 public:
  PolicyFolder() {
    std::string tmpl = (fs::temp_directory_path() / "recrules-scale-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~PolicyFolder() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  PolicyFolder(const PolicyFolder&) = delete;
  PolicyFolder& operator=(const PolicyFolder&) = delete;

  void Write(const std::string& name, const std::string& text) const {
    fs::create_directories((fs::path(path_) / name).parent_path());
    std::ofstream(fs::path(path_) / name) << text;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// policy.json with conditional recording's lists and the given rule order.
std::string PolicyJson(const std::string& queues, const std::string& attributes,
                       const std::vector<std::string>& rules) {
  std::string r;
  for (const std::string& rule : rules) r += (r.empty() ? "" : ",") + Quote(rule);
  return "{\"features\":{\"conditional_recording\":{\"enabled\":true,\"exclude_queues\":[" +
         queues + "],\"exclude_attributes\":[" + attributes +
         "]},\"dual_channel_recording\":{\"enabled\":false,\"channel\":\"worker\","
         "\"exclude_queues\":[],\"exclude_attributes\":[]},\"pause_recording\":{\"enabled\":"
         "true,\"include_silence\":false}},\"recrules\":{\"rules\":[" +
         r + "],\"default\":\"record\",\"on_rule_error\":\"next\"}}";
}

// N queue exclusions, alternating queue SIDs and names; the last entry (N is even) is a name.
std::string QueueList(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += ",";
    s += i % 2 == 0 ? Quote("WQ" + Hex(90000 + i, 32)) : Quote("Team " + std::to_string(i));
  }
  return s;
}

// N attribute exclusions cycling over five keys a real task has, none matching the generated
// tasks; when `last_value` is set the last entry is customer.id = last_value.
std::string AttributeList(int n, const std::string& last_value = "") {
  static const char* const kKeys[] = {"from", "customer.id", "customer.account.number",
                                      "crm.contact_id", "tags"};
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += ",";
    std::string key = kKeys[i % 5];
    std::string value = "x-" + std::to_string(i);
    if (i == n - 1 && !last_value.empty()) {
      key = "customer.id";
      value = last_value;
    }
    s += "{\"key\":" + Quote(key) + ",\"value\":" + Quote(value) + "}";
  }
  return s;
}

// N attribute exclusions, each on its own top-level key; the tasks carry the last key with
// another value, so that at least one path is found and compared.
std::string AttributePathList(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += ",";
    s += "{\"key\":\"custom_field_" + std::to_string(i) + "\",\"value\":\"x\"}";
  }
  return s;
}

// A realistic small rule: reads three attributes, decides only for values the generated tasks
// never carry, so it passes.
std::string LuaRule(int i) {
  const std::string n = std::to_string(i);
  return "-- generated rule " + n +
         ": reads three attributes and passes for the benchmark's tasks\n"
         "return {\n"
         "  name = \"scale_rule_" +
         n +
         "\",\n"
         "  events = { \"accept\" },\n"
         "  decide = function(task, ctx)\n"
         "    local a = task.attributes\n"
         "    if recrules.matches(a, \"customer.tier\", \"blocked-" +
         n +
         "\") then\n"
         "      return recrules.skip{ reason = \"tier blocked-" +
         n +
         "\" }\n"
         "    end\n"
         "    local state = recrules.get(a, \"customer.state\")\n"
         "    if state == \"Z" +
         n +
         "\" and a.direction == \"outbound\" then\n"
         "      return recrules.skip{ reason = \"outbound to Z" +
         n +
         "\" }\n"
         "    end\n"
         "    return nil\n"
         "  end,\n"
         "}\n";
}

// One case: a policy in its folder and the tasks to decide on, and the action each decision
// must have.
struct Case {
  std::string policy_json;
  std::vector<std::pair<std::string, std::string>> files;  // rule files beside policy.json
  std::vector<std::string> tasks;
  recrules::Action expect = recrules::Action::kRecord;
};

void RunCase(benchmark::State& state, const Case& c) {
  PolicyFolder folder;
  folder.Write("policy.json", c.policy_json);
  for (const auto& [name, text] : c.files) folder.Write(name, text);
  auto engine = recrules::Engine::Open(folder.path());
  if (!engine.ok()) {
    state.SkipWithError(("policy: " + engine.status().message()).c_str());
    return;
  }
  const recrules::Engine& e = **engine;
  recrules::Decision d;
  std::string out;
  out.reserve(2048);
  size_t bytes = 0;
  for (const std::string& t : c.tasks) {
    bytes += t.size();
    recrules::Status s = e.Decide(t, {}, &d);
    if (!s.ok() || d.action != c.expect) {
      state.SkipWithError(("unexpected decision: " + (s.ok() ? d.ToJson() : s.message())).c_str());
      return;
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    const std::string& task = c.tasks[i];
    if (++i == c.tasks.size()) i = 0;
    out.clear();
    if (!e.Decide(task, {}, &d).ok()) state.SkipWithError("decide failed");
    d.AppendJson(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["task_bytes"] = double(bytes) / double(c.tasks.size());
}

std::vector<std::string> Tasks(const TaskShape& shape) {
  std::vector<std::string> tasks;
  for (int i = 0; i < kTasks; ++i) tasks.push_back(MakeTask(i, shape));
  return tasks;
}

const std::vector<std::string> kBuiltins = {"builtin:non_voice", "builtin:exclusions",
                                            "builtin:internal_calls", "builtin:already_recorded"};

void BM_Queues(benchmark::State& state, bool match) {
  const int n = int(state.range(0));
  Case c;
  c.policy_json = PolicyJson(QueueList(n), "", kBuiltins);
  TaskShape shape;
  if (match) shape.queue_name = "Team " + std::to_string(n - 1);
  c.tasks = Tasks(shape);
  c.expect = match ? recrules::Action::kSkip : recrules::Action::kRecord;
  RunCase(state, c);
}

void BM_Attributes(benchmark::State& state, bool match) {
  const int n = int(state.range(0));
  Case c;
  c.policy_json = PolicyJson("", AttributeList(n, match ? "CUST-MATCH" : ""), kBuiltins);
  TaskShape shape;
  if (match) shape.customer_id = "CUST-MATCH";
  c.tasks = Tasks(shape);
  c.expect = match ? recrules::Action::kSkip : recrules::Action::kRecord;
  RunCase(state, c);
}

void BM_AttributePaths(benchmark::State& state) {
  const int n = int(state.range(0));
  Case c;
  c.policy_json = PolicyJson("", AttributePathList(n), kBuiltins);
  TaskShape shape;
  shape.top_level_extra = "\"custom_field_" + std::to_string(n - 1) + "\":\"y\",";
  c.tasks = Tasks(shape);
  RunCase(state, c);
}

void BM_LuaRules(benchmark::State& state) {
  const int n = int(state.range(0));
  Case c;
  std::vector<std::string> rules = kBuiltins;
  for (int i = 0; i < n; ++i) {
    std::string name = "rules/scale_" + std::to_string(i) + ".lua";
    c.files.emplace_back(name, LuaRule(i));
    rules.push_back(name);
  }
  c.policy_json = PolicyJson(QueueList(10), AttributeList(10), rules);
  c.tasks = Tasks({});
  RunCase(state, c);
}

void BM_TaskSize(benchmark::State& state, bool with_lua) {
  Case c;
  std::vector<std::string> rules = kBuiltins;
  if (with_lua) {
    c.files.emplace_back("rules/scale_0.lua", LuaRule(0));
    rules.push_back("rules/scale_0.lua");
  }
  c.policy_json = PolicyJson(QueueList(10), AttributeList(10), rules);
  TaskShape shape;
  shape.compact = true;  // ~1 KB before padding, so the first point is a 1 KB task
  shape.pad_to_bytes = size_t(state.range(0)) * 1024;
  c.tasks = Tasks(shape);
  RunCase(state, c);
}

void Register() {
  const std::vector<int64_t> counts = {10, 100, 1000, 10000};
  auto add = [](const char* name, auto fn, const std::vector<int64_t>& xs) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    for (int64_t x : xs) b->Arg(x);
    b->Unit(benchmark::kNanosecond);
  };
  add(
      "exclusions/queues_nomatch", [](benchmark::State& s) { BM_Queues(s, false); }, counts);
  add(
      "exclusions/queues_match", [](benchmark::State& s) { BM_Queues(s, true); }, counts);
  add(
      "exclusions/attributes_nomatch", [](benchmark::State& s) { BM_Attributes(s, false); },
      counts);
  add(
      "exclusions/attributes_match", [](benchmark::State& s) { BM_Attributes(s, true); }, counts);
  add(
      "exclusions/attribute_paths_nomatch", [](benchmark::State& s) { BM_AttributePaths(s); },
      counts);
  add("lua_rules/pass", [](benchmark::State& s) { BM_LuaRules(s); }, {1, 3, 10, 30, 100});
  add("task_size/builtin", [](benchmark::State& s) { BM_TaskSize(s, false); }, {1, 4, 16, 64});
  add("task_size/builtin_and_1_lua", [](benchmark::State& s) { BM_TaskSize(s, true); },
      {1, 4, 16, 64});
}

}  // namespace

int main(int argc, char** argv) {
  Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
