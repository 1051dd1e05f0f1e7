#include <algorithm>
#include <cstring>
#include <iterator>

#include "task_data.h"
#include "task_slab.h"

namespace recrules::detail {

ParserSet& ThreadParsers() {
  thread_local ParserSet parsers;
  return parsers;
}

namespace {

using simdjson::dom::object;

Status WrongType(std::string_view where, std::string_view key, const char* expected, Element v) {
  return Status::InvalidInput(std::string(where) + "." + std::string(key) + ": expected " +
                              expected + ", got " + JsonTypeName(v));
}

// Reads an optional string field; null counts as absent.
Status ReadString(object obj, std::string_view where, std::string_view key, std::string_view* out) {
  Element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return Status::Ok();
  if (v.get(*out) != simdjson::SUCCESS) return WrongType(where, key, "a string", v);
  return Status::Ok();
}

// Reads an attributes-like field: an object, or a string holding a JSON object (TaskRouter's
// REST representation), parsed with `parser`.
Status ReadAttributes(object obj, std::string_view where, std::string_view key,
                      simdjson::dom::parser& parser, const ParseLimits& limits, Element* out,
                      bool* present) {
  Element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return Status::Ok();
  std::string_view text;
  if (v.get(text) == simdjson::SUCCESS) {
    std::string what = std::string(where) + "." + std::string(key);
    auto parsed = ParseJson(parser, text, what, limits.max_bytes, limits.max_depth);
    if (!parsed.ok()) return parsed.status();
    v = *parsed;
  }
  if (!v.is_object()) return WrongType(where, key, "an object", v);
  *out = v;
  *present = true;
  return Status::Ok();
}

Status ReadWorker(Element worker, std::string_view where, ParserSet& parsers,
                  const ParseLimits& limits, TaskView* out) {
  object obj;
  if (worker.get(obj) != simdjson::SUCCESS) {
    return Status::InvalidInput(std::string(where) + ": expected an object, got " +
                                JsonTypeName(worker));
  }
  out->worker = worker;
  out->has_worker = true;
  Status s = ReadString(obj, where, "sid", &out->worker_sid);
  if (s.ok() && out->worker_sid.empty()) s = ReadString(obj, where, "workerSid", &out->worker_sid);
  if (s.ok()) s = ReadString(obj, where, "name", &out->worker_name);
  if (s.ok()) {
    s = ReadAttributes(obj, where, "attributes", parsers.worker_attributes, limits,
                       &out->worker_attributes, &out->has_worker_attributes);
  }
  return s;
}

// Sets *out when `e` is a string; leaves it alone otherwise.
void StringIf(Element e, std::string_view* out) {
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) *out = s;
}

}  // namespace

void ReadCallIdentifiers(TaskView* out) {
  if (!out->has_attributes) return;
  object attrs = out->attributes;
  Element v;
  if (attrs.at_key("call_sid").get(v) == simdjson::SUCCESS) StringIf(v, &out->call_sid);
  if (attrs.at_key("conference").get(v) == simdjson::SUCCESS && v.is_object()) {
    Element sid;
    if (object(v).at_key("sid").get(sid) == simdjson::SUCCESS) StringIf(sid, &out->conference_sid);
  }
}

