// What `recrules serve` knows about calls, behind one interface so that several instances can
// share it (an embedded store today: MemoryCallStore; a networked one later).
//
// The model: a call is a task (with its reservations and conference) and its legs, the call
// SIDs of the customer and the worker. A SID (leg or conference) finds the task it belongs to,
// so the policy is asked about every leg of a call it decided on. A leg has at most one
// recording started through recrules: claiming the leg (ClaimLeg) is atomic, so whoever asks
// to record it (the plugin, the server on reservation.accepted, a retry, another instance)
// gets the one recording. A task has the pause state its task.updated decisions want, changed
// by one reconciler at a time.
//
// Every operation is atomic on its own and returns values, never references into the store:
// an implementation may keep the state in another process. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recrules/status.h"
#include "recrules/task.h"
#include "server/form.h"

namespace recrules::server {

// A recording recrules started (or found started) on a call leg.
struct LegRecording {
  std::string sid;          // RE...
  std::string started_by;   // "flex" or "taskrouter"
  std::string twilio_json;  // Twilio's answer when it was created (a JSON object)
};

// The call SIDs Flex writes in a task's attributes.conference.participants once its conference
// has started ({"customer":"CA...","worker":"CA..."}), in no particular order.
std::vector<std::string> ParticipantLegs(const Task& task);

class CallStore {
 public:
  virtual ~CallStore() = default;

  // False when the store keeps nothing (--known-calls 0): Find never finds, claims always win.
  virtual bool enabled() const = 0;

  // Tasks, by SID -------------------------------------------------------------------------
  // Remembers `task` under `sid` (a call or conference SID; empty is ignored): the latest
  // task wins. `form`, the TaskRouter fields the task was read from, is what a persistent
  // store keeps (nullptr: not kept across a restart).
  virtual void Remember(std::string_view sid, const Task& task,
                        const FormFields* form = nullptr) = 0;
  // Remembers `task` under every SID of its call: attributes.call_sid, attributes.conference.sid
  // and the legs Flex writes in attributes.conference.participants (customer, worker, ...).
  virtual void Remember(const Task& task, const FormFields* form = nullptr) = 0;
  // Remembers a /v1/decide request (its JSON text) under its call and conference SIDs.
  virtual void RememberRequest(std::string_view call_sid, std::string_view conference_sid,
                               std::string_view request_json) = 0;
  // The task remembered under `sid`, if any and not too old.
  virtual std::optional<Task> Find(std::string_view sid) = 0;

  // Reservations ----------------------------------------------------------------------------
  // True the first time reservation.accepted is handled for `reservation_sid`: TaskRouter
  // accepts a reservation once, so a second callback is a retry or a replay.
  virtual bool FirstAccept(std::string_view reservation_sid) = 0;
  // Forgets it again (its decision failed), so that Twilio's retry is handled.
  virtual void ForgetAccept(std::string_view reservation_sid) = 0;

  // One recording per leg -------------------------------------------------------------------
  struct Claim {
    enum class State {
      kClaimed,   // the caller now starts the recording: LegRecorded or ReleaseLeg follows
      kRecorded,  // the leg has its recording: `recording`
      kPending,   // someone else is starting it: ask again shortly
    };
    State state = State::kClaimed;
    LegRecording recording;
  };
  // Claims `leg` for starting a recording, at most once: a claim not settled within `ttl`
  // lapses (its holder died).
  virtual Claim ClaimLeg(std::string_view leg, std::chrono::milliseconds ttl) = 0;
  // Settles a claim: the leg has this recording.
  virtual void LegRecorded(std::string_view leg, const LegRecording& recording) = 0;
  // Settles a claim that failed: the next ClaimLeg wins.
  virtual void ReleaseLeg(std::string_view leg) = 0;
  // The recording of `leg`, if one was started through recrules.
  virtual std::optional<LegRecording> RecordingOf(std::string_view leg) = 0;

  // The pause state of a task's recording ------------------------------------------------------
  // The leg recrules recorded for the task (dual-channel), empty when none.
  virtual std::string LegOf(std::string_view task_sid) = 0;
  virtual void SetLeg(std::string_view task_sid, std::string_view leg) = 0;
  // Records what the decision on a task.updated event sent at `order` wants, unless an event
  // sent later was already recorded (TaskRouter may deliver events out of order, and a replayed
  // old event must not change the recording). `order`: TimestampMs, else Timestamp in
  // milliseconds; 0 (none) cannot be ordered and is recorded.
  enum class Want {
    kStale,          // older than one already recorded: ignored
    kAsIs,           // recorded; a reconciler is running or the recording is as wanted
    kRunReconciler,  // recorded; the caller must run a reconciler
  };
  virtual Want WantPaused(std::string_view task_sid, bool paused, int64_t order) = 0;
  struct Step {
    bool pause = false;      // pause, or resume
    std::string paused_sid;  // resume: the recording recrules paused
  };
  // The reconciler's next change; nullopt when the recording is as wanted (it ends).
  virtual std::optional<Step> NextStep(std::string_view task_sid) = 0;
  // After a step: on success, the recording SID now paused (empty after a resume); on failure
  // the reconciler ends and the next event tries again.
  virtual void StepDone(std::string_view task_sid, bool ok, std::string_view paused_sid) = 0;

  // Persistence ---------------------------------------------------------------------------
  // Restores what `path` keeps and keeps it up to date (a store without files ignores it).
  virtual Status OpenStateFile(const std::string& path) = 0;
  // Writes out what is queued and stops background work.
  virtual void Close() = 0;
};

}  // namespace recrules::server
