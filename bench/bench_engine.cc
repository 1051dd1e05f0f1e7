// Engine throughput on the peers corpus (../shared/peers), Google Benchmark.
//   bench_engine --corpus DIR [benchmark flags]   DIR holds corpus.jsonl and policy.json
// e2e:        JSON text in -> Engine::Decide -> decision JSON out (Decision::AppendJson)
// preparsed:  Request already parsed (recrules::ParseRequest) -> Engine::Decide
// parse_only: the request parse alone, to show where the e2e time goes
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "recrules/engine.h"

namespace {

std::string g_dir;
std::vector<std::string> g_lines;
std::unique_ptr<recrules::Engine> g_engine;

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
  return true;
}

void BM_EndToEnd(benchmark::State& state) {
  recrules::Decision d;
  std::string out;
  out.reserve(1024);
  size_t i = 0, skips = 0;
  for (auto _ : state) {
    const std::string& line = g_lines[i];
    if (++i == g_lines.size()) i = 0;
    out.clear();
    if (!g_engine->Decide(line, {}, &d).ok()) state.SkipWithError("decide failed");
    d.AppendJson(&out);
    skips += d.action == recrules::Action::kSkip;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["skip_fraction"] = double(skips) / double(state.iterations());
}
BENCHMARK(BM_EndToEnd)->Name("e2e")->MinTime(2.0);

void BM_PreParsed(benchmark::State& state) {
  std::vector<recrules::Request> requests;
  requests.reserve(g_lines.size());
  for (const std::string& line : g_lines) requests.push_back(*recrules::ParseRequest(line));
  recrules::Decision d;
  size_t i = 0;
  for (auto _ : state) {
    if (!g_engine->Decide(requests[i], {}, &d).ok()) state.SkipWithError("decide failed");
    if (++i == requests.size()) i = 0;
    benchmark::DoNotOptimize(d.action);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PreParsed)->Name("preparsed")->MinTime(2.0);

void BM_ParseOnly(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    auto task = recrules::Task::FromJson(g_lines[i]);
    if (++i == g_lines.size()) i = 0;
    benchmark::DoNotOptimize(task.ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseOnly)->Name("parse_only_owned_task")->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--corpus") == 0 && i + 1 < argc) {
      g_dir = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (g_dir.empty()) {
    std::fprintf(stderr, "usage: bench_engine --corpus DIR [benchmark flags]\n");
    return 2;
  }
  if (!Load()) return 1;
  int n = int(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
