// Internals of the Lua rule host, shared by the files in engine/src/lua/ only. This is the one
// corner of the engine that includes lua.h.
#pragma once

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "json.h"
#include "lua/time_zone.h"
#include "policy_config.h"
#include "rule.h"

namespace recrules::detail {

struct HostContext;

// Memory accounting for one lua_State: the allocator refuses growth past `cap`.
struct MemoryAccount {
  size_t used = 0;
  size_t cap = 0;
  bool refused = false;  // set when an allocation was refused (cleared per evaluation)
  // During a decision, the host whose instruction budget pays for the bytes allocated: C
  // functions (s:upper(), s .. s, string.rep) do work in proportion to what they allocate,
  // where the count hook does not run.
  HostContext* charge = nullptr;
};

// Allocation and work charged against the instruction budget (see docs/rules.md, Limits).
constexpr size_t kBytesPerInstruction = 16;
constexpr double kElementsPerInstruction = 4;  // task elements or table items walked in C

// Owns a lua_State and its memory account (the allocator's user data, so it must outlive
// the state). Registry references taken on the state are released by lua_close.
class LuaState {
 public:
  explicit LuaState(size_t cap_bytes);
  ~LuaState();
  LuaState(const LuaState&) = delete;
  LuaState& operator=(const LuaState&) = delete;

  lua_State* get() const { return L_; }
  MemoryAccount& memory() { return *memory_; }

