// Fuzzes TaskRouter event callback normalisation: the input is split into form fields
// ("key=value" separated by '&', already decoded), then decided on.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace recrules;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::pair<std::string, std::string>> fields;
  size_t start = 0;
  while (start <= text.size()) {
    size_t amp = text.find('&', start);
    if (amp == std::string::npos) amp = text.size();
    std::string field = text.substr(start, amp - start);
    size_t eq = field.find('=');
    if (eq == std::string::npos) {
      fields.emplace_back(field, "");
    } else {
      fields.emplace_back(field.substr(0, eq), field.substr(eq + 1));
    }
    start = amp + 1;
  }
  auto task = Task::FromForm(fields);
  if (!task.ok()) {
    if (task.status().message().empty()) std::abort();
    return 0;
  }
  Request request{Event::kAccept, *task};
  Decision d;
  if (!fuzz::FixedEngine().Decide(request, {}, &d).ok()) std::abort();
  fuzz::CheckDecision(d);
  return 0;
}
