#include <cstdio>
#include <cstring>
#include <ctime>

#include "cli.h"

namespace recrules::cli {

void PrintError(const std::string& command, const std::string& message) {
  std::string line = "recrules " + command + ": " + message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

namespace {

// Reads exactly `n` digits at text[*pos]; advances *pos.
bool Digits(const std::string& text, size_t* pos, size_t n, int* out) {
  if (*pos + n > text.size()) return false;
  int v = 0;
  for (size_t k = 0; k < n; ++k) {
    char c = text[*pos + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(const std::string& text, size_t* pos, const char* any_of) {
  if (*pos >= text.size() || std::strchr(any_of, text[*pos]) == nullptr) return false;
  ++*pos;
  return true;
}

}  // namespace

std::optional<int64_t> ParseTimeArg(const std::string& text) {
  // Unix seconds.
  size_t start = text.size() > 1 && text[0] == '-' ? 1 : 0;
  if (!text.empty() && text.size() - start <= 12 &&
      text.find_first_not_of("0123456789", start) == std::string::npos && start < text.size()) {
    return std::stoll(text);
  }
  // RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  std::tm tm{};
  size_t p = 0;
  int year, mon, day, hour, min, sec;
  if (!Digits(text, &p, 4, &year) || !Expect(text, &p, "-") || !Digits(text, &p, 2, &mon) ||
      !Expect(text, &p, "-") || !Digits(text, &p, 2, &day) || !Expect(text, &p, "Tt ") ||
      !Digits(text, &p, 2, &hour) || !Expect(text, &p, ":") || !Digits(text, &p, 2, &min) ||
      !Expect(text, &p, ":") || !Digits(text, &p, 2, &sec)) {
    return std::nullopt;
  }
  if (p < text.size() && text[p] == '.') {
    ++p;
    size_t digits_start = p;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') ++p;
    if (p == digits_start) return std::nullopt;
  }
  int64_t offset = 0;
  if (Expect(text, &p, "Zz")) {
    offset = 0;
  } else if (p < text.size() && (text[p] == '+' || text[p] == '-')) {
    int sign = text[p] == '+' ? 1 : -1;
    ++p;
    int oh, om;
    if (!Digits(text, &p, 2, &oh) || !Expect(text, &p, ":") || !Digits(text, &p, 2, &om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (p != text.size()) return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return int64_t(timegm(&tm)) - offset;
}

}  // namespace recrules::cli
