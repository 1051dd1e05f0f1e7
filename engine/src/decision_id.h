// Decision ids: 16 hex digits, unique per decision, for the decision log.
#pragma once

#include <cstdint>
#include <string_view>

namespace recrules::detail {

// A random prefix (10 hex digits) and a counter (6). One source per thread, so no locking. The
// counter's digits are stepped in place, as an odometer: most ids change one digit. When the
// counter wraps (after 16^6 ids), the source draws a new prefix, so its ids do not repeat.
class DecisionIdSource {
 public:
  DecisionIdSource();
  // Starts at `prefix` (its low 40 bits) and `counter` (its low 24 bits): for tests.
  DecisionIdSource(uint64_t prefix, uint32_t counter);

  // The next id; valid until the next call.
  std::string_view Next() {
    for (int i = 15; i >= 10; --i) {
      if (text_[i] != 'f') {
        text_[i] = text_[i] == '9' ? 'a' : char(text_[i] + 1);
        return {text_, sizeof(text_)};
      }
      text_[i] = '0';
    }
    SetPrefix(RandomPrefix());
    return {text_, sizeof(text_)};
  }

 private:
  static uint64_t RandomPrefix();
  void SetPrefix(uint64_t prefix);
  void SetCounter(uint32_t counter);
  char text_[16];
};

}  // namespace recrules::detail
