// TimeZone: the TZif reader behind recrules.localtime.
#include <doctest/doctest.h>

#include "lua/time_zone.h"

namespace rd = recrules::detail;

TEST_CASE("civil dates round-trip through days since the epoch") {
  for (int64_t days : {-719468LL, -1LL, 0LL, 59LL, 11016LL, 19782LL, 47482LL}) {
    int y, m, d;
    rd::CivilFromDays(days, &y, &m, &d);
    CHECK(rd::DaysFromCivil(y, m, d) == days);
  }
  CHECK(rd::DaysFromCivil(2024, 2, 29) == 19782);
}

TEST_CASE("zone transitions: spring forward and fall back") {
  auto ny = rd::TimeZone::Load("America/New_York");
  REQUIRE(ny.ok());
  // 2024-11-03: 01:59:59 EDT (05:59:59 UTC), then 01:00:00 EST.
  auto a = (*ny)->Local(1730613599);
  CHECK(a.hour == 1);
  CHECK(a.min == 59);
  CHECK(a.isdst);
  auto b = (*ny)->Local(1730613600);
  CHECK(b.hour == 1);
  CHECK(b.min == 0);
  CHECK_FALSE(b.isdst);
  CHECK(b.abbreviation == "EST");
  // Southern hemisphere: Sydney is on daylight time in January.
  auto syd = rd::TimeZone::Load("Australia/Sydney");
  REQUIRE(syd.ok());
  CHECK((*syd)->Local(1704067200).utc_offset == 11 * 3600);  // 2024-01-01
  CHECK((*syd)->Local(1719792000).utc_offset == 10 * 3600);  // 2024-07-01
  // Far future, from the footer rule: Sydney in January 2100 is on daylight time.
  CHECK((*syd)->Local(4102444800).utc_offset == 11 * 3600);
  CHECK((*syd)->Local(4118054400).utc_offset == 10 * 3600);
}

TEST_CASE("bad zone names and files") {
  CHECK(rd::TimeZone::Load("No/Such_Zone").status().message() ==
        "unknown time zone \"No/Such_Zone\"");
  CHECK(rd::TimeZone::Load("/etc/passwd").status().message() ==
        "\"/etc/passwd\" is not a time zone name");
  CHECK(rd::TimeZone::Parse("x", "not a zone file at all, really not; long enough to read")
            .status()
            .message() == "time zone \"x\": not a TZif zone file");
  auto cached = rd::TimeZone::Cached("UTC");
  REQUIRE(cached.ok());
  CHECK(cached->get() == rd::TimeZone::Cached("UTC")->get());
}
