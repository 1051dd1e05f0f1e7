#include "lua/time_zone.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

#include "policy_config.h"

namespace recrules::detail {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2));
}

namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Reads big-endian integers from a TZif buffer.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool Has(size_t n) const { return pos_ + n <= data_.size(); }
  int64_t Int(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_++]);
    if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  uint8_t Byte() { return static_cast<uint8_t>(data_[pos_++]); }
  void Skip(size_t n) { pos_ += n; }
  size_t pos() const { return pos_; }
  std::string_view Rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct Counts {
  int64_t isut, isstd, leap, time, type, chars;
};

bool ReadHeader(Reader* r, int* version, Counts* c) {
  if (!r->Has(44)) return false;
  std::string_view rest = r->Rest();
  if (rest.substr(0, 4) != "TZif") return false;
  r->Skip(4);
  uint8_t v = r->Byte();
  *version = v == 0 ? 1 : v - '0';
  r->Skip(15);
  c->isut = r->Int(4);
  c->isstd = r->Int(4);
  c->leap = r->Int(4);
  c->time = r->Int(4);
  c->type = r->Int(4);
  c->chars = r->Int(4);
  return c->isut >= 0 && c->isstd >= 0 && c->leap >= 0 && c->time >= 0 && c->type > 0 &&
         c->type <= 256 && c->chars >= 0;
}

size_t BlockSize(const Counts& c, int time_bytes) {
  return c.time * time_bytes + c.time + c.type * 6 + c.chars + c.leap * (time_bytes + 4) + c.isstd +
         c.isut;
}

// POSIX TZ string pieces: a name ("EST" or "<+03>") and an offset ("5", "-1", "3:30").
bool ParseName(std::string_view* s, std::string* out) {
  if (!s->empty() && s->front() == '<') {
    size_t end = s->find('>');
    if (end == std::string_view::npos) return false;
    *out = std::string(s->substr(1, end - 1));
    s->remove_prefix(end + 1);
    return true;
  }
  size_t n = 0;
  while (n < s->size() &&
         (((*s)[n] >= 'A' && (*s)[n] <= 'Z') || ((*s)[n] >= 'a' && (*s)[n] <= 'z')))
    ++n;
  if (n < 3) return false;
  *out = std::string(s->substr(0, n));
  s->remove_prefix(n);
  return true;
}

bool ParseNumber(std::string_view* s, int* out) {
  size_t n = 0;
  int v = 0;
  while (n < s->size() && (*s)[n] >= '0' && (*s)[n] <= '9') v = v * 10 + ((*s)[n++] - '0');
  if (n == 0) return false;
  s->remove_prefix(n);
  *out = v;
  return true;
}

