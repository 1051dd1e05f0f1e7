// The tasks of the calls this server has decided on, by call SID and by conference SID. The Flex
// template's recording endpoints name only a call or a conference; with the task found here
// the adapter puts the request to the policy (a trading line may refuse a pause) before it asks
// Twilio.
//
// Bounded: at most `capacity` SIDs, the first remembered leaving first; an entry not refreshed
// for `max_age` is not used. A task is shared by its SIDs (Task is reference counted), so a
// call and its conference cost one task. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "recrules/task.h"

namespace recrules::server {

class KnownCalls {
 public:
  using Clock = std::chrono::steady_clock;

  explicit KnownCalls(size_t capacity, Clock::duration max_age = std::chrono::hours(12))
      : capacity_(capacity), max_age_(max_age) {}

  bool enabled() const { return capacity_ > 0; }
  // Remembers `task` under `sid` (a call or conference SID; empty is ignored), replacing what
  // was there: the latest task attributes win.
  void Remember(std::string_view sid, const Task& task);
  // Remembers `task` under its call SID and its conference SID.
  void Remember(const Task& task);
  std::optional<Task> Find(std::string_view sid);
  size_t size();

 private:
  struct Entry {
    Task task;
    Clock::time_point at;
  };
  const size_t capacity_;
  const Clock::duration max_age_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> by_sid_;
  std::deque<std::string> order_;  // SIDs in the order first remembered
};

}  // namespace recrules::server
