#include "server/known_calls.h"

namespace recrules::server {

void KnownCalls::Remember(std::string_view sid, const Task& task) {
  if (capacity_ == 0 || sid.empty()) return;
  const Clock::time_point now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = by_sid_.try_emplace(std::string(sid), Entry{task, now});
  if (!inserted) {
    it->second = Entry{task, now};
    return;
  }
  order_.push_back(it->first);
  if (order_.size() > capacity_) {
    by_sid_.erase(order_.front());
    order_.pop_front();
  }
}

void KnownCalls::Remember(const Task& task) {
  Remember(task.call_sid(), task);
  Remember(task.conference_sid(), task);
}

std::optional<Task> KnownCalls::Find(std::string_view sid) {
  if (capacity_ == 0 || sid.empty()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_sid_.find(std::string(sid));
  if (it == by_sid_.end() || Clock::now() - it->second.at > max_age_) return std::nullopt;
  return it->second.task;
}

size_t KnownCalls::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return by_sid_.size();
}

}  // namespace recrules::server
