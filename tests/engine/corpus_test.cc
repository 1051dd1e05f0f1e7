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
  uint32_t h = 0x811c9dc5u;
  auto fnv = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 0x01000193u;
  };
  size_t tasks = 0, skips = 0;
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
    // The reference names the entry ("exclude_queues[3]"); ours is the full JSON path.
    std::string id = "-";
    if (d.rule == "builtin:exclusions") id = d.matched.substr(d.matched.rfind('.') + 1);
    fnv(id + "\n");
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08x", h);
  std::printf("checksum_tasks=%zu checksum_skips=%zu checksum_rules_fnv1a=%s\n", tasks, skips, hex);
  bool ok = tasks == 10000 && skips == 3246 && std::string(hex) == "0x2f60be75";
  std::printf(
      "%s: expected checksum_tasks=10000 checksum_skips=3246 "
      "checksum_rules_fnv1a=0x2f60be75\n",
      ok ? "agree" : "DISAGREE");
  return ok ? 0 : 1;
}
