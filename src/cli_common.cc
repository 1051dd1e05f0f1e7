#include <cstdio>
#include <ctime>
#include <regex>

#include "cli.h"

namespace recrules::cli {

void PrintError(const std::string& command, const std::string& message) {
  std::string line = "recrules " + command + ": " + message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::optional<int64_t> ParseTimeArg(const std::string& text) {
  static const std::regex kUnix(R"(^-?[0-9]{1,12}$)");
  static const std::regex kRfc3339(
      R"(^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?)"
      R"(([Zz]|([+-])([0-9]{2}):([0-9]{2}))$)");
  std::smatch m;
  if (std::regex_match(text, kUnix)) return std::stoll(text);
  if (!std::regex_match(text, m, kRfc3339)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  int64_t t = timegm(&tm);
  if (m[9].matched) {
    int64_t offset = std::stoi(m[10]) * 3600 + std::stoi(m[11]) * 60;
    t += (m[9] == "+") ? -offset : offset;
  }
  return t;
}

}  // namespace recrules::cli
