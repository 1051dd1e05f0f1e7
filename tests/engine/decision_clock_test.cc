// The clock that times decisions: the counter it may read must agree with steady_clock.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "decision_clock.h"

using recrules::detail::DecisionClock;

TEST_CASE("a decision's duration agrees with steady_clock, and is never negative") {
  DecisionClock::Calibrate();
  DecisionClock::Calibrate();  // once per process: the second call changes nothing
  for (int round = 0; round < 3; ++round) {
    const auto steady_from = std::chrono::steady_clock::now();
    const int64_t from = DecisionClock::Now();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t to = DecisionClock::Now();
    const auto steady_to = std::chrono::steady_clock::now();
    const int64_t steady_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(steady_to - steady_from).count();
    const int64_t ns = DecisionClock::ElapsedNs(from, to);
    CAPTURE(ns);
    CAPTURE(steady_ns);
    // The counter's rate is measured, so it may be off by a little (about 1e-5 here); 0.1 %
    // allows for that, and a rate off by 1 % fails. The sleep lies within [from, to], and
    // [from, to] within the steady_clock reads around it.
    CHECK(ns >= 20'000'000 - 20'000);
    CHECK(ns <= steady_ns + steady_ns / 1000 + 1'000);
    CHECK(DecisionClock::ElapsedNs(to, from) == 0);
  }
}
