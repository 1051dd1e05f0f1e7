// Agreement with the reference implementation (../shared/peers/decide.js) on every task of the
// peers corpus: the number of skips and the FNV-1a checksum over the matched exclusion entries.
//   corpus_test CORPUS.jsonl POLICY.json      (exit 77: corpus not available, test skipped)
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "recrules/engine.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: corpus_test CORPUS.jsonl POLICY.json\n");
    return 2;
  }
  std::ifstream corpus(argv[1]);
  if (!corpus) {
    std::printf("corpus %s not available: skipped\n", argv[1]);
    return 77;
  }
  auto engine = recrules::Engine::Open(argv[2]);
  if (!engine.ok()) {
    std::fprintf(stderr, "policy: %s\n", engine.status().message().c_str());
    return 1;
  }
  // Each line is decided twice: from its JSON text (as the HTTP adapter does) and as a Request
  // parsed beforehand (as an embedder keeping tasks does; its attribute keys are indexed).
  uint32_t h = 0x811c9dc5u, h_parsed = 0x811c9dc5u;
  auto fnv = [](uint32_t* hash, const std::string& s) {
    for (unsigned char c : s) *hash = (*hash ^ c) * 0x01000193u;
  };
  auto rule_id = [](const recrules::Decision& d) {
    // The reference names the entry ("exclude_queues[3]"); ours is the full JSON path.
    std::string id = "-";
    if (d.rule == "builtin:exclusions") id = d.matched.substr(d.matched.rfind('.') + 1);
    return id + "\n";
  };
  size_t tasks = 0, skips = 0, skips_parsed = 0;
  std::string line;
  recrules::Decision d;
  while (std::getline(corpus, line)) {
    if (line.empty()) continue;
    auto s = (*engine)->Decide(line, {}, &d);
    if (!s.ok()) {
      std::fprintf(stderr, "line %zu: %s\n", tasks + 1, s.message().c_str());
      return 1;
    }
    ++tasks;
    if (d.action == recrules::Action::kSkip) ++skips;
    fnv(&h, rule_id(d));
    auto request = recrules::ParseRequest(line);
    if (!request.ok() || !(*engine)->Decide(*request, {}, &d).ok()) {
      std::fprintf(stderr, "line %zu: the parsed request was not decided\n", tasks);
      return 1;
    }
    if (d.action == recrules::Action::kSkip) ++skips_parsed;
    fnv(&h_parsed, rule_id(d));
  }
  char hex[16], hex_parsed[16];
  std::snprintf(hex, sizeof hex, "0x%08x", h);
  std::snprintf(hex_parsed, sizeof hex_parsed, "0x%08x", h_parsed);
  std::printf("checksum_tasks=%zu checksum_skips=%zu checksum_rules_fnv1a=%s\n", tasks, skips, hex);
  std::printf("pre-parsed: checksum_skips=%zu checksum_rules_fnv1a=%s\n", skips_parsed, hex_parsed);
  bool ok = tasks == 10000 && skips == 3246 && std::string(hex) == "0x2f60be75" &&
            skips_parsed == skips && std::string(hex_parsed) == hex;
  std::printf(
      "%s: expected checksum_tasks=10000 checksum_skips=3246 "
      "checksum_rules_fnv1a=0x2f60be75 (both ways)\n",
      ok ? "agree" : "DISAGREE");
  return ok ? 0 : 1;
}
