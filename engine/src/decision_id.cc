#include "decision_id.h"

#include <random>

namespace recrules::detail {

namespace {
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

DecisionIdSource::DecisionIdSource() : DecisionIdSource(RandomPrefix(), 0) {}

DecisionIdSource::DecisionIdSource(uint64_t prefix, uint32_t counter) {
  SetPrefix(prefix);
  SetCounter(counter);
}

uint64_t DecisionIdSource::RandomPrefix() {
  std::random_device rd;
  return uint64_t(rd()) << 32 | rd();
}

void DecisionIdSource::SetPrefix(uint64_t prefix) {
  for (int i = 0; i < 10; ++i) text_[i] = kHex[(prefix >> (36 - 4 * i)) & 0xf];
}

void DecisionIdSource::SetCounter(uint32_t counter) {
  for (int i = 0; i < 6; ++i) text_[10 + i] = kHex[(counter >> (20 - 4 * i)) & 0xf];
}

}  // namespace recrules::detail
