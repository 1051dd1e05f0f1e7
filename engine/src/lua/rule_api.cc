// What rules call: the recrules table (decisions, get/matches, sample, localtime, log, data) and
// the read-only views of the task and ctx.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <string_view>
#include <type_traits>

#include "lua/lua_internal.h"
#include "lua/time_zone.h"

namespace recrules::detail {

namespace {

using simdjson::dom::array;
using simdjson::dom::object;

// A read-only view of part of the task. Valid only during the evaluation that made it.
struct View {
  static constexpr uint32_t kMagic = 0x52524c56;  // "RRLV"
  enum Kind : uint8_t { kTask, kWorker, kJson };
  uint32_t magic;
  Kind kind;
  uint64_t generation;
  Element element;
  // For an array: where the last t[i] was found. simdjson reaches element i by walking from
  // the first, so ipairs and `for i = 1, #t` resume from here instead (linear, not quadratic).
  bool has_cursor = false;
  size_t cursor_index = 0;
  array::iterator cursor;
};

int MetaRef(HostContext* h, View::Kind kind) {
  switch (kind) {
    case View::kTask:
      return h->task_meta;
    case View::kWorker:
      return h->worker_meta;
    case View::kJson:
      break;
  }
  return h->json_meta;
}

void PushView(lua_State* L, View::Kind kind, Element element) {
  HostContext* h = Host(L);
  void* mem = lua_newuserdatauv(L, sizeof(View), 0);
  new (mem) View{View::kMagic, kind, h->generation, element, false, 0, {}};
  static_assert(std::is_trivially_destructible_v<View>, "Lua frees views without a destructor");
  lua_rawgeti(L, LUA_REGISTRYINDEX, MetaRef(h, kind));
  lua_setmetatable(L, -2);
}

// The view at `index`, or null when the value is not a view.
View* ToView(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TUSERDATA) return nullptr;
  View* v = static_cast<View*>(lua_touserdata(L, index));
  return v->magic == View::kMagic ? v : nullptr;
}

bool Stale(lua_State* L, const View* v) {
  HostContext* h = Host(L);
  return h->input == nullptr || v->generation != h->generation;
}

const char kStale[] =
    "task value used after its decision ended (a rule must not keep the task, ctx or parts "
    "of them between decisions)";

// Pushes a JSON element: scalars as Lua values, objects and arrays as views.
void PushElement(lua_State* L, Element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      lua_pushnil(L);
      break;
    case simdjson::dom::element_type::BOOL:
      lua_pushboolean(L, bool(e));
      break;
    case simdjson::dom::element_type::INT64:
      lua_pushinteger(L, int64_t(e));
      break;
    case simdjson::dom::element_type::UINT64: {
      uint64_t u = uint64_t(e);
      if (u <= uint64_t(INT64_MAX)) {
        lua_pushinteger(L, static_cast<lua_Integer>(u));
      } else {
        lua_pushnumber(L, static_cast<lua_Number>(u));
      }
      break;
    }
    case simdjson::dom::element_type::DOUBLE:
      lua_pushnumber(L, double(e));
      break;
    case simdjson::dom::element_type::STRING: {
      std::string_view s(e);
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case simdjson::dom::element_type::ARRAY:
    case simdjson::dom::element_type::OBJECT:
      PushView(L, View::kJson, e);
      break;
  }
}

// Copies a JSON element into fresh Lua tables (TaskPassing::kCopy).
void PushElementCopy(lua_State* L, Element e, int depth = 0) {
  luaL_checkstack(L, 4, "copying the task");
  if (depth > 100) luaL_error(L, "task nested too deeply");
  if (e.is_object()) {
    lua_newtable(L);
    for (auto field : object(e)) {
      if (field.value.is_null()) continue;
      lua_pushlstring(L, field.key.data(), field.key.size());
      PushElementCopy(L, field.value, depth + 1);
      lua_rawset(L, -3);
    }
  } else if (e.is_array()) {
    lua_newtable(L);
    lua_Integer i = 1;
    for (Element item : array(e)) {
      PushElementCopy(L, item, depth + 1);
      lua_rawseti(L, -2, i++);
    }
  } else {
    PushElement(L, e);
  }
}

void PushString(lua_State* L, std::string_view s) {
  if (s.empty()) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, s.data(), s.size());
  }
}

