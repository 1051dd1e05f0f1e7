// IANA time zones for rules (recrules.localtime): reads the system's compiled zone files (TZif,
// as installed by the tzdata package) without touching the process-wide TZ setting, so it is
// safe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "recrules/status.h"

namespace recrules::detail {

struct CivilTime {
  int year, month, day;  // month 1-12, day 1-31
  int hour, min, sec;
  int wday;  // 1 = Sunday ... 7 = Saturday (as Lua's os.date)
  int yday;  // 1-366
  bool isdst;
  int32_t utc_offset;             // seconds east of UTC
  std::string_view abbreviation;  // "EST", "CEST", ... (owned by the TimeZone)
};

// An immutable, parsed zone. Thread-safe to share.
class TimeZone {
 public:
  // Reads the zone `name` ("America/New_York") from the zone directory ($TZDIR, or the system
  // default). Errors: kNotFound "unknown time zone \"X\"", kInvalidInput for a malformed name
  // or file.
  static Result<std::shared_ptr<const TimeZone>> Load(std::string_view name);
  // Parses TZif file content (for tests).
  static Result<std::shared_ptr<const TimeZone>> Parse(std::string_view name,
                                                       std::string_view tzif);

  // Every zone loaded once per process, shared; the first load of a name reads the file under a
  // mutex, later calls only search a small cache.
  static Result<std::shared_ptr<const TimeZone>> Cached(std::string_view name);

  CivilTime Local(int64_t unix_seconds) const;
  const std::string& name() const { return name_; }

  struct Type {
    int32_t utoff;
    bool isdst;
    std::string abbreviation;
  };
  // The rule from the file's footer (POSIX TZ string) for times after the last transition.
  struct Rule {
    bool present = false;
    Type std_type, dst_type;
    bool has_dst = false;
    int start_month, start_week, start_wday, end_month, end_week, end_wday;
    int32_t start_time = 7200, end_time = 7200;  // seconds after local midnight
  };

 private:
  const Type& TypeAt(int64_t t) const;
  std::string name_;
  std::vector<int64_t> transitions_;
  std::vector<uint8_t> transition_types_;
  std::vector<Type> types_;
  Rule rule_;
};

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int* y, int* m, int* d);

}  // namespace recrules::detail