// [+-]hh[:mm[:ss]] in seconds.
bool ParseClock(std::string_view* s, int32_t* out) {
  int sign = 1;
  if (!s->empty() && (s->front() == '+' || s->front() == '-')) {
    sign = s->front() == '-' ? -1 : 1;
    s->remove_prefix(1);
  }
  int h = 0, m = 0, sec = 0;
  if (!ParseNumber(s, &h)) return false;
  if (!s->empty() && s->front() == ':') {
    s->remove_prefix(1);
    if (!ParseNumber(s, &m)) return false;
    if (!s->empty() && s->front() == ':') {
      s->remove_prefix(1);
      if (!ParseNumber(s, &sec)) return false;
    }
  }
  *out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

// ",Mm.w.d[/time]" (the only form current zone files use).
bool ParseTransition(std::string_view* s, int* month, int* week, int* wday, int32_t* time) {
  if (s->empty() || s->front() != ',') return false;
  s->remove_prefix(1);
  if (s->empty() || s->front() != 'M') return false;
  s->remove_prefix(1);
  if (!ParseNumber(s, month) || s->empty() || s->front() != '.') return false;
  s->remove_prefix(1);
  if (!ParseNumber(s, week) || s->empty() || s->front() != '.') return false;
  s->remove_prefix(1);
  if (!ParseNumber(s, wday)) return false;
  if (!s->empty() && s->front() == '/') {
    s->remove_prefix(1);
    if (!ParseClock(s, time)) return false;
  }
  return *month >= 1 && *month <= 12 && *week >= 1 && *week <= 5 && *wday >= 0 && *wday <= 6;
}

bool ParsePosixRule(std::string_view s, TimeZone::Rule* rule) {
  TimeZone::Rule r;
  int32_t offset = 0;
  if (!ParseName(&s, &r.std_type.abbreviation) || !ParseClock(&s, &offset)) return false;
  r.std_type.utoff = -offset;  // POSIX offsets count hours west of Greenwich
  r.std_type.isdst = false;
  if (!s.empty()) {
    if (!ParseName(&s, &r.dst_type.abbreviation)) return false;
    r.dst_type.utoff = r.std_type.utoff + 3600;
    r.dst_type.isdst = true;
    if (!s.empty() && s.front() != ',') {
      if (!ParseClock(&s, &offset)) return false;
      r.dst_type.utoff = -offset;
    }
    if (!ParseTransition(&s, &r.start_month, &r.start_week, &r.start_wday, &r.start_time) ||
        !ParseTransition(&s, &r.end_month, &r.end_week, &r.end_wday, &r.end_time) || !s.empty()) {
      return false;
    }
    r.has_dst = true;
  }
  r.present = true;
  *rule = std::move(r);
  return true;
}

// Seconds since the epoch (as if local time were UTC) of the start of day `week`/`wday` of
// `month` in `year`.
int64_t RuleDay(int year, int month, int week, int wday) {
  int64_t first = DaysFromCivil(year, month, 1);
  int first_wday = static_cast<int>(((first + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  int day = 1 + (wday - first_wday + 7) % 7 + (week - 1) * 7;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int month_days = kDays[month - 1];
  if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) month_days = 29;
  while (day > month_days) day -= 7;
  return (first + day - 1) * 86400;
}

}  // namespace

Result<std::shared_ptr<const TimeZone>> TimeZone::Parse(std::string_view name,
                                                        std::string_view tzif) {
  auto bad = [&](const char* what) {
    return Status::InvalidInput("time zone \"" + std::string(name) + "\": " + what);
  };
  Reader r(tzif);
  int version = 0;
  Counts c;
  if (!ReadHeader(&r, &version, &c)) return bad("not a TZif zone file");
  int time_bytes = 4;
  if (version >= 2) {
    if (!r.Has(BlockSize(c, 4))) return bad("truncated zone file");
    r.Skip(BlockSize(c, 4));
    if (!ReadHeader(&r, &version, &c)) return bad("bad second header in zone file");
    time_bytes = 8;
  }
  if (!r.Has(BlockSize(c, time_bytes))) return bad("truncated zone file");
  auto tz = std::make_shared<TimeZone>();
  tz->name_ = std::string(name);
  for (int64_t i = 0; i < c.time; ++i) tz->transitions_.push_back(r.Int(time_bytes));
  for (int64_t i = 0; i < c.time; ++i) {
    uint8_t t = r.Byte();
    if (t >= c.type) return bad("transition refers to a missing type");
    tz->transition_types_.push_back(t);
  }
  std::vector<uint8_t> abbr_index;
  for (int64_t i = 0; i < c.type; ++i) {
    Type t;
    t.utoff = static_cast<int32_t>(r.Int(4));
    t.isdst = r.Byte() != 0;
    abbr_index.push_back(r.Byte());
    tz->types_.push_back(t);
  }
  std::string_view chars = r.Rest().substr(0, c.chars);
  for (size_t i = 0; i < tz->types_.size(); ++i) {
    if (abbr_index[i] < chars.size()) {
      std::string_view a = chars.substr(abbr_index[i]);
      tz->types_[i].abbreviation = std::string(a.substr(0, a.find('\0')));
    }
  }
  r.Skip(c.chars + c.leap * (time_bytes + 4) + c.isstd + c.isut);
  if (version >= 2) {
    std::string_view footer = r.Rest();
    if (footer.size() >= 2 && footer.front() == '\n') {
      footer.remove_prefix(1);
      footer = footer.substr(0, footer.find('\n'));
      // An unsupported footer leaves the last transition's type in force, as before.
      if (!footer.empty()) ParsePosixRule(footer, &tz->rule_);
    }
  }
  return std::shared_ptr<const TimeZone>(std::move(tz));
}

Result<std::shared_ptr<const TimeZone>> TimeZone::Load(std::string_view name) {
  bool ok = !name.empty() && name.size() < 128 && name.front() != '/' &&
            name.find("..") == std::string_view::npos;
  for (char ch : name) {
    ok = ok && ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                ch == '/' || ch == '_' || ch == '-' || ch == '+');
  }
  if (!ok) return Status::InvalidInput("\"" + std::string(name) + "\" is not a time zone name");
  const char* dir = std::getenv("TZDIR");
  std::string path =
      std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
  auto text = ReadFile(path);
  if (!text.ok()) return Status::NotFound("unknown time zone \"" + std::string(name) + "\"");
  return Parse(name, *text);
}

Result<std::shared_ptr<const TimeZone>> TimeZone::Cached(std::string_view name) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  auto zone = Load(name);
  if (!zone.ok()) return zone.status();
  cache.emplace(std::string(name), *zone);
  return zone;
}

const TimeZone::Type& TimeZone::TypeAt(int64_t t) const {
  static const Type kUtc{0, false, "UTC"};
  if (transitions_.empty() || t >= transitions_.back()) {
    if (rule_.present) {
      if (!rule_.has_dst) return rule_.std_type;
      int y, m, d;
      CivilFromDays(FloorDiv(t, 86400), &y, &m, &d);
      int64_t start = RuleDay(y, rule_.start_month, rule_.start_week, rule_.start_wday) +
                      rule_.start_time - rule_.std_type.utoff;
      int64_t end = RuleDay(y, rule_.end_month, rule_.end_week, rule_.end_wday) + rule_.end_time -
                    rule_.dst_type.utoff;
      bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
      return dst ? rule_.dst_type : rule_.std_type;
    }
    if (transitions_.empty()) return types_.empty() ? kUtc : types_[0];
    return types_[transition_types_.back()];
  }
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  if (it == transitions_.begin()) {
    for (const Type& type : types_) {
      if (!type.isdst) return type;
    }
    return types_[0];
  }
  return types_[transition_types_[static_cast<size_t>(it - transitions_.begin()) - 1]];
}

CivilTime TimeZone::Local(int64_t unix_seconds) const {
  const Type& type = TypeAt(unix_seconds);
  int64_t local = unix_seconds + type.utoff;
  int64_t days = FloorDiv(local, 86400);
  int64_t secs = local - days * 86400;
  CivilTime c;
  CivilFromDays(days, &c.year, &c.month, &c.day);
  c.hour = static_cast<int>(secs / 3600);
  c.min = static_cast<int>(secs / 60 % 60);
  c.sec = static_cast<int>(secs % 60);
  c.wday = static_cast<int>(((days + 4) % 7 + 7) % 7) + 1;
  c.yday = static_cast<int>(days - DaysFromCivil(c.year, 1, 1)) + 1;
  c.isdst = type.isdst;
  c.utc_offset = type.utoff;
  c.abbreviation = type.abbreviation;
  return c;
}

}  // namespace recrules::detail