std::string_view KeyOf(lua_State* L, int index) {
  size_t n = 0;
  const char* s = lua_type(L, index) == LUA_TSTRING ? lua_tolstring(L, index, &n) : nullptr;
  return s ? std::string_view(s, n) : std::string_view();
}

// __index of the task view.
int TaskIndexBody(lua_State* L, std::string* error) {
  View* v = ToView(L, 1);
  if (Stale(L, v)) {
    *error = kStale;
    return -1;
  }
  const TaskView& t = Host(L)->input->task;
  std::string_view key = KeyOf(L, 2);
  if (key == "attributes") {
    if (t.has_attributes) {
      PushView(L, View::kJson, t.attributes);
    } else {
      lua_pushnil(L);
    }
  } else if (key == "sid") {
    PushString(L, t.sid);
  } else if (key == "taskSid") {
    PushString(L, t.task_sid);
  } else if (key == "queueName") {
    PushString(L, t.queue_name);
  } else if (key == "queueSid") {
    PushString(L, t.queue_sid);
  } else if (key == "channel") {
    PushString(L, t.channel);
  } else if (key == "callSid") {
    PushString(L, t.call_sid);
  } else if (key == "conferenceSid") {
    PushString(L, t.conference_sid);
  } else if (key == "worker") {
    if (t.has_worker || !t.worker_sid.empty() || !t.worker_name.empty() ||
        t.has_worker_attributes) {
      PushView(L, View::kWorker, Element());
    } else {
      lua_pushnil(L);
    }
  } else {
    lua_pushnil(L);
  }
  return 1;
}

