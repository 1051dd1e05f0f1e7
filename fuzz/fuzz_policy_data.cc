// Fuzzes the policy loader's data files: the input is data/do_not_record.json of the rule
// library's policy (its Lua rule reads recrules.data.do_not_record.numbers). The policy either
// loads and every decision is complete (a data file of the wrong shape makes the rule fail,
// visibly), or it is refused with a message naming the data file (malformed JSON) or the rule's
// inline test that the data broke (the loader runs them: a list that breaks them never loads).
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include <spdlog/spdlog.h>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace recrules;
  static const std::string dir = [] {
    spdlog::set_level(spdlog::level::off);
    return fuzz::WriteLuaPolicy("next");
  }();
  {
    std::ofstream out(dir + "/data/do_not_record.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  auto engine = Engine::Open(dir);
  if (!engine.ok()) {
    const std::string& message = engine.status().message();
    if (message.find("data/do_not_record.json") == std::string::npos &&
        message.find("rules/do_not_record.lua: inline test") == std::string::npos) {
      std::fprintf(stderr, "refused without naming the data file: %s\n", message.c_str());
      std::abort();
    }
    return 0;
  }
  Decision d;
  DecideOptions options;
  options.explain = true;
  for (const char* number : {"+15550001111", "+18005550199", "+15550002222", ""}) {
    std::string request = std::string(R"({"event":"accept","task":{"taskSid":"WT1",)") +
                          R"("queueName":"Sales","taskChannelUniqueName":"voice",)" +
                          R"("attributes":{"from":")" + number + R"(","to":"+15559990000"}}})";
    if (!(*engine)->Decide(request, options, &d).ok()) std::abort();
    fuzz::CheckDecision(d);
    // A data file the rule cannot read shows as a rule error, never as a silent pass.
    size_t errors = 0;
    for (const TraceEntry& t : d.trace) errors += t.outcome == "error";
    if (errors != d.rule_errors.size()) std::abort();
  }
  return 0;
}
