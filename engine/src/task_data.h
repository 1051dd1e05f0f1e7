// The engine's view of a task. TaskView borrows (from a parser's document or a TaskData);
// TaskData owns what a public Task holds.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "json.h"
#include "recrules/task.h"

namespace recrules::detail {

// Everything a rule reads about a task. Views stay valid while the documents they point into
// live (a thread's parsers for the duration of one decision, or a TaskData).
struct TaskView {
  // What every decision reads first, so that it sits in the first cache lines of a TaskData:
  // the SIDs a decision echoes, what the built-in rules compare, the attributes' layout.
  std::string_view task_sid;
  std::string_view sid;  // reservation SID as Flex names it
  std::string_view call_sid;
  std::string_view conference_sid;
  std::string_view queue_name;
  std::string_view queue_sid;
  std::string_view channel;
  Element attributes;  // valid when has_attributes
  // The attributes' key layout, when the task was kept (TaskData); empty (size 0) for a
  // request decided straight from its text.
  KeyLayout attributes_layout;
  // TapeKeyMatcher::HashOf(queue_name) and of queue_sid, worked out when the task is kept so
  // that deciding on it again does not hash them; 0 when not worked out (rules hash then).
  uint64_t queue_name_hash = 0;
  uint64_t queue_sid_hash = 0;
  bool has_attributes = false;
  bool has_worker = false;
  bool has_worker_attributes = false;
  std::string_view worker_sid;
  std::string_view worker_name;
  Element worker;             // the worker object ({sid, name, attributes}); valid when has_worker
  Element worker_attributes;  // valid when has_worker_attributes
};

// Parsers one normalisation needs: the request itself, plus attributes that arrive as JSON
// strings (TaskRouter's TaskAttributes, WorkerAttributes, or a REST-style "attributes" string).
struct ParserSet {
  simdjson::dom::parser request;
  simdjson::dom::parser task_attributes;
  simdjson::dom::parser worker_attributes;
};

// The parsers of the calling thread, reused across decisions (no allocation once warm).
ParserSet& ThreadParsers();

// Normalises a parsed request (or bare task) object. `event` is set from the request's
// "event" field when present. Views point into `parsers`' documents and `root`'s document.
Status ReadRequest(Element root, ParserSet& parsers, const ParseLimits& limits, Event* event,
                   TaskView* out);

// Fills call_sid and conference_sid from attributes.call_sid and attributes.conference.sid.
void ReadCallIdentifiers(TaskView* out);

// Parses request JSON text with the thread's parsers into `out`.
Status ParseRequestView(std::string_view json, const ParseLimits& limits, Event* event,
                        TaskView* out);

// What a public Task owns. Parsed with the thread's parsers, then kept: the documents the view
// points into are copied here (a few KB, together in memory) and the view re-pointed at them.
// Never moved once kept: elements point at `documents` by address. Aligned to a cache line so
// that the start of the view takes as few lines as it can.
struct alignas(64) TaskData {
  TaskView view;
  simdjson::dom::document documents[3];  // at most: request, task attributes, worker attributes
  std::vector<std::string> strings;      // form field values until Keep (reserved upfront)

  // Keeps a parsed task (its view complete, pointing into the thread's parsers and `strings`):
  // one allocation holds the TaskData and, right after it, its hot block: what a decision
  // reads (the view's strings, the attributes' fingerprints, then their tape indexes), in
  // adjacent cache lines that Prefetch asks for all at once. The documents the view points into
  // (`request`, when the task came as JSON, and those of its attributes and worker) are copied
  // into `documents`; the attributes' keys are laid out.
  static std::shared_ptr<TaskData> Keep(TaskData&& parsed, const simdjson::dom::document* request);

  // Asks for the cache lines a decision reads (this TaskData and the start of its hot block),
  // so that they arrive together rather than the hot block after the view that points at it.
  void Prefetch() const {
    constexpr size_t kLines = (sizeof(TaskData) + kHotPrefetchBytes) / 64;
    const char* p = reinterpret_cast<const char*>(this);
    for (size_t i = 0; i < kLines; ++i) __builtin_prefetch(p + 64 * i);
  }
  // The hot block of a corpus task: about 200 bytes of strings and 120 of fingerprints.
  static constexpr size_t kHotPrefetchBytes = 384;

 private:
  // Copies the view's strings and the layout into the hot block (laid out by Keep) and the
  // documents into `documents`, re-pointing the view.
  void Fill(const simdjson::dom::document* request, uint64_t hash, const std::vector<uint32_t>& at,
            const std::vector<fingerprint::Value>& fingerprints, size_t fingerprints_at,
            size_t at_at);
};

}  // namespace recrules::detail