// __index of task.worker: sid, name, attributes.
int WorkerIndexBody(lua_State* L, std::string* error) {
  View* v = ToView(L, 1);
  if (Stale(L, v)) {
    *error = kStale;
    return -1;
  }
  const TaskView& t = Host(L)->input->task;
  std::string_view key = KeyOf(L, 2);
  if (key == "sid") {
    PushString(L, t.worker_sid);
  } else if (key == "name") {
    PushString(L, t.worker_name);
  } else if (key == "attributes" && t.has_worker_attributes) {
    PushView(L, View::kJson, t.worker_attributes);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

// __index of an object or array inside the task. The keys or elements walked to find the
// value are charged to the instruction budget (simdjson finds both by walking).
int JsonIndexBody(lua_State* L, std::string* error) {
  View* v = ToView(L, 1);
  if (Stale(L, v)) {
    *error = kStale;
    return -1;
  }
  size_t walked = 0;
  bool found = false;
  if (v->element.is_object()) {
    std::string_view key = KeyOf(L, 2);
    if (key.data() != nullptr) {
      for (auto field : object(v->element)) {
        ++walked;
        if (field.key == key) {
          PushElement(L, field.value);
          found = true;
          break;
        }
      }
    }
  } else if (lua_isinteger(L, 2)) {
    array arr(v->element);
    lua_Integer i = lua_tointeger(L, 2);
    if (i >= 1 && size_t(i - 1) < arr.size()) {
      size_t want = size_t(i - 1);
      if (!v->has_cursor || want < v->cursor_index) {
        v->cursor = arr.begin();
        v->cursor_index = 0;
        v->has_cursor = true;
      }
      for (; v->cursor_index < want; ++v->cursor_index, ++walked) ++v->cursor;
      PushElement(L, *v->cursor);
      found = true;
    }
  }
  if (walked > 8 && !ChargeWork(L, double(walked) / kElementsPerInstruction)) {
    return LimitExceeded(L, "walking " + std::to_string(walked) + " task values", error);
  }
  if (!found) lua_pushnil(L);
  return 1;
}

int JsonLenBody(lua_State* L, std::string* error) {
  View* v = ToView(L, 1);
  if (Stale(L, v)) {
    *error = kStale;
    return -1;
  }
  lua_pushinteger(L, v->element.is_array() ? lua_Integer(array(v->element).size()) : 0);
  return 1;
}

// Where pairs() over a view is: the iterator's upvalue, with the view as its user value.
struct PairsCursor {
  bool is_object;
  array::iterator item, items_end;
  object::iterator field, fields_end;
  lua_Integer n = 0;
};

// The iterator pairs() returns for a view: resumes where it left off, so a whole walk is
// linear in the view's size.
int JsonNextBody(lua_State* L, std::string* error) {
  auto* c = static_cast<PairsCursor*>(lua_touserdata(L, lua_upvalueindex(1)));
  lua_getiuservalue(L, lua_upvalueindex(1), 1);
  View* v = ToView(L, -1);
  if (v == nullptr || Stale(L, v) || !lua_rawequal(L, 1, -1)) {
    *error = kStale;
    return -1;
  }
  lua_pop(L, 1);
  if (c->is_object ? c->field == c->fields_end : c->item == c->items_end) {
    lua_pushnil(L);
    return 1;
  }
  if (c->is_object) {
    lua_pushlstring(L, c->field.key_c_str(), c->field.key_length());
    PushElement(L, c->field.value());
    ++c->field;
  } else {
    lua_pushinteger(L, ++c->n);
    PushElement(L, *c->item);
    ++c->item;
  }
  return 2;
}

int JsonPairsBody(lua_State* L, std::string* error) {
  View* v = ToView(L, 1);
  if (Stale(L, v)) {
    *error = kStale;
    return -1;
  }
  auto* c = static_cast<PairsCursor*>(lua_newuserdatauv(L, sizeof(PairsCursor), 1));
  new (c) PairsCursor{};
  static_assert(std::is_trivially_destructible_v<PairsCursor>);
  c->is_object = v->element.is_object();
  if (c->is_object) {
    object obj(v->element);
    c->field = obj.begin();
    c->fields_end = obj.end();
  } else {
    array arr(v->element);
    c->item = arr.begin();
    c->items_end = arr.end();
  }
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushcclosure(L, LuaBoundary<JsonNextBody>, 1);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

int ViewNewIndexBody(lua_State*, std::string* error) {
  *error = "attempt to modify the task or ctx: they are read-only";
  return -1;
}

int ViewToStringBody(lua_State* L, std::string*) {
  View* v = ToView(L, 1);
  static const char* kNames[] = {"task", "worker", "task value"};
  lua_pushfstring(L, "%s (read-only)", kNames[v->kind]);
  return 1;
}

void MakeViewMeta(lua_State* L, lua_CFunction index, bool json, int* ref) {
  lua_createtable(L, 0, 6);
  lua_pushcfunction(L, index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, LuaBoundary<ViewNewIndexBody>);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, LuaBoundary<ViewToStringBody>);
  lua_setfield(L, -2, "__tostring");
  if (json) {
    lua_pushcfunction(L, LuaBoundary<JsonLenBody>);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, LuaBoundary<JsonPairsBody>);
    lua_setfield(L, -2, "__pairs");
  }
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

// --- decisions ---

int Decide(lua_State* L, std::string* error, Action action, const char* name) {
  HostContext* h = Host(L);
  std::string_view reason;
  bool has_behavior = false;
  PauseBehavior behavior = h->default_pause_behavior;
  if (lua_type(L, 1) == LUA_TSTRING) {
    reason = KeyOf(L, 1);
  } else if (lua_type(L, 1) == LUA_TTABLE) {
    lua_settop(L, 1);
    lua_getfield(L, 1, "reason");
    if (lua_type(L, 2) == LUA_TSTRING) reason = KeyOf(L, 2);
    if (action == Action::kPause) {
      lua_getfield(L, 1, "behavior");
      std::string_view b = KeyOf(L, 3);
      if (b == "skip" || b == "silence") {
        has_behavior = true;
        behavior = b == "skip" ? PauseBehavior::kSkip : PauseBehavior::kSilence;
      } else if (!lua_isnil(L, 3)) {
        *error = std::string("recrules.pause: behavior must be \"skip\" or \"silence\", got ") +
                 (lua_type(L, 3) == LUA_TSTRING ? "\"" + std::string(b) + "\""
                                                : std::string(luaL_typename(L, 3)));
        return -1;
      }
    }
  } else {
    *error = std::string("recrules.") + name + ": expected {reason = \"...\"}, got " +
             luaL_typename(L, 1);
    return -1;
  }
  if (reason.empty()) {
    *error = std::string("recrules.") + name + ": a decision needs a non-empty reason string";
    return -1;
  }
  uint64_t token = h->next_token++;
  PendingDecision& slot = h->slots[token % HostContext::kSlots];
  slot.token = token;
  slot.action = action;
  slot.has_behavior = has_behavior || action == Action::kPause;
  slot.behavior = behavior;
  slot.reason.assign(reason.data(), std::min<size_t>(reason.size(), 2000));
  lua_pushlightuserdata(L, reinterpret_cast<void*>(static_cast<uintptr_t>(token)));
  return 1;
}

int RecordBody(lua_State* L, std::string* e) {
  return Decide(L, e, Action::kRecord, "record");
}
int SkipBody(lua_State* L, std::string* e) {
  return Decide(L, e, Action::kSkip, "skip");
}
int PauseBody(lua_State* L, std::string* e) {
  return Decide(L, e, Action::kPause, "pause");
}

// --- get / matches: the built-in path semantics ---

// Walks `path` from the value at `index`. On success pushes the value found (an element is
// pushed through PushElement) and returns true; a missing or null step pushes nothing and
// returns false. *found_element is set when the value came from the task.
bool Walk(lua_State* L, int index, std::string_view path, Element* found_element,
          bool* is_element) {
  *is_element = false;
  if (View* v = ToView(L, index)) {
    Element cur;
    if (v->kind == View::kJson) {
      cur = v->element;
    } else {
      return false;  // task, ctx, worker: use task.attributes / task.worker.attributes
    }
    size_t start = 0;
    while (true) {
      size_t dot = path.find('.', start);
      std::string_view step =
          path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      auto next = PathStep(cur, step);
      if (!next) return false;
      cur = *next;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    *found_element = cur;
    *is_element = true;
    return true;
  }
  if (lua_type(L, index) != LUA_TTABLE) return false;
  lua_pushvalue(L, index);
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view step =
        path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (lua_type(L, -1) != LUA_TTABLE) {
      lua_pop(L, 1);
      return false;
    }
    lua_pushlstring(L, step.data(), step.size());
    lua_gettable(L, -2);
    if (uint32_t i; lua_isnil(L, -1) && ArrayIndexOf(step, &i)) {
      lua_pop(L, 1);
      lua_geti(L, -1, lua_Integer(i) + 1);  // a sequence, indexed from 0 as task arrays are
    }
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool CheckPathArgs(lua_State* L, const char* fn, std::string_view* path, std::string* error) {
  int t = lua_type(L, 1);
  if (t != LUA_TNIL && t != LUA_TTABLE && t != LUA_TUSERDATA) {
    *error = std::string("recrules.") + fn +
             ": bad argument #1 (a table or task value expected, got " + luaL_typename(L, 1) + ")";
    return false;
  }
  if (View* v = ToView(L, 1); v && Stale(L, v)) {
    *error = kStale;
    return false;
  }
  if (lua_type(L, 2) != LUA_TSTRING) {
    *error = std::string("recrules.") + fn + ": bad argument #2 (a dot path string expected, got " +
             luaL_typename(L, 2) + ")";
    return false;
  }
  *path = KeyOf(L, 2);
  if (path->empty() || path->front() == '.' || path->back() == '.' ||
      path->find("..") != std::string_view::npos) {
    *error =
        std::string("recrules.") + fn + ": path \"" + std::string(*path) + "\" has an empty step";
    return false;
  }
  return true;
}

int GetBody(lua_State* L, std::string* error) {
  std::string_view path;
  if (!CheckPathArgs(L, "get", &path, error)) return -1;
  Element e;
  bool is_element;
  if (!Walk(L, 1, path, &e, &is_element)) {
    lua_pushnil(L);
    return 1;
  }
  if (is_element) PushElement(L, e);
  return 1;
}

// Strict JSON equality of a task element and the Lua value at `expected`.
bool ElementEquals(lua_State* L, Element e, int expected, std::string* error) {
  switch (lua_type(L, expected)) {
    case LUA_TSTRING: {
      std::string_view s;
      return e.get(s) == simdjson::SUCCESS && s == KeyOf(L, expected);
    }
    case LUA_TBOOLEAN: {
      bool b;
      return e.get(b) == simdjson::SUCCESS && b == bool(lua_toboolean(L, expected));
    }
    case LUA_TNUMBER: {
      if (lua_isinteger(L, expected)) {
        lua_Integer n = lua_tointeger(L, expected);
        int64_t i;
        uint64_t u;
        double d;
        if (e.get(i) == simdjson::SUCCESS) return i == n;
        if (e.type() == simdjson::dom::element_type::UINT64 && e.get(u) == simdjson::SUCCESS) {
          return n >= 0 && u == uint64_t(n);
        }
        if (e.get(d) == simdjson::SUCCESS) return d == double(n);
        return false;
      }
      double want = lua_tonumber(L, expected);
      if (e.type() == simdjson::dom::element_type::DOUBLE) return double(e) == want;
      if (e.type() == simdjson::dom::element_type::INT64) return double(int64_t(e)) == want;
      if (e.type() == simdjson::dom::element_type::UINT64) return double(uint64_t(e)) == want;
      return false;
    }
    case LUA_TTABLE: {
      std::string text;
      if (!AppendLuaJson(L, expected, &text, error)) return false;
      // Serialised and parsed for every comparison: charge its size.
      if (!ChargeWork(L, double(text.size()) / kElementsPerInstruction)) {
        LimitExceeded(
            L, "recrules.matches with a " + std::to_string(text.size()) + "-byte expected table",
            error);
        return false;
      }
      return JsonEquals(e, nlohmann::json::parse(text));
    }
    default:
      return false;
  }
}

// Strict equality of two Lua values: same type and equal (numbers by value).
bool LuaEquals(lua_State* L, int a, int b) {
  return lua_type(L, a) == lua_type(L, b) && lua_rawequal(L, a, b);
}

int MatchesBody(lua_State* L, std::string* error) {
  std::string_view path;
  if (!CheckPathArgs(L, "matches", &path, error)) return -1;
  if (lua_isnoneornil(L, 3)) {
    *error = "recrules.matches: bad argument #3 (the expected value must not be nil)";
    return -1;
  }
  lua_settop(L, 3);
  Element e;
  bool is_element;
  if (!Walk(L, 1, path, &e, &is_element)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  bool result = false;
  if (is_element) {
    array arr;
    if (e.get(arr) == simdjson::SUCCESS &&
        !ChargeWork(L, double(arr.size()) / kElementsPerInstruction)) {
      return LimitExceeded(L, "recrules.matches over " + std::to_string(arr.size()) + " elements",
                           error);
    }
    if (e.get(arr) == simdjson::SUCCESS && lua_type(L, 3) != LUA_TTABLE) {
      for (Element item : arr) {
        if ((result = ElementEquals(L, item, 3, error))) break;
      }
    } else if (e.get(arr) == simdjson::SUCCESS) {
      for (Element item : arr) {
        if ((result = ElementEquals(L, item, 3, error))) break;
      }
      if (!result && error->empty()) result = ElementEquals(L, e, 3, error);
    } else {
      result = ElementEquals(L, e, 3, error);
    }
    if (!error->empty()) return -1;
  } else {
    int found = lua_gettop(L);
    if (lua_type(L, found) == LUA_TTABLE) {
      lua_Integer i = 1;
      for (;; ++i) {
        if (lua_geti(L, found, i) == LUA_TNIL) {
          lua_pop(L, 1);
          break;
        }
        result = LuaEquals(L, -1, 3);
        lua_pop(L, 1);
        if (result) break;
      }
      if (!ChargeWork(L, double(i) / kElementsPerInstruction)) {
        return LimitExceeded(L, "recrules.matches over " + std::to_string(i) + " items", error);
      }
    } else {
      result = LuaEquals(L, found, 3);
    }
  }
  lua_pushboolean(L, result);
  return 1;
}

// --- sample ---

uint64_t StableHash(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;  // murmur3's finalizer spreads FNV's weak low bits
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

int SampleBody(lua_State* L, std::string* error) {
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER) {
    *error = std::string("recrules.sample: bad argument #1 (a key string expected, got ") +
             luaL_typename(L, 1) + ")";
    return -1;
  }
  if (lua_type(L, 2) != LUA_TNUMBER) {
    *error = std::string("recrules.sample: bad argument #2 (a percentage expected, got ") +
             luaL_typename(L, 2) + ")";
    return -1;
  }
  double percent = lua_tonumber(L, 2);
  if (!(percent >= 0 && percent <= 100)) {
    *error = "recrules.sample: the percentage must be between 0 and 100";
    return -1;
  }
  size_t n;
  const char* key = lua_tolstring(L, 1, &n);
  uint64_t bucket = StableHash(std::string_view(key, n)) % 1000000;  // millionths
  lua_pushboolean(L, double(bucket) < percent * 10000.0);
  return 1;
}

// --- localtime ---

int LocaltimeBody(lua_State* L, std::string* error) {
  if (lua_type(L, 1) != LUA_TSTRING) {
    *error = std::string(
                 "recrules.localtime: bad argument #1 (a time zone name such as "
                 "\"America/New_York\" expected, got ") +
             luaL_typename(L, 1) + ")";
    return -1;
  }
  HostContext* h = Host(L);
  int64_t t;
  if (!lua_isnoneornil(L, 2)) {
    if (!lua_isinteger(L, 2) && !(lua_type(L, 2) == LUA_TNUMBER)) {
      *error = std::string("recrules.localtime: bad argument #2 (unix seconds expected, got ") +
               luaL_typename(L, 2) + ")";
      return -1;
    }
    // Years 1 to 9999: beyond them a civil time means nothing (and 1e300 is not an int64).
    constexpr double kFirst = -62135596800.0, kLast = 253402300799.0;
    double seconds = std::floor(lua_tonumber(L, 2));
    if (!(seconds >= kFirst && seconds <= kLast)) {
      *error = "recrules.localtime: bad argument #2 (unix seconds between " +
               std::to_string(int64_t(kFirst)) + " and " + std::to_string(int64_t(kLast)) +
               " (years 1 to 9999) expected, got " + lua_tostring(L, 2) + ")";
      return -1;
    }
    t = static_cast<int64_t>(seconds);
  } else {
    t = h->input ? h->input->now_unix : int64_t(std::time(nullptr));
  }
  std::string_view name = KeyOf(L, 1);
  const TimeZone* zone = nullptr;
  for (auto& [n, z] : h->zones) {
    if (n == name) {
      zone = z.get();
      break;
    }
  }
  if (zone == nullptr) {
    auto loaded = TimeZone::Cached(name);
    if (!loaded.ok()) {
      *error = "recrules.localtime: " + loaded.status().message();
      return -1;
    }
    h->zones.emplace_back(std::string(name), *loaded);
    zone = loaded->get();
  }
  CivilTime c = zone->Local(t);
  lua_createtable(L, 0, 11);
  auto set = [L](const char* k, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
  };
  set("year", c.year);
  set("month", c.month);
  set("day", c.day);
  set("hour", c.hour);
  set("min", c.min);
  set("sec", c.sec);
  set("wday", c.wday);
  set("yday", c.yday);
  set("offset", c.utc_offset);
  lua_pushboolean(L, c.isdst);
  lua_setfield(L, -2, "isdst");
  lua_pushlstring(L, c.abbreviation.data(), c.abbreviation.size());
  lua_setfield(L, -2, "zone");
  return 1;
}

// --- log ---

int Log(lua_State* L, std::string* error, spdlog::level::level_enum level) {
  size_t n = 0;
  const char* msg = nullptr;
  if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER) {
    msg = lua_tolstring(L, 1, &n);
  } else {
    *error = std::string("recrules.log: a message string expected, got ") + luaL_typename(L, 1);
    return -1;
  }
  HostContext* h = Host(L);
  spdlog::log(level, "rule {}: {}", h->rule_name ? *h->rule_name : std::string("?"),
              EscapeForLog(std::string_view(msg, std::min<size_t>(n, 2000))));
  return 0;
}

int LogInfoBody(lua_State* L, std::string* e) {
  return Log(L, e, spdlog::level::info);
}
int LogWarnBody(lua_State* L, std::string* e) {
  return Log(L, e, spdlog::level::warn);
}
int LogErrorBody(lua_State* L, std::string* e) {
  return Log(L, e, spdlog::level::err);
}

}  // namespace

void PushRecrulesTable(lua_State* L,
                       const std::vector<std::pair<std::string, nlohmann::json>>& data) {
  HostContext* h = Host(L);
  MakeViewMeta(L, LuaBoundary<TaskIndexBody>, false, &h->task_meta);
  // ctx is one frozen table per state whose store's fields are set before each evaluation:
  // cheaper than a view, and it holds nothing of the task. Frozen, rawset refuses it too.
  lua_createtable(L, 0, 3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->config_ref);
  lua_setfield(L, -2, "config");
  lua_newtable(L);
  Freeze(L, -2, -1);
  lua_pop(L, 1);
  lua_getmetatable(L, -1);
  lua_pushcfunction(L, LuaBoundary<ViewNewIndexBody>);
  lua_setfield(L, -2, "__newindex");
  lua_pop(L, 1);
  PushIterable(L, -1);  // the store
  h->ctx_store_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  h->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  for (int e = 0; e < 4; ++e) {
    lua_pushstring(L, EventName(static_cast<Event>(e)));
    h->event_name_refs[e] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  MakeViewMeta(L, LuaBoundary<WorkerIndexBody>, false, &h->worker_meta);
  MakeViewMeta(L, LuaBoundary<JsonIndexBody>, true, &h->json_meta);

  static const luaL_Reg kFunctions[] = {
      {"record", LuaBoundary<RecordBody>},       {"skip", LuaBoundary<SkipBody>},
      {"pause", LuaBoundary<PauseBody>},         {"get", LuaBoundary<GetBody>},
      {"matches", LuaBoundary<MatchesBody>},     {"sample", LuaBoundary<SampleBody>},
      {"localtime", LuaBoundary<LocaltimeBody>}, {nullptr, nullptr}};
  luaL_newlib(L, kFunctions);
  static const luaL_Reg kLog[] = {{"info", LuaBoundary<LogInfoBody>},
                                  {"warn", LuaBoundary<LogWarnBody>},
                                  {"error", LuaBoundary<LogErrorBody>},
                                  {nullptr, nullptr}};
  luaL_newlib(L, kLog);
  lua_setfield(L, -2, "log");
  lua_createtable(L, 0, static_cast<int>(data.size()));
  for (const auto& [name, value] : data) {
    PushJson(L, value);
    lua_setfield(L, -2, name.c_str());
  }
  lua_setfield(L, -2, "data");
}

void PushTaskArgument(lua_State* L) {
  HostContext* h = Host(L);
  if (!h->copy_task) {
    PushView(L, View::kTask, Element());
    return;
  }
  const TaskView& t = h->input->task;
  lua_createtable(L, 0, 8);
  auto field = [L](const char* k, std::string_view v) {
    if (v.empty()) return;
    lua_pushlstring(L, v.data(), v.size());
    lua_setfield(L, -2, k);
  };
  field("sid", t.sid);
  field("taskSid", t.task_sid);
  field("queueName", t.queue_name);
  field("queueSid", t.queue_sid);
  field("channel", t.channel);
  field("callSid", t.call_sid);
  field("conferenceSid", t.conference_sid);
  if (t.has_attributes) {
    PushElementCopy(L, t.attributes);
    lua_setfield(L, -2, "attributes");
  }
}

void PushContextArgument(lua_State* L) {
  HostContext* h = Host(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->ctx_store_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->event_name_refs[static_cast<int>(h->input->event)]);
  lua_setfield(L, -2, "event");
  lua_pushinteger(L, h->input->now_unix);
  lua_setfield(L, -2, "now");
  lua_pop(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->ctx_ref);
}

bool AppendLuaJson(lua_State* L, int index, std::string* out, std::string* error, int depth) {
  index = lua_absindex(L, index);
  if (depth > 100) {
    *error = "value nested deeper than 100 levels";
    return false;
  }
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      out->append("null");
      return true;
    case LUA_TBOOLEAN:
      out->append(lua_toboolean(L, index) ? "true" : "false");
      return true;
    case LUA_TNUMBER: {
      char buf[64];
      if (lua_isinteger(L, index)) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(lua_tointeger(L, index)));
      } else {
        double d = lua_tonumber(L, index);
        if (!std::isfinite(d)) {
          *error = "a number that is not finite cannot be JSON";
          return false;
        }
        std::snprintf(buf, sizeof buf, "%.17g", d);
      }
      out->append(buf);
      return true;
    }
    case LUA_TSTRING:
      AppendJsonString(out, KeyOf(L, index));
      return true;
    case LUA_TTABLE:
      break;
    default:
      *error = std::string("a ") + luaL_typename(L, index) + " value cannot be JSON";
      return false;
  }
  if (!lua_checkstack(L, 6)) {
    *error = "value nested too deeply";
    return false;
  }
  int t = PushIterable(L, index);
  // An array when the keys are exactly 1..n (n > 0); otherwise an object with string keys.
  lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, t));
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    ++count;
    lua_pop(L, 1);
  }
  bool ok = true;
  if (n > 0 && count == n) {
    out->push_back('[');
    for (lua_Integer i = 1; ok && i <= n; ++i) {
      if (i > 1) out->push_back(',');
      lua_rawgeti(L, t, i);
      ok = AppendLuaJson(L, -1, out, error, depth + 1);
      lua_pop(L, 1);
    }
    out->push_back(']');
  } else {
    out->push_back('{');
    bool first = true;
    lua_pushnil(L);
    while (ok && lua_next(L, t) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        *error =
            "a table with both array items and named fields, or non-string keys, cannot "
            "be JSON";
        ok = false;
        lua_pop(L, 2);
        break;
      }
      if (!first) out->push_back(',');
      first = false;
      AppendJsonString(out, KeyOf(L, -2));
      out->push_back(':');
      ok = AppendLuaJson(L, -1, out, error, depth + 1);
      lua_pop(L, 1);
    }
    out->push_back('}');
  }
  lua_settop(L, t - 1);
  return ok;
}

}  // namespace recrules::detail
