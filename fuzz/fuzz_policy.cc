// Fuzzes the policy loader: any policy.json either loads and decides, or is refused with a
// message naming the file.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace recrules;
  static const std::string dir = fuzz::WritePolicy("{}");
  {
    std::ofstream out(dir + "/policy.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  auto engine = Engine::Open(dir);
  if (!engine.ok()) {
    if (engine.status().message().find("policy.json") == std::string::npos) std::abort();
    return 0;
  }
  Decision d;
  const char* task = R"({"taskSid":"WT1","queueName":"Legal","taskChannelUniqueName":"voice",
    "attributes":{"direction":"outbound","tags":["pci"],"customer":{"consent":{"recording":"denied"}}}})";
  for (const char* event : {"accept", "update", "pause_request", "resume_request"}) {
    std::string request = std::string(R"({"event":")") + event + R"(","task":)" + task + "}";
    if (!(*engine)->Decide(request, {}, &d).ok()) std::abort();
    fuzz::CheckDecision(d);
  }
  return 0;
}
