// Fuzzes the request parser and the decision path: JSON text in, decision or clear error out.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace recrules;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Decision d;
  DecideOptions options;
  options.explain = size % 2 == 0;
  Status s = fuzz::FixedEngine().Decide(text, options, &d);
  if (s.ok()) {
    fuzz::CheckDecision(d);
  } else if (s.message().empty()) {
    std::abort();  // every error says what is wrong
  }
  auto owned = ParseRequest(text);
  if (owned.ok() != s.ok()) std::abort();  // both parse paths agree
  return 0;
}
