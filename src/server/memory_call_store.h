// The call store kept in this process (CallStore): tasks by call and conference SID, the
// reservations accepted, the recording of each leg, and the pause state of each task.
//
// Bounded: at most `capacity` SIDs, the first remembered leaving first (the same for
// reservations, legs and tasks' pause states); an entry not refreshed for `max_age` is not
// used. What an entry holds is shared by its SIDs (a reference-counted Task, or the request's
// JSON text), so a call, its conference and its legs cost one. Thread-safe.
//
// With a state file (OpenStateFile) the calls, the legs' recordings and the recordings' pause
// states outlive a restart: every change is appended to the file as a JSON line (by a
// background writer, like the decision log), the file is read back at start-up, and rewritten
// compactly when the lines appended outnumber the entries four to one. Without it, a restarted
// server would send a Flex pause for a call decided before the restart to Twilio without
// asking the policy, would start a second recording on a leg already recorded, and would never
// resume a recording it had paused.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "recrules/status.h"
#include "recrules/task.h"
#include "server/call_store.h"
#include "server/decision_log.h"
#include "server/form.h"

namespace recrules::server {

class MemoryCallStore : public CallStore {
 public:
  // The wall clock: an entry's age must survive a restart.
  using Clock = std::chrono::system_clock;

  explicit MemoryCallStore(size_t capacity, ParseLimits limits = {},
                           Clock::duration max_age = std::chrono::hours(12))
      : capacity_(capacity), limits_(limits), max_age_(max_age) {}
  ~MemoryCallStore() override;

  bool enabled() const override { return capacity_ > 0; }
  // A missing file is an empty one; a line that cannot be read is skipped with a warning naming
  // its line; the file is then rewritten compactly. The error names the path.
  Status OpenStateFile(const std::string& path) override;
  void Close() override;

  void Remember(std::string_view sid, const Task& task, const FormFields* form = nullptr) override;
  void Remember(const Task& task, const FormFields* form = nullptr) override;
  // Keeping the text is cheaper than keeping a parsed task on the decision path; the rare Find
  // that needs it parses it again.
  void RememberRequest(std::string_view call_sid, std::string_view conference_sid,
                       std::string_view request_json) override;
  std::optional<Task> Find(std::string_view sid) override;
  size_t size();
  // Returns once no rewrite of the state file is in progress: the file then holds the last
  // rewrite's entries and the lines appended since (tests bound its size with it).
  void WaitForRewrite();

  bool FirstAccept(std::string_view reservation_sid) override;
  void ForgetAccept(std::string_view reservation_sid) override;

  Claim ClaimLeg(std::string_view leg, std::chrono::milliseconds ttl) override;
  void LegRecorded(std::string_view leg, const LegRecording& recording) override;
  void ReleaseLeg(std::string_view leg) override;
  std::optional<LegRecording> RecordingOf(std::string_view leg) override;

  std::string LegOf(std::string_view task_sid) override;
  void SetLeg(std::string_view task_sid, std::string_view leg) override;
  Want WantPaused(std::string_view task_sid, bool paused, int64_t order) override;
  std::optional<Step> NextStep(std::string_view task_sid) override;
  void StepDone(std::string_view task_sid, bool ok, std::string_view paused_sid) override;

 private:
  struct Entry {
    std::optional<Task> task;                         // parsed, or
    std::shared_ptr<const std::string> request_json;  // a /v1/decide request to parse again
    std::shared_ptr<const FormFields> form;  // the TaskRouter fields: with a state file only
    Clock::time_point at;
  };
  // Remembers `entry` under each SID (empty ones are skipped) and appends it to the state file.
  void Keep(std::string_view sid1, std::string_view sid2, Entry entry);
  void Put(std::string_view sid, Entry entry);  // mu_ held
  struct Recording {
    std::string leg;
    bool want_paused = false;
    std::string paused_sid;  // the recording recrules paused; empty when none is
    bool reconciling = false;
    int64_t last_event = 0;  // the order (ms) of the latest task.updated recorded
  };
  // The task's entry in recordings_, made when missing; evicts the oldest past capacity.
  Recording& RecordingEntry(std::string_view task_sid);

  // The state file; mu_ held for all of these.
  void Journal(std::string line);
  void JournalRecording(std::string_view task_sid, const Recording& r);
  static std::string RecordingLine(std::string_view task_sid, const Recording& r);
  // A copy of the TaskRouter fields for the state file; nullptr without one.
  std::shared_ptr<const FormFields> FormToWrite(const FormFields* form) const;
  void Restore(const std::string& line);
  struct Snapshot {
    struct Call {
      std::vector<std::string> sids;
      int64_t at_ms = 0;
      std::shared_ptr<const std::string> request_json;
      std::shared_ptr<const FormFields> form;
    };
    std::vector<Call> calls;
    std::vector<std::string> recordings;  // their lines
  };
  Snapshot TakeSnapshot();
  void Rewrite(const Snapshot& snapshot);  // mu_ not held: it takes it to finish

  const size_t capacity_;
  const ParseLimits limits_;
  const Clock::duration max_age_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> by_sid_;
  std::deque<std::string> order_;  // SIDs in the order first remembered
  std::unordered_map<std::string, Recording> recordings_;
  std::unordered_set<std::string> accepted_;  // reservations
  std::deque<std::string> accepted_order_;
  struct Leg {
    LegRecording recording;  // sid empty while claimed
    std::chrono::steady_clock::time_point claim_expires;
  };
  std::unordered_map<std::string, Leg> legs_;
  std::deque<std::string> leg_order_;
  static std::string LegLine(std::string_view leg, const LegRecording& r);
  std::deque<std::string> recording_order_;
  std::string state_path_;
  std::unique_ptr<DecisionLog> journal_;  // the state file's writer; null without one
  size_t journal_lines_ = 0;              // appended since it was last rewritten
  bool rewriting_ = false;                // a rewriter is writing the snapshot
  std::condition_variable rewrite_done_;  // rewriting_ cleared
  std::vector<std::string> pending_;      // lines appended meanwhile, to follow it
  std::thread rewriter_;
  bool closed_ = false;
};

}  // namespace recrules::server