Status ReadRequest(Element root, ParserSet& parsers, const ParseLimits& limits, Event* event,
                   TaskView* out) {
  object obj;
  if (root.get(obj) != simdjson::SUCCESS) {
    return Status::InvalidInput(std::string("request: expected a JSON object, got ") +
                                JsonTypeName(root));
  }
  *out = TaskView();
  object task = obj;
  std::string_view where = "task";
  Element task_el;
  const bool has_task = obj.at_key("task").get(task_el) == simdjson::SUCCESS;
  if (!has_task && obj.at_key("event").error() == simdjson::SUCCESS) {
    // A bare task never has an "event": this is a request that lost its task.
    return Status::InvalidInput(
        "request.task: missing (a request is {\"event\", \"task\", \"worker\"}; a bare task "
        "object has no \"event\")");
  }
  if (has_task) {
    if (task_el.get(task) != simdjson::SUCCESS) {
      return Status::InvalidInput(std::string("request.task: expected an object, got ") +
                                  JsonTypeName(task_el));
    }
    where = "request.task";
    Element ev;
    if (obj.at_key("event").get(ev) == simdjson::SUCCESS && !ev.is_null()) {
      std::string_view name;
      if (ev.get(name) != simdjson::SUCCESS) {
        return Status::InvalidInput(std::string("request.event: expected a string, got ") +
                                    JsonTypeName(ev));
      }
      auto parsed = ParseEvent(name);
      if (!parsed) {
        return Status::InvalidInput("request.event: unknown event \"" + std::string(name) +
                                    "\" (expected accept, update, pause_request or "
                                    "resume_request)");
      }
      *event = *parsed;
    }
    Element worker;
    if (obj.at_key("worker").get(worker) == simdjson::SUCCESS && !worker.is_null()) {
      Status s = ReadWorker(worker, "request.worker", parsers, limits, out);
      if (!s.ok()) return s;
    }
  }
  Status s = ReadString(task, where, "sid", &out->sid);
  if (s.ok()) s = ReadString(task, where, "taskSid", &out->task_sid);
  if (s.ok()) s = ReadString(task, where, "queueName", &out->queue_name);
  if (s.ok()) s = ReadString(task, where, "queueSid", &out->queue_sid);
  if (s.ok()) s = ReadString(task, where, "taskChannelUniqueName", &out->channel);
  if (s.ok()) {
    s = ReadAttributes(task, where, "attributes", parsers.task_attributes, limits, &out->attributes,
                       &out->has_attributes);
  }
  if (!s.ok()) return s;
  if (!out->has_worker) {
    Element worker;
    if (task.at_key("worker").get(worker) == simdjson::SUCCESS && !worker.is_null()) {
      s = ReadWorker(worker, std::string(where) + ".worker", parsers, limits, out);
      if (!s.ok()) return s;
    }
  }
  ReadCallIdentifiers(out);
  return Status::Ok();
}

Status ParseRequestView(std::string_view json, const ParseLimits& limits, Event* event,
                        TaskView* out) {
  ParserSet& parsers = ThreadParsers();
  auto root = ParseJson(parsers.request, json, "request", limits.max_bytes, limits.max_depth);
  if (!root.ok()) return root.status();
  return ReadRequest(*root, parsers, limits, event, out);
}

}  // namespace recrules::detail

