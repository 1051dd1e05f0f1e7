#include <algorithm>
#include <array>
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

// The values of an object's keys, found in one pass over its keys (at_key starts from the first
// key on every call). The first occurrence of a key wins, as with at_key.
template <size_t N>
struct Fields {
  std::array<Element, N> value;
  std::array<bool, N> seen{};
  std::array<bool, N> present{};  // seen and not null: most fields treat null as absent

  Fields(object obj, const std::array<std::string_view, N>& names) {
    size_t missing = N;
    for (auto [key, v] : obj) {
      for (size_t i = 0; i < N; ++i) {
        if (seen[i] || key != names[i]) continue;
        seen[i] = true;
        value[i] = v;
        present[i] = !v.is_null();
        --missing;
        break;
      }
      if (missing == 0) break;
    }
  }
};

// Reads an optional string field named `key`.
template <size_t N>
Status ReadString(const Fields<N>& f, size_t i, std::string_view where, std::string_view key,
                  std::string_view* out) {
  if (!f.present[i]) return Status::Ok();
  if (f.value[i].get(*out) != simdjson::SUCCESS) {
    return WrongType(where, key, "a string", f.value[i]);
  }
  return Status::Ok();
}

// Reads an attributes-like field: an object, or a string holding a JSON object (TaskRouter's
// REST representation), parsed with `parser`.
Status ReadAttributes(Element v, std::string_view where, std::string_view key,
                      simdjson::dom::parser& parser, const ParseLimits& limits, Element* out,
                      bool* present) {
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

constexpr std::array<std::string_view, 4> kWorkerFields = {"sid", "workerSid", "name",
                                                           "attributes"};

Status ReadWorker(Element worker, std::string_view where, ParserSet& parsers,
                  const ParseLimits& limits, TaskView* out) {
  object obj;
  if (worker.get(obj) != simdjson::SUCCESS) {
    return Status::InvalidInput(std::string(where) + ": expected an object, got " +
                                JsonTypeName(worker));
  }
  out->worker = worker;
  out->has_worker = true;
  const Fields f(obj, kWorkerFields);
  Status s = ReadString(f, 0, where, kWorkerFields[0], &out->worker_sid);
  if (s.ok() && out->worker_sid.empty()) {
    s = ReadString(f, 1, where, kWorkerFields[1], &out->worker_sid);
  }
  if (s.ok()) s = ReadString(f, 2, where, kWorkerFields[2], &out->worker_name);
  if (s.ok() && f.present[3]) {
    s = ReadAttributes(f.value[3], where, kWorkerFields[3], parsers.worker_attributes, limits,
                       &out->worker_attributes, &out->has_worker_attributes);
  }
  return s;
}

// Sets *out when `e` is a string; leaves it alone otherwise.
void StringIf(Element e, std::string_view* out) {
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) *out = s;
}

// A task's fields; a request's are the same plus "task" and "event" (a bare task is the
// request).
enum TaskField : size_t {
  kSid,
  kTaskSid,
  kQueueName,
  kQueueSid,
  kChannel,
  kAttributes,
  kWorker,
  kTask,
  kEvent,
};
constexpr std::array<std::string_view, 9> kRequestFields = {
    "sid",        "taskSid", "queueName", "queueSid", "taskChannelUniqueName",
    "attributes", "worker",  "task",      "event"};
constexpr std::array<std::string_view, 7> kTaskFields = {
    "sid", "taskSid", "queueName", "queueSid", "taskChannelUniqueName", "attributes", "worker"};

static_assert([] {
  for (size_t i = 0; i < kTaskFields.size(); ++i) {
    if (kTaskFields[i] != kRequestFields[i]) return false;
  }
  return true;
}());

template <size_t N>
Status ReadTask(const Fields<N>& f, std::string_view where, ParserSet& parsers,
                const ParseLimits& limits, TaskView* out) {
  const auto& names = kRequestFields;  // kTaskFields is its start
  Status s = ReadString(f, kSid, where, names[kSid], &out->sid);
  if (s.ok()) s = ReadString(f, kTaskSid, where, names[kTaskSid], &out->task_sid);
  if (s.ok()) s = ReadString(f, kQueueName, where, names[kQueueName], &out->queue_name);
  if (s.ok()) s = ReadString(f, kQueueSid, where, names[kQueueSid], &out->queue_sid);
  if (s.ok()) s = ReadString(f, kChannel, where, names[kChannel], &out->channel);
  if (s.ok() && f.present[kAttributes]) {
    s = ReadAttributes(f.value[kAttributes], where, names[kAttributes], parsers.task_attributes,
                       limits, &out->attributes, &out->has_attributes);
  }
  if (!s.ok()) return s;
  if (!out->has_worker && f.present[kWorker]) {
    s = ReadWorker(f.value[kWorker], std::string(where) + ".worker", parsers, limits, out);
  }
  return s;
}

}  // namespace

void ReadCallIdentifiers(TaskView* out) {
  if (!out->has_attributes) return;
  const Fields f(object(out->attributes),
                 std::array<std::string_view, 2>{"call_sid", "conference"});
  if (f.present[0]) StringIf(f.value[0], &out->call_sid);
  if (f.present[1] && f.value[1].is_object()) {
    Element sid;
    if (object(f.value[1]).at_key("sid").get(sid) == simdjson::SUCCESS) {
      StringIf(sid, &out->conference_sid);
    }
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
  // One pass over the request's keys: a bare task's fields are all here.
  const Fields request(obj, kRequestFields);
  Status s;
  if (!request.seen[kTask]) {
    if (request.seen[kEvent]) {
      // A bare task never has an "event": this is a request that lost its task.
      return Status::InvalidInput(
          "request.task: missing (a request is {\"event\", \"task\", \"worker\"}; a bare task "
          "object has no \"event\")");
    }
    s = ReadTask(request, "task", parsers, limits, out);
  } else {
    object task;
    const Element task_el = request.value[kTask];
    if (task_el.get(task) != simdjson::SUCCESS) {
      return Status::InvalidInput(std::string("request.task: expected an object, got ") +
                                  JsonTypeName(task_el));
    }
    if (request.present[kEvent]) {
      std::string_view name;
      const Element ev = request.value[kEvent];
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
    if (request.present[kWorker]) {
      s = ReadWorker(request.value[kWorker], "request.worker", parsers, limits, out);
      if (!s.ok()) return s;
    }
    s = ReadTask(Fields(task, kTaskFields), "request.task", parsers, limits, out);
  }
  if (!s.ok()) return s;
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

const detail::TaskData& detail::DataOf(const Task& task) {
  return *task.data_;
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
