// Decision ids: 16 hex digits that do not repeat, even when the counter wraps.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "decision_id.h"

using recrules::detail::DecisionIdSource;

TEST_CASE("ids count in hex after their prefix") {
  DecisionIdSource ids(0x0123456789, 0x000008);
  CHECK(ids.Next() == "0123456789000009");
  CHECK(ids.Next() == "012345678900000a");
  for (int i = 0; i < 5; ++i) ids.Next();
  CHECK(ids.Next() == "0123456789000010");  // ...f carries into the next digit
  DecisionIdSource fresh;
  const std::string first(fresh.Next());
  CHECK(first.size() == 16);
  CHECK(first.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(first.substr(10) == "000001");
}

TEST_CASE("when the counter wraps, a new prefix keeps the ids unique") {
  DecisionIdSource ids(0xabcdefabcd, 0xfffffd);
  std::set<std::string> seen;
  CHECK(ids.Next() == "abcdefabcdfffffe");
  CHECK(ids.Next() == "abcdefabcdffffff");
  const std::string wrapped(ids.Next());
  CHECK(wrapped.substr(10) == "000000");
  CHECK(wrapped.substr(0, 10) != "abcdefabcd");  // a fresh random prefix (1 in 2^40 to fail)
  // Ids go on counting from the new prefix, none seen before.
  seen.insert(wrapped);
  for (int i = 0; i < 1000; ++i) CHECK(seen.insert(std::string(ids.Next())).second);
  CHECK(*seen.rbegin() == wrapped.substr(0, 10) + "0003e8");
}