 private:
  std::unique_ptr<MemoryAccount> memory_;
  lua_State* L_ = nullptr;
};

// A decision made by recrules.record/skip/pause during one evaluation. The Lua side holds only
// a light userdata token; the text stays here, so deciding allocates nothing once warm.
struct PendingDecision {
  uint64_t token = 0;
  Action action = Action::kRecord;
  bool has_behavior = false;
  PauseBehavior behavior = PauseBehavior::kSkip;
  std::string reason;
};

// What the C functions Lua calls can see of the host: one per lua_State, reachable through
// lua_getextraspace. Only ever used by the thread that owns the state.
struct HostContext {
  lua_State* state = nullptr;
  const RuleInput* input = nullptr;  // the decision in progress; null between decisions
  const std::string* rule_name = nullptr;
  uint64_t generation = 1;  // views made during an evaluation carry it; bumped after each one
  // Instruction budget (count hook).
  int64_t instruction_limit = 0;
  int64_t instructions_left = 0;
  int hook_step = 100;
  bool budget_exceeded = false;  // a limit stopped the rule: every further instruction fails
  bool time_exceeded = false;    // ... and it was the time limit
  char budget_where[96] = {0};   // "rule.lua:12" where the budget ran out
  // Wall-clock limit of the evaluation in progress (limits.time_ms), checked by the hook.
  // The clock is read first when the hook first runs (after hook_step instructions) or a large
  // call is charged, so the many rules that finish sooner never read it.
  std::chrono::milliseconds time_limit{0};
  std::chrono::steady_clock::time_point deadline;  // zero until the clock is first read
  bool names_used = false;                         // tostring numbered a value in this evaluation
  // Decisions made in the current evaluation. Tokens count from 1 in every evaluation, so
  // a token says nothing of earlier ones.
  static constexpr int kSlots = 4;
  PendingDecision slots[kSlots];
  uint64_t next_token = 1;
  PauseBehavior default_pause_behavior = PauseBehavior::kSkip;
  // Registry refs of the view metatables and the config table.
  int task_meta = LUA_NOREF, worker_meta = LUA_NOREF, json_meta = LUA_NOREF;
  int config_ref = LUA_NOREF, ctx_ref = LUA_NOREF, ctx_store_ref = LUA_NOREF;
  int event_name_refs[4] = {LUA_NOREF, LUA_NOREF, LUA_NOREF, LUA_NOREF};
  bool copy_task = false;  // TaskPassing::kCopy
  // Time zones this state has looked up (kept alive here; the process cache is shared).
  std::vector<std::pair<std::string, std::shared_ptr<const TimeZone>>> zones;
};

inline HostContext* Host(lua_State* L) {
  return *static_cast<HostContext**>(lua_getextraspace(L));
}

// One boundary for every C function Lua calls. `Body` returns its number of results, or -1
// after writing a message to `error`; C++ exceptions become messages too. The Lua error is
// raised only here, after the body's C++ objects are destroyed, because a Lua error is a
// longjmp that would skip their destructors.
using LuaBody = int (*)(lua_State* L, std::string* error);

template <LuaBody Body>
int LuaBoundary(lua_State* L) {
  char message[512];
  bool failed = false;
  int results = 0;
  {
    std::string error;
    try {
      results = Body(L, &error);
      if (results < 0) failed = true;
    } catch (const std::exception& e) {
      error = std::string("internal error: ") + e.what();
      failed = true;
    } catch (...) {
      error = "internal error";
      failed = true;
    }
    if (failed) {
      size_t n = std::min(error.size(), sizeof message - 1);
      std::memcpy(message, error.data(), n);
      message[n] = '\0';
    }
  }
  if (failed) {
    luaL_where(L, 1);
    lua_pushstring(L, message);
    lua_concat(L, 2);
    return lua_error(L);
  }
  return results;
}

// --- sandbox.cc ---
// Builds the shared, read-only global environment (base, string, table, math, utf8, os.time/
// date/clock, recrules) and installs it as the state's globals. Expects HostContext set.
void OpenSandbox(lua_State* L, const nlohmann::json& features,
                 const std::vector<std::pair<std::string, nlohmann::json>>& data);
// Pushes a new, writable environment for one rule file whose reads fall through to the
// sandbox and whose undeclared globals are errors.
void PushRuleEnvironment(lua_State* L);
// Makes the table at `index` (and everything reachable from it: tables, and the upvalues of
// Lua functions) read-only in place. Every upvalue of a reachable Lua function is appended to
// `upvalues` (a table at `upvalues_index`: {fn, n, value} triples) so it can be restored.
void Freeze(lua_State* L, int index, int upvalues_index);
// Pushes a JSON value as (frozen) Lua tables.
void PushJson(lua_State* L, const nlohmann::json& value, int depth = 0);
// Message handler for lua_pcall: keeps string messages, describes other error objects.
int MessageHandler(lua_State* L);
// The instruction budget's count hook; it also enforces the time limit.
void CountHook(lua_State* L, lua_Debug* ar);
// Charges `instructions` of work a C function does (the count hook does not run in C) against
// the budget. False when it does not fit or the time is up: then call LimitExceeded.
bool ChargeWork(lua_State* L, double instructions);
// Marks the budget spent (every further instruction fails, so pcall cannot swallow it), notes
// the calling rule line plus `detail` ("string.find on a 5000-byte subject") for the message,
// sets `error` and returns -1 (a LuaBody's failure).
int LimitExceeded(lua_State* L, const std::string& detail, std::string* error);
// Forgets the names tostring gave tables and functions ("table: 1") in this evaluation.
void ForgetNames(lua_State* L);
// `text` for the operational log: control characters (newlines, ANSI escapes, C1 controls)
// written as \n, \r, \t or \xNN, so a task value cannot forge log lines or reach a terminal.
std::string EscapeForLog(std::string_view text);
// Pushes what to iterate for the table at `index`: its store when frozen, else itself.
// Returns the pushed value's index.
int PushIterable(lua_State* L, int index);
// Makes writes to the frozen table at `index` fail as writes to globals.
void MarkAsGlobals(lua_State* L, int index);
// True when the table at `index` was frozen.
bool IsFrozen(lua_State* L, int index);

// --- rule_api.cc ---
// Creates the recrules table (record, skip, pause, get, matches, sample, localtime, log, data)
// on the stack, and the view metatables (stored in HostContext).
void PushRecrulesTable(lua_State* L,
                       const std::vector<std::pair<std::string, nlohmann::json>>& data);
// Pushes the read-only view of the task / ctx for the evaluation in progress.
void PushTaskArgument(lua_State* L);
void PushContextArgument(lua_State* L);
// Appends the JSON text of the Lua value at `index` (tables become objects or arrays).
// Returns false with `error` set for values JSON cannot hold.
bool AppendLuaJson(lua_State* L, int index, std::string* out, std::string* error, int depth = 0);

}  // namespace recrules::detail
