// The task model: one normalised view of a TaskRouter task, whether it arrived as Flex shows
// it (ITask JSON) or as a TaskRouter event callback (form fields with TaskAttributes as a JSON
// string).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recrules/decision.h"
#include "recrules/status.h"

namespace recrules {

class Task;
namespace detail {
struct TaskData;
// The parsed representation the engine reads (engine/src/task_data.h); not for users.
const TaskData& DataOf(const Task& task);
}  // namespace detail

// Limits applied while parsing requests. Defaults suit the HTTP adapter.
struct ParseLimits {
  size_t max_bytes = 1 << 20;  // larger input: kLimitExceeded
  size_t max_depth = 64;       // deeper nesting: kLimitExceeded
};

// A parsed, immutable task. Cheap to copy (shared, reference counted); safe to read from many
// threads at once. Views returned by the accessors live as long as any copy of the Task.
class Task {
 public:
  // A Flex-style task object: {"sid","taskSid","queueName","queueSid","taskChannelUniqueName",
  // "attributes":{...}, "worker":{...}}. Unknown fields are ignored; known fields of the wrong
  // type are an error naming the field.
  static Result<Task> FromJson(std::string_view task_json, const ParseLimits& limits = {});

  // TaskRouter event callback form fields (already URL-decoded): TaskSid, TaskQueueSid,
  // TaskQueueName, TaskChannelUniqueName, TaskAttributes (JSON text), ReservationSid, WorkerSid,
  // WorkerName, WorkerAttributes (JSON text).
  static Result<Task> FromForm(const std::vector<std::pair<std::string, std::string>>& fields,
                               const ParseLimits& limits = {});

  std::string_view sid() const;       // Flex's task.sid: the reservation SID (WR...)
  std::string_view task_sid() const;  // WT...
  std::string_view queue_name() const;
  std::string_view queue_sid() const;       // WQ...
  std::string_view channel() const;         // taskChannelUniqueName: "voice", "chat", ...
  std::string_view worker_sid() const;      // WK..., empty when no worker was given
  std::string_view call_sid() const;        // attributes.call_sid, empty when absent
  std::string_view conference_sid() const;  // attributes.conference.sid, empty when absent

  // The attributes object as compact JSON text.
  std::string AttributesJson() const;
  // The value at a dot path of the attributes as JSON text; nullopt when a step is missing.
  std::optional<std::string> AttributeJson(std::string_view dot_path) const;

 private:
  friend const detail::TaskData& detail::DataOf(const Task& task);
  friend Result<struct Request> ParseRequest(std::string_view, const ParseLimits&);
  explicit Task(std::shared_ptr<const detail::TaskData> data) : data_(std::move(data)) {}
  std::shared_ptr<const detail::TaskData> data_;
};

// What the engine is asked: an event about a task.
struct Request {
  Event event = Event::kAccept;
  Task task;
};

// Parses {"event": "...", "task": {...}, "worker": {...}} or a bare task object (then the event
// is accept). `worker` may also sit inside the task.
Result<Request> ParseRequest(std::string_view json, const ParseLimits& limits = {});

}  // namespace recrules
