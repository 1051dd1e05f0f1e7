// Engine throughput on the peers corpus (../shared/peers), Google Benchmark.
//   bench_engine --corpus DIR [benchmark flags]   DIR holds corpus.jsonl and policy.json
// e2e:        JSON text in -> Engine::Decide -> decision JSON out (Decision::AppendJson)
// preparsed:  Request already parsed (recrules::ParseRequest) -> Engine::Decide
// e2e_lua:    e2e on the corpus policy plus one typical Lua rule after the exclusions (reads
//             three attributes; see kConsentRule), in a temporary policy folder
// preparsed_no_exclusions: preparsed under a policy that excludes nothing (same rules, empty
//             lists): what every pre-parsed decision costs before any matching, i.e. the
//             audit record (id, clock reads, SIDs, rule, reason) and the rule calls
// parse_only: the request parse alone, to show where the e2e time goes
// Rates are per wall-clock second (UseRealTime), as the Node reference measures them: on a
// shared, loaded machine CPU-time rates would flatter the C++ side.
// Every benchmark reports allocs_per_decision: calls of the global operator new per iteration,
// counted by the replacement below (the engine's steady state, after the first round warmed the
// thread's parsers and the Decision's buffers).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "recrules/engine.h"

namespace {
std::atomic<uint64_t> g_allocs{0};
}  // namespace

// Counting replacements of the global allocation functions (the nothrow forms are counted
// alike). GCC's -Wmismatched-new-delete cannot see that these new and delete pair up.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  return operator new(n);
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}

namespace {

std::string g_dir;
std::vector<std::string> g_lines;
std::unique_ptr<recrules::Engine> g_engine;
std::unique_ptr<recrules::Engine> g_lua_engine;
std::unique_ptr<recrules::Engine> g_empty_engine;  // no exclusions
std::string g_lua_dir;

// A typical Lua rule (like rules/consent.lua): reads three attributes, skips callers from
// two-party-consent states who have not consented, passes otherwise.
const char* kConsentRule = R"(-- bench: two-party consent on the caller's state
local TWO_PARTY = { CA = true, CT = true, DE = true, FL = true, IL = true, MD = true, MA = true,
  MI = true, MT = true, NV = true, NH = true, OR = true, PA = true, WA = true }
return {
  name = "consent",
  events = { "accept" },
  decide = function(task, ctx)
    local a = task.attributes
    if a.direction ~= "inbound" or not TWO_PARTY[a.caller_state] then return nil end
    if recrules.matches(a, "customer.consent.recording", "granted") then return nil end
    return recrules.skip{ reason = "caller in a two-party-consent state has not consented" }
  end,
}
)";