namespace recrules::detail {

namespace {
// The view's strings, in the order a decision reads them: the four SIDs it echoes, then what
// rules compare.
constexpr std::string_view TaskView::*kHotStrings[] = {
    &TaskView::task_sid,       &TaskView::sid,        &TaskView::call_sid,
    &TaskView::conference_sid, &TaskView::queue_name, &TaskView::queue_sid,
    &TaskView::channel,        &TaskView::worker_sid, &TaskView::worker_name};
}  // namespace

std::shared_ptr<TaskData> TaskData::Keep(TaskData&& parsed,
                                         const simdjson::dom::document* request) {
  // The hot block: the view's strings (kHotStrings), then the layout. Tape indexes are the
  // same in the documents' copies.
  thread_local std::vector<uint32_t> at;
  thread_local std::vector<fingerprint::Value> fingerprints;
  at.clear();
  fingerprints.clear();
  const uint64_t hash =
      parsed.view.has_attributes ? KeyLayout::Build(parsed.view.attributes, &at, &fingerprints) : 0;
  size_t string_bytes = 0;
  for (auto member : kHotStrings) string_bytes += (parsed.view.*member).size();
  // The strings, then the fingerprints and the tape indexes, each at its own alignment.
  auto align = [](size_t offset, size_t to) { return (offset + to - 1) / to * to; };
  const size_t fingerprints_at = align(string_bytes, alignof(fingerprint::Value));
  const size_t at_at =
      align(fingerprints_at + sizeof(fingerprint::Value) * at.size(), alignof(uint32_t));
  const size_t hot_bytes = at_at + sizeof(uint32_t) * at.size();

  // One block: the TaskData, then its hot block (sizeof is a multiple of the alignment). From
  // the thread's slab (task_slab.h says why), unless the task is a very large one.
  static_assert(alignof(TaskData) == task_slab::kAlign);
  constexpr std::align_val_t kAlign{alignof(TaskData)};
  const size_t block_bytes = sizeof(TaskData) + hot_bytes;
  const bool in_slab = block_bytes <= task_slab::kMaxBlockBytes;
  void* block = in_slab ? task_slab::Allocate(block_bytes) : ::operator new(block_bytes, kAlign);
  std::shared_ptr<TaskData> data(new (block) TaskData(std::move(parsed)), [in_slab](TaskData* d) {
    d->~TaskData();
    if (in_slab) {
      task_slab::Free(d);
    } else {
      ::operator delete(d, kAlign);
    }
  });
  data->Fill(request, hash, at, fingerprints, fingerprints_at, at_at);
  return data;
}

void TaskData::Fill(const simdjson::dom::document* request, uint64_t hash,
                    const std::vector<uint32_t>& at,
                    const std::vector<fingerprint::Value>& fingerprints, size_t fingerprints_at,
                    size_t at_at) {
  char* const hot = reinterpret_cast<char*>(this) + sizeof(TaskData);  // see Keep
  char* text = hot;
  for (auto member : kHotStrings) {
    std::string_view& s = view.*member;
    if (!s.empty()) std::memcpy(text, s.data(), s.size());
    s = std::string_view(text, s.size());
    text += s.size();
  }
  auto* layout_fingerprints = reinterpret_cast<fingerprint::Value*>(hot + fingerprints_at);
  auto* layout_at = reinterpret_cast<uint32_t*>(hot + at_at);
  std::uninitialized_copy(fingerprints.begin(), fingerprints.end(), layout_fingerprints);
  std::uninitialized_copy(at.begin(), at.end(), layout_at);
  if (!at.empty()) {
    view.attributes_layout = KeyLayout{hash, uint32_t(at.size()), layout_fingerprints, layout_at};
  }
  view.queue_name_hash = TapeKeyMatcher::HashOf(view.queue_name);
  view.queue_sid_hash = TapeKeyMatcher::HashOf(view.queue_sid);
  strings.clear();  // the view no longer points into the form's values
  strings.shrink_to_fit();

  const simdjson::dom::document* sources[] = {
      request,
      view.has_attributes ? DocumentOf(view.attributes) : nullptr,
      view.has_worker ? DocumentOf(view.worker) : nullptr,
      view.has_worker_attributes ? DocumentOf(view.worker_attributes) : nullptr,
  };
  // At most three distinct documents (one per parser): the worker sits in the request's.
  const simdjson::dom::document* copied[std::size(sources)] = {};
  size_t count = 0;
  for (const simdjson::dom::document* from : sources) {
    if (from == nullptr || std::find(copied, copied + count, from) != copied + count) continue;
    simdjson::dom::document& to = documents[count];
    CopyDocument(*from, &to);
    for (Element* e : {&view.attributes, &view.worker, &view.worker_attributes}) {
      *e = MovedElement(*e, *from, to);
    }
    copied[count++] = from;
  }
}

}  // namespace recrules::detail

