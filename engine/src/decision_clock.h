// How long a decision took. Every decision reads the clock twice, so the read must be cheap:
// where the CPU's time-stamp counter ticks at a constant rate whatever the power state
// (x86-64 with an invariant TSC, which the CPU reports), a read is one instruction, several
// times cheaper than steady_clock's (about 29 ns on a VM). Elsewhere, steady_clock.
#pragma once

#include <cstdint>

namespace recrules::detail {

class DecisionClock {
 public:
  // Measures the counter's rate against steady_clock (about 2 ms, once per process) when the
  // counter is usable; later calls return at once. Called when an engine opens, before any
  // decision of the process (a decision must read both its points from the same clock).
  static void Calibrate();
  // A point in time, in ticks of whichever clock is in use.
  static int64_t Now();
  // Nanoseconds between two points from Now(); never negative.
  static int64_t ElapsedNs(int64_t from, int64_t to);
};

}  // namespace recrules::detail
