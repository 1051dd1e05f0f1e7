// Where Flex user tokens are checked with Twilio: threads of their own, apart from the worker
// pool that runs reloads and recording actions, and a bound on the checks waiting or running.
// A flood of unknown tokens while Twilio is slow then costs 503s, not every worker: a reload
// or a recording still runs at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

namespace recrules::server {

class TokenChecks {
 public:
  // At most `max_in_flight` checks wait or run at once, on `threads` threads.
  TokenChecks(size_t threads, size_t max_in_flight);
  ~TokenChecks();  // waits for the checks posted
  TokenChecks(const TokenChecks&) = delete;
  TokenChecks& operator=(const TokenChecks&) = delete;

  // Runs `check` on a token-check thread and returns true; returns false, without running it,
  // when max_in_flight checks are already waiting or running. Thread-safe.
  bool TryPost(std::function<void()> check);
  // Waits for the checks posted; later posts are not run. Call once, at shutdown.
  void Join();

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
  std::atomic<size_t> in_flight_{0};
  size_t max_in_flight_;
};

}  // namespace recrules::server