namespace recrules {

using detail::Element;
using detail::TaskData;

namespace {

// Parses `json` into a TaskData that owns its documents.
Result<std::shared_ptr<TaskData>> OwnedParse(std::string_view json, const ParseLimits& limits,
                                             Event* event) {
  detail::ParserSet& parsers = detail::ThreadParsers();
  auto root =
      detail::ParseJson(parsers.request, json, "request", limits.max_bytes, limits.max_depth);
  if (!root.ok()) return root.status();
  TaskData parsed;
  Status s = detail::ReadRequest(*root, parsers, limits, event, &parsed.view);
  if (!s.ok()) return s;
  return TaskData::Keep(std::move(parsed), detail::DocumentOf(*root));
}

}  // namespace

Result<Task> Task::FromJson(std::string_view task_json, const ParseLimits& limits) {
  Event ignored = Event::kAccept;
  auto data = OwnedParse(task_json, limits, &ignored);
  if (!data.ok()) return data.status();
  return Task(std::move(data).value());
}

Result<Request> ParseRequest(std::string_view json, const ParseLimits& limits) {
  Event event = Event::kAccept;
  auto data = OwnedParse(json, limits, &event);
  if (!data.ok()) return data.status();
  return Request{event, Task(std::move(data).value())};
}

}  // namespace recrules

namespace recrules {

Result<Task> Task::FromForm(const std::vector<std::pair<std::string, std::string>>& fields,
                            const ParseLimits& limits) {
  TaskData form;
  form.strings.reserve(fields.size());  // views point into these: no reallocation allowed
  detail::TaskView& v = form.view;
  for (const auto& [key, value] : fields) {
    std::string_view* target = nullptr;
    if (key == "TaskSid")
      target = &v.task_sid;
    else if (key == "TaskQueueSid")
      target = &v.queue_sid;
    else if (key == "TaskQueueName")
      target = &v.queue_name;
    else if (key == "TaskChannelUniqueName")
      target = &v.channel;
    else if (key == "ReservationSid")
      target = &v.sid;
    else if (key == "WorkerSid")
      target = &v.worker_sid;
    else if (key == "WorkerName")
      target = &v.worker_name;
    if (target != nullptr) {
      form.strings.push_back(value);
      *target = form.strings.back();
      continue;
    }
    if (key == "TaskAttributes" || key == "WorkerAttributes") {
      bool is_task = key == "TaskAttributes";
      detail::ParserSet& parsers = detail::ThreadParsers();
      auto& parser = is_task ? parsers.task_attributes : parsers.worker_attributes;
      auto parsed = detail::ParseJson(parser, value, key, limits.max_bytes, limits.max_depth);
      if (!parsed.ok()) return parsed.status();
      if (!parsed->is_object()) {
        return Status::InvalidInput(key + ": expected a JSON object, got " +
                                    detail::JsonTypeName(*parsed));
      }
      (is_task ? v.attributes : v.worker_attributes) = *parsed;
      (is_task ? v.has_attributes : v.has_worker_attributes) = true;
    }
  }
  detail::ReadCallIdentifiers(&v);
  return Task(TaskData::Keep(std::move(form), nullptr));
}

std::string_view Task::sid() const {
  return data_->view.sid;
}
std::string_view Task::task_sid() const {
  return data_->view.task_sid;
}
std::string_view Task::queue_name() const {
  return data_->view.queue_name;
}
std::string_view Task::queue_sid() const {
  return data_->view.queue_sid;
}
std::string_view Task::channel() const {
  return data_->view.channel;
}
std::string_view Task::worker_sid() const {
  return data_->view.worker_sid;
}
std::string_view Task::call_sid() const {
  return data_->view.call_sid;
}
std::string_view Task::conference_sid() const {
  return data_->view.conference_sid;
}

std::string Task::AttributesJson() const {
  if (!data_->view.has_attributes) return "{}";
  return detail::ToJsonText(data_->view.attributes);
}

std::optional<std::string> Task::AttributeJson(std::string_view dot_path) const {
  if (!data_->view.has_attributes) return std::nullopt;
  auto found = detail::WalkPath(data_->view.attributes, dot_path);
  if (!found) return std::nullopt;
  return detail::ToJsonText(*found);
}

}  // namespace recrules