// In a temporary folder: the corpus policy with a recrules section (the exclusions, then the
// Lua rule), and the same built-in rules with nothing to exclude.
bool MakeExtraPolicies() {
  std::ifstream in(g_dir + "/policy.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string policy = text.str();
  size_t close = policy.rfind('}');
  if (close == std::string::npos) return false;
  policy.replace(close, 1,
                 ",\"recrules\":{\"rules\":[\"builtin:exclusions\",\"consent.lua\"],"
                 "\"default\":\"record\"}}");
  std::string tmpl = (std::filesystem::temp_directory_path() / "recrules-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return false;
  g_lua_dir = tmpl;
  std::ofstream(g_lua_dir + "/policy.json") << policy;
  std::ofstream(g_lua_dir + "/consent.lua") << kConsentRule;
  auto engine = recrules::Engine::Open(g_lua_dir);
  if (!engine.ok()) {
    std::fprintf(stderr, "bench_engine: Lua policy: %s\n", engine.status().message().c_str());
    return false;
  }
  g_lua_engine = std::move(engine).value();
  // The same built-in rules with nothing to exclude, in a folder of its own.
  const std::string empty_dir = g_lua_dir + "/no_exclusions";
  std::filesystem::create_directory(empty_dir);
  std::ofstream(empty_dir + "/policy.json")
      << R"({"features":{"conditional_recording":{"enabled":true,"exclude_queues":[],)"
      << R"("exclude_attributes":[]}}})";
  auto empty = recrules::Engine::Open(empty_dir);
  if (!empty.ok()) {
    std::fprintf(stderr, "bench_engine: empty policy: %s\n", empty.status().message().c_str());
    return false;
  }
  g_empty_engine = std::move(empty).value();
  return true;
}

bool Load() {
  std::ifstream in(g_dir + "/corpus.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) g_lines.push_back(line);
  }
  auto engine = recrules::Engine::Open(g_dir + "/policy.json");
  if (!engine.ok() || g_lines.empty()) {
    std::fprintf(stderr, "bench_engine: cannot load corpus or policy from %s: %s\n", g_dir.c_str(),
                 engine.ok() ? "empty corpus" : engine.status().message().c_str());
    return false;
  }
  g_engine = std::move(engine).value();
  return MakeExtraPolicies();
}

// Counts allocations from construction to Report, per iteration.
class AllocCounter {
 public:
  AllocCounter() : start_(g_allocs.load(std::memory_order_relaxed)) {}
  void Report(benchmark::State& state) const {
    uint64_t n = g_allocs.load(std::memory_order_relaxed) - start_;
    state.counters["allocs_per_decision"] = double(n) / double(state.iterations());
  }

 private:
  uint64_t start_;
};

void EndToEnd(benchmark::State& state, const recrules::Engine& engine) {
  recrules::Decision d;
  std::string out;
  out.reserve(1024);
  size_t skips = 0;
  // Warm the thread's parsers and the decision's buffers on the whole corpus first.
  for (const std::string& line : g_lines) (void)engine.Decide(line, {}, &d);
  size_t i = 0;
  AllocCounter allocs;
  for (auto _ : state) {
    const std::string& line = g_lines[i];
    if (++i == g_lines.size()) i = 0;
    out.clear();
    if (!engine.Decide(line, {}, &d).ok()) state.SkipWithError("decide failed");
    d.AppendJson(&out);
    skips += d.action == recrules::Action::kSkip;
    benchmark::DoNotOptimize(out.data());
  }
  allocs.Report(state);
  state.SetItemsProcessed(state.iterations());
  state.counters["skip_fraction"] = double(skips) / double(state.iterations());
}

void BM_EndToEnd(benchmark::State& state) {
  EndToEnd(state, *g_engine);
}
BENCHMARK(BM_EndToEnd)->Name("e2e")->MinTime(2.0)->UseRealTime();

void PreParsed(benchmark::State& state, const recrules::Engine& engine) {
  std::vector<recrules::Request> requests;
  requests.reserve(g_lines.size());
  for (const std::string& line : g_lines) requests.push_back(*recrules::ParseRequest(line));
  recrules::Decision d;
  for (const auto& r : requests) (void)engine.Decide(r, {}, &d);
  size_t i = 0;
  AllocCounter allocs;
  for (auto _ : state) {
    if (!engine.Decide(requests[i], {}, &d).ok()) state.SkipWithError("decide failed");
    if (++i == requests.size()) i = 0;
    benchmark::DoNotOptimize(d.action);
  }
  allocs.Report(state);
  state.SetItemsProcessed(state.iterations());
}

void BM_PreParsed(benchmark::State& state) {
  PreParsed(state, *g_engine);
}
BENCHMARK(BM_PreParsed)->Name("preparsed")->MinTime(2.0)->UseRealTime();

void BM_PreParsedNoExclusions(benchmark::State& state) {
  PreParsed(state, *g_empty_engine);
}
BENCHMARK(BM_PreParsedNoExclusions)->Name("preparsed_no_exclusions")->MinTime(1.0)->UseRealTime();

void BM_EndToEndLua(benchmark::State& state) {
  EndToEnd(state, *g_lua_engine);
}
BENCHMARK(BM_EndToEndLua)->Name("e2e_lua")->MinTime(2.0)->UseRealTime();

void BM_ParseOnly(benchmark::State& state) {
  size_t i = 0;
  AllocCounter allocs;
  for (auto _ : state) {
    auto task = recrules::Task::FromJson(g_lines[i]);
    if (++i == g_lines.size()) i = 0;
    benchmark::DoNotOptimize(task.ok());
  }
  allocs.Report(state);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseOnly)->Name("parse_only_owned_task")->MinTime(1.0)->UseRealTime();

// A fixed number of decisions without the benchmark library, for instruction counts:
//   valgrind --tool=callgrind --toggle-collect='*RunFixed*' bench_engine --corpus DIR
//     --fixed preparsed 10000
// Only RunFixed is counted; the warm-up pass over the corpus (parsers, buffers, caches) calls
// RunDecisions directly, so the count divided by N is the cost of one decision.
size_t RunDecisions(const std::string& mode, size_t n,
                    const std::vector<recrules::Request>& requests, recrules::Decision* d,
                    std::string* out) {
  size_t skips = 0;
  for (size_t k = 0; k < n; ++k) {
    size_t i = k % g_lines.size();
    if (mode == "preparsed") {
      (void)g_engine->Decide(requests[i], {}, d);
    } else {
      (void)(mode == "e2e_lua" ? *g_lua_engine : *g_engine).Decide(g_lines[i], {}, d);
      out->clear();
      d->AppendJson(out);
    }
    skips += d->action == recrules::Action::kSkip;
  }
  return skips;
}

__attribute__((noinline)) size_t RunFixed(const std::string& mode, size_t n,
                                          const std::vector<recrules::Request>& requests,
                                          recrules::Decision* d, std::string* out) {
  return RunDecisions(mode, n, requests, d, out);
}

int Fixed(const std::string& mode, size_t n) {
  std::vector<recrules::Request> requests;
  if (mode == "preparsed") {
    for (const std::string& line : g_lines) requests.push_back(*recrules::ParseRequest(line));
  }
  recrules::Decision d;
  std::string out;
  RunDecisions(mode, g_lines.size(), requests, &d, &out);  // warm-up, not counted
  uint64_t before = g_allocs.load();
  size_t skips = RunFixed(mode, n, requests, &d, &out);
  std::printf("mode=%s decisions=%zu skips=%zu allocs_per_decision=%.3f\n", mode.c_str(), n, skips,
              double(g_allocs.load() - before) / double(n));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  std::string fixed_mode;
  size_t fixed_n = 0;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--corpus") == 0 && i + 1 < argc) {
      g_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--fixed") == 0 && i + 2 < argc) {
      fixed_mode = argv[++i];
      fixed_n = std::strtoull(argv[++i], nullptr, 10);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (g_dir.empty()) {
    std::fprintf(stderr,
                 "usage: bench_engine --corpus DIR [--fixed e2e|preparsed|e2e_lua N] "
                 "[benchmark flags]\n");
    return 2;
  }
  bool loaded = Load();
  if (loaded && !fixed_mode.empty()) {
    Fixed(fixed_mode, fixed_n);
  } else if (loaded) {
    int n = int(rest.size());
    benchmark::Initialize(&n, rest.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  }
  g_lua_engine.reset();
  g_empty_engine.reset();
  if (!g_lua_dir.empty()) std::filesystem::remove_all(g_lua_dir);
  return loaded ? 0 : 1;
}
