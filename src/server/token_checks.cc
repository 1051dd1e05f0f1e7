#include "server/token_checks.h"

#include <utility>  // Boost 1.74 Asio uses std::exchange without including <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>

namespace recrules::server {

struct TokenChecks::Pool {
  explicit Pool(size_t threads) : threads(threads) {}
  boost::asio::thread_pool threads;
};

TokenChecks::TokenChecks(size_t threads, size_t max_in_flight)
    : pool_(std::make_unique<Pool>(std::max<size_t>(1, threads))), max_in_flight_(max_in_flight) {}

TokenChecks::~TokenChecks() {
  Join();
}

bool TokenChecks::TryPost(std::function<void()> check) {
  if (in_flight_.fetch_add(1) >= max_in_flight_) {
    in_flight_.fetch_sub(1);
    return false;
  }
  boost::asio::post(pool_->threads, [this, check = std::move(check)] {
    check();
    in_flight_.fetch_sub(1);
  });
  return true;
}

void TokenChecks::Join() {
  pool_->threads.join();
}

}  // namespace recrules::server
