#include "decision_clock.h"

#include <atomic>
#include <chrono>
#include <mutex>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

namespace recrules::detail {

namespace {

using Steady = std::chrono::steady_clock;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

// Nanoseconds per tick as a 32.32 fixed-point factor; 0 while the counter is not in use.
std::atomic<uint64_t> g_ns_per_tick_q32{0};
std::once_flag g_calibrated;

bool HasInvariantTsc() {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) == 0 || eax < 0x80000007u) return false;
  if (__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (edx & (1u << 8)) != 0;  // "TscInvariant" (AMD) / "invariant TSC" (Intel)
#else
  return false;
#endif
}

uint64_t MeasureNsPerTick() {
#if defined(__x86_64__)
  const int64_t t0 = SteadyNs();
  const uint64_t c0 = __rdtsc();
  int64_t t1 = t0;
  while (t1 - t0 < 2'000'000) t1 = SteadyNs();
  const uint64_t c1 = __rdtsc();
  if (c1 <= c0) return 0;
  // ns/tick in 32.32: (ns << 32) / ticks; ns < 2^32 here, so the shift cannot overflow.
  return (uint64_t(t1 - t0) << 32) / (c1 - c0);
#else
  return 0;
#endif
}

}  // namespace

void DecisionClock::Calibrate() {
  std::call_once(g_calibrated, [] {
    if (HasInvariantTsc()) g_ns_per_tick_q32.store(MeasureNsPerTick(), std::memory_order_release);
  });
}

int64_t DecisionClock::Now() {
#if defined(__x86_64__)
  if (g_ns_per_tick_q32.load(std::memory_order_relaxed) != 0) return int64_t(__rdtsc());
#endif
  return SteadyNs();
}

int64_t DecisionClock::ElapsedNs(int64_t from, int64_t to) {
  if (to <= from) return 0;
  const uint64_t q32 = g_ns_per_tick_q32.load(std::memory_order_relaxed);
  if (q32 == 0) return to - from;
  // ticks * q32 >> 32 in two halves, so that no product overflows.
  const uint64_t ticks = uint64_t(to - from);
  return int64_t((ticks >> 32) * q32 + ((ticks & 0xffffffffu) * q32 >> 32));
}

}  // namespace recrules::detail
