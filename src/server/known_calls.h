// The tasks of the calls this server has decided on, by call SID and by conference SID. The Flex
// template's recording endpoints name only a call or a conference; with the task found here
// the adapter puts the request to the policy (a trading line may refuse a pause) before it asks
// Twilio.
//
// Bounded: at most `capacity` SIDs, the first remembered leaving first; an entry not refreshed
// for `max_age` is not used. What an entry holds is shared by its SIDs (a reference-counted
// Task, or the request's JSON text), so a call and its conference cost one. Thread-safe.
//
// With a state file (OpenStateFile) the calls and the recordings' pause states outlive a
// restart: every change is appended to the file as a JSON line (by a background writer, like
// the decision log), the file is read back at start-up, and rewritten compactly when the lines
// appended outnumber the entries four to one. Without it, a restarted server would send a Flex
// pause for a call decided before the restart to Twilio without asking the policy, and would
// never resume a recording it had paused.
#pragma once

#include <chrono>
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
#include <vector>

#include "recrules/status.h"
#include "recrules/task.h"
#include "server/decision_log.h"
#include "server/form.h"

namespace recrules::server {

class KnownCalls {
 public:
  // The wall clock: an entry's age must survive a restart.
  using Clock = std::chrono::system_clock;

  explicit KnownCalls(size_t capacity, ParseLimits limits = {},
                      Clock::duration max_age = std::chrono::hours(12))
      : capacity_(capacity), limits_(limits), max_age_(max_age) {}
  ~KnownCalls();

  bool enabled() const { return capacity_ > 0; }
  // Restores the calls and recordings kept in `path` (a missing file is an empty one; a line
  // that cannot be read is skipped with a warning naming its line), rewrites it compactly, and
  // from then on keeps it up to date. The error names the path. Call before the first request.
  Status OpenStateFile(const std::string& path);
  // Writes what is queued for the state file and stops its writer.
  void Close();

  // Remembers `task` under `sid` (a call or conference SID; empty is ignored), replacing what
  // was there: the latest task attributes win. `form`, the TaskRouter fields the task was read
  // from, is what the state file keeps (nullptr: the task is not written there).
  void Remember(std::string_view sid, const Task& task, const FormFields* form = nullptr);
  // Remembers `task` under its call SID and its conference SID.
  void Remember(const Task& task, const FormFields* form = nullptr);
  // Remembers a /v1/decide request (its JSON text, as decided on) under the call and conference
  // SIDs of its task. Keeping the text is cheaper than keeping a parsed task on the decision
  // path; the rare Find that needs it parses it again.
  void RememberRequest(std::string_view call_sid, std::string_view conference_sid,
                       std::string_view request_json);
  // The task remembered under `sid`, if any and not older than the maximum age.
  std::optional<Task> Find(std::string_view sid);
  size_t size();

  // The task's recording as recrules drives it: the call leg it started a dual-channel
  // recording on, and the pause a task.updated decision wants. One reconciler at a time per
  // task makes the recording match what the latest decision wants, so events that arrive
  // close together, on different threads, never race two Twilio updates.
  std::string LegOf(std::string_view task_sid);
  void SetLeg(std::string_view task_sid, std::string_view leg);
  // Records what the decision on a task.updated event sent at `timestamp` (TaskRouter's
  // Timestamp) wants, unless an event sent later was already recorded: TaskRouter may deliver
  // events out of order, and a replayed old event must not change the recording. An event
  // without a timestamp (0) cannot be ordered and is recorded.
  enum class Want {
    kStale,          // older than one already recorded: ignored
    kAsIs,           // recorded; a reconciler is running or the recording is as wanted
    kRunReconciler,  // recorded; the caller must run a reconciler
  };
  Want WantPaused(std::string_view task_sid, bool paused, int64_t timestamp);
  struct Step {
    bool pause = false;      // pause, or resume
    std::string paused_sid;  // resume: the recording recrules paused
  };
  // The reconciler's next change; nullopt when the recording is as wanted (the reconciler
  // ends).
  std::optional<Step> NextStep(std::string_view task_sid);
  // After a step: on success, the recording SID now paused (empty after a resume); on failure
  // the reconciler ends and the next event tries again.
  void StepDone(std::string_view task_sid, bool ok, std::string_view paused_sid);

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
    int64_t last_event = 0;  // the Timestamp of the latest task.updated recorded
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
  std::deque<std::string> recording_order_;
  std::string state_path_;
  std::unique_ptr<DecisionLog> journal_;  // the state file's writer; null without one
  size_t journal_lines_ = 0;              // appended since it was last rewritten
  bool rewriting_ = false;                // a rewriter is writing the snapshot
  std::vector<std::string> pending_;      // lines appended meanwhile, to follow it
  std::thread rewriter_;
  bool closed_ = false;
};

}  // namespace recrules::server
