#include "server/known_calls.h"

namespace recrules::server {

void KnownCalls::Put(std::string_view sid, Entry entry) {
  if (capacity_ == 0 || sid.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = by_sid_.try_emplace(std::string(sid), entry);
  if (!inserted) {
    it->second = std::move(entry);
    return;
  }
  order_.push_back(it->first);
  if (order_.size() > capacity_) {
    by_sid_.erase(order_.front());
    order_.pop_front();
  }
}

void KnownCalls::Remember(std::string_view sid, const Task& task) {
  Put(sid, Entry{task, nullptr, Clock::now()});
}

void KnownCalls::Remember(const Task& task) {
  Remember(task.call_sid(), task);
  Remember(task.conference_sid(), task);
}

void KnownCalls::RememberRequest(std::string_view call_sid, std::string_view conference_sid,
                                 std::string_view request_json) {
  if (capacity_ == 0 || (call_sid.empty() && conference_sid.empty())) return;
  Entry entry{std::nullopt, std::make_shared<const std::string>(request_json), Clock::now()};
  Put(call_sid, entry);
  Put(conference_sid, std::move(entry));
}

std::optional<Task> KnownCalls::Find(std::string_view sid) {
  if (capacity_ == 0 || sid.empty()) return std::nullopt;
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_sid_.find(std::string(sid));
    if (it == by_sid_.end() || Clock::now() - it->second.at > max_age_) return std::nullopt;
    entry = it->second;
  }
  if (entry.task) return entry.task;
  // It parsed when it was decided on, with the same limits.
  auto request = ParseRequest(*entry.request_json, limits_);
  if (!request.ok()) return std::nullopt;
  return request->task;
}

KnownCalls::Recording& KnownCalls::RecordingEntry(std::string_view task_sid) {
  auto [it, inserted] = recordings_.try_emplace(std::string(task_sid));
  if (!inserted) return it->second;
  recording_order_.push_back(it->first);
  // Past capacity the oldest entry goes, but never one whose recording recrules has paused or
  // is changing: forgetting it would leave that call paused for good. Those move to the back;
  // when every entry is one of them, the map grows (it is then bounded by the calls paused).
  for (size_t tries = recording_order_.size(); recording_order_.size() > capacity_ && tries > 0;
       --tries) {
    std::string oldest = std::move(recording_order_.front());
    recording_order_.pop_front();
    auto old = recordings_.find(oldest);
    if (old->second.paused_sid.empty() && !old->second.reconciling) {
      recordings_.erase(old);  // never the entry just made: it is at the back
    } else {
      recording_order_.push_back(std::move(oldest));
    }
  }
  return it->second;
}

std::string KnownCalls::LegOf(std::string_view task_sid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recordings_.find(std::string(task_sid));
  return it == recordings_.end() ? std::string() : it->second.leg;
}

void KnownCalls::SetLeg(std::string_view task_sid, std::string_view leg) {
  if (capacity_ == 0 || task_sid.empty() || leg.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  RecordingEntry(task_sid).leg = std::string(leg);
}

KnownCalls::Want KnownCalls::WantPaused(std::string_view task_sid, bool paused, int64_t timestamp) {
  if (capacity_ == 0 || task_sid.empty()) return Want::kAsIs;
  std::lock_guard<std::mutex> lock(mu_);
  Recording& r = RecordingEntry(task_sid);
  if (timestamp > 0) {  // without one, an event cannot be ordered: it is applied
    if (timestamp < r.last_event) return Want::kStale;
    r.last_event = timestamp;
  }
  r.want_paused = paused;
  if (r.reconciling || paused == !r.paused_sid.empty()) return Want::kAsIs;
  r.reconciling = true;
  return Want::kRunReconciler;
}

std::optional<KnownCalls::Step> KnownCalls::NextStep(std::string_view task_sid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recordings_.find(std::string(task_sid));
  if (it == recordings_.end()) return std::nullopt;  // evicted meanwhile
  Recording& r = it->second;
  if (r.want_paused == !r.paused_sid.empty()) {
    r.reconciling = false;
    return std::nullopt;
  }
  return Step{r.want_paused, r.paused_sid};
}

void KnownCalls::StepDone(std::string_view task_sid, bool ok, std::string_view paused_sid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recordings_.find(std::string(task_sid));
  if (it == recordings_.end()) return;
  if (ok) {
    it->second.paused_sid = std::string(paused_sid);
  } else {
    it->second.reconciling = false;
  }
}

size_t KnownCalls::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return by_sid_.size();
}

}  // namespace recrules::server
