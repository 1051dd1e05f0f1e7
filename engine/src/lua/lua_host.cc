// The Lua rule host: compiling rule files at load, one lua_State per deciding thread, the
// evaluation of one rule, and inline rule tests.
#include "lua/lua_host.h"

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>

#include "lua/lua_internal.h"
#include "recrules/task.h"
#include "task_data.h"

namespace recrules::detail {

// A test written inline in a rule file, as collected at load.
struct RuleTestCase {
  size_t rule = 0;  // index into LuaProgram::rules
  std::string name;
  std::string request;  // {"event","task","worker"} JSON
  Event event = Event::kAccept;
  bool has_now = false;
  int64_t now = 0;
  std::string expect;    // "record" | "skip" | "pause" | "pass"
  std::string behavior;  // "" | "skip" | "silence"
  std::string reason;    // "" or text the reason must contain
};

// Everything a thread needs to build its Lua state for one policy. Immutable once the policy
// is compiled (the two atomics are test/benchmark switches).
class LuaProgram {
 public:
  struct RuleFile {
    std::string name;      // as listed in recrules.rules
    std::string bytecode;  // compiled once at load, with line information
    size_t policy_index = 0;
    uint32_t events = 0xF;
  };
  std::vector<RuleFile> rules;
  std::vector<std::pair<std::string, nlohmann::json>> data;  // recrules.data.NAME
  nlohmann::json features = nlohmann::json::object();
  RuleLimits limits;
  PauseBehavior default_pause_behavior = PauseBehavior::kSkip;
  std::vector<RuleTestCase> tests;
  mutable std::atomic<TaskPassing> passing{TaskPassing::kView};
  mutable std::atomic<bool> keep_upvalues{false};
};

namespace {

void* LimitedAlloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* m = static_cast<MemoryAccount*>(ud);
  const size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    m->used -= old;
    std::free(ptr);
    return nullptr;
  }
  if (nsize > old && m->used + (nsize - old) > m->cap) {
    m->refused = true;
    return nullptr;
  }
  if (m->charge != nullptr && nsize > old) {
    // Work in C grows with what it allocates: charge it, and once the budget is spent make
    // the next instruction fail (the count hook names the line).
    HostContext* h = m->charge;
    h->instructions_left -= static_cast<int64_t>((nsize - old) / kBytesPerInstruction);
    if (h->instructions_left <= 0 && !h->budget_exceeded) {
      h->budget_exceeded = true;
      h->budget_where[0] = '\0';
      lua_sethook(h->state, CountHook, LUA_MASKCOUNT, 1);
    }
  }
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) return nullptr;
  m->used = m->used - old + nsize;
  return p;
}

int Panic(lua_State* L) {
  const char* msg = lua_tostring(L, -1);
  std::fprintf(stderr, "recrules: unprotected Lua error (a bug in recrules): %s\n",
               msg ? msg : "?");
  std::abort();
}

}  // namespace

LuaState::LuaState(size_t cap_bytes) : memory_(std::make_unique<MemoryAccount>()) {
  memory_->cap = cap_bytes;
  L_ = lua_newstate(LimitedAlloc, memory_.get());
  if (L_ != nullptr) lua_atpanic(L_, Panic);
}

LuaState::~LuaState() {
  if (L_ != nullptr) lua_close(L_);
}

namespace {

const char* kEventNames[] = {"accept", "update", "pause_request", "resume_request"};

// What loading one rule file in a state produced. Plain data: it crosses lua_pcall.
struct LoadJob {
  const char* bytecode;
  size_t size;
  const char* name;
  uint32_t events = 0xF;
  int decide_ref = LUA_NOREF;
  int rule_ref = LUA_NOREF;  // the value the file returned
  int env_ref = LUA_NOREF;
  int tests_ref = LUA_NOREF;
  int upvalues_ref = LUA_NOREF;
};

[[noreturn]] void RaiseRuleError(lua_State* L, const char* fmt, const char* name, const char* a,
                                 const char* b = "") {
  lua_pushfstring(L, fmt, name, a, b);
  lua_error(L);
  std::abort();  // not reached
}

// Runs a rule file's top level in its own environment and checks what it returns.
int LoadRuleProtected(lua_State* L) {
  auto* job = static_cast<LoadJob*>(lua_touserdata(L, 1));
  if (luaL_loadbufferx(L, job->bytecode, job->size, job->name, "b") != LUA_OK) lua_error(L);
  int chunk = lua_gettop(L);
  PushRuleEnvironment(L);
  int env = lua_gettop(L);
  lua_pushvalue(L, env);
  lua_setupvalue(L, chunk, 1);  // _ENV
  lua_pushvalue(L, chunk);
  lua_call(L, 0, 1);
  int rule = lua_gettop(L);
  if (lua_type(L, rule) == LUA_TFUNCTION) {
    lua_pushvalue(L, rule);
    job->decide_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else if (lua_type(L, rule) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, rule) != 0) {
      lua_pop(L, 1);
      const char* key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
      static const char* kFields[] = {"name", "description", "events", "decide", "tests"};
      bool known = false;
      for (const char* f : kFields) known = known || (key && std::strcmp(key, f) == 0);
      if (!known) {
        RaiseRuleError(L,
                       "%s: unknown field %s%s in the rule table (expected name, description, "
                       "events, decide, tests)",
                       job->name, key ? key : "of type ", key ? "" : luaL_typename(L, -1));
      }
    }
    for (const char* f : {"name", "description"}) {
      int t = lua_getfield(L, rule, f);
      if (t != LUA_TNIL && t != LUA_TSTRING) {
        RaiseRuleError(L, "%s: %s must be a string, got %s", job->name, f, luaL_typename(L, -1));
      }
      lua_pop(L, 1);
    }
    if (lua_getfield(L, rule, "decide") != LUA_TFUNCTION) {
      RaiseRuleError(L,
                     "%s: the rule table needs a decide function (decide = function(task, ctx) "
                     "... end), got %s",
                     job->name, luaL_typename(L, -1));
    }
    job->decide_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    int t = lua_getfield(L, rule, "events");
    if (t == LUA_TTABLE) {
      job->events = 0;
      lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
      for (lua_Integer i = 1; i <= n; ++i) {
        lua_rawgeti(L, -1, i);
        const char* ev = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
        int bit = -1;
        for (int e = 0; e < 4 && ev; ++e) {
          if (std::strcmp(ev, kEventNames[e]) == 0) bit = e;
        }
        if (bit < 0) {
          RaiseRuleError(L,
                         "%s: events: unknown event %s (expected accept, update, pause_request "
                         "or resume_request)",
                         job->name, ev ? lua_pushfstring(L, "\"%s\"", ev) : luaL_typename(L, -1));
        }
        job->events |= 1u << bit;
        lua_pop(L, 1);
      }
      if (n == 0)
        RaiseRuleError(L, "%s: events is empty: list the events the rule applies to", job->name,
                       "");
    } else if (t != LUA_TNIL) {
      RaiseRuleError(L, "%s: events must be a list of event names, got %s", job->name,
                     luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    t = lua_getfield(L, rule, "tests");
    if (t == LUA_TTABLE) {
      job->tests_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else if (t != LUA_TNIL) {
      RaiseRuleError(L, "%s: tests must be a list of test tables, got %s", job->name,
                     luaL_typename(L, -1));
    } else {
      lua_pop(L, 1);
    }
  } else {
    RaiseRuleError(L, "%s: a rule file must return a rule table or a decide function, got %s",
                   job->name, luaL_typename(L, rule));
  }
  lua_pushvalue(L, rule);
  job->rule_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, env);
  job->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

// Makes everything the rule file built at load read-only, and records the upvalues to restore
// after each decision.
int FreezeRuleProtected(lua_State* L) {
  auto* job = static_cast<LoadJob*>(lua_touserdata(L, 1));
  lua_newtable(L);
  int upvalues = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, job->rule_ref);
  Freeze(L, -1, upvalues);
  lua_rawgeti(L, LUA_REGISTRYINDEX, job->env_ref);
  Freeze(L, -1, upvalues);
  MarkAsGlobals(L, -1);
  lua_settop(L, upvalues);
  job->upvalues_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

struct SandboxJob {
  const LuaProgram* program;
};

int OpenSandboxProtected(lua_State* L) {
  auto* job = static_cast<SandboxJob*>(lua_touserdata(L, 1));
  OpenSandbox(L, job->program->features, job->program->data);
  return 0;
}

// Calls decide(task, ctx) with the evaluation's views; inside lua_pcall so that an allocation
// failure while making the views is caught like any other error.
int CallDecide(lua_State* L) {
  PushTaskArgument(L);
  PushContextArgument(L);
  lua_call(L, 2, 1);
  return 1;
}

// Reads the inline tests of one rule (a raw table, before freezing) into RuleTestCases.
struct CollectJob {
  size_t rule;
  const char* name;
  std::vector<RuleTestCase>* out;
};

std::string StringField(lua_State* L, int t, const char* key) {
  lua_getfield(L, t, key);
  std::string s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  lua_pop(L, 1);
  return s;
}

int CollectTestsBody(lua_State* L, std::string* error) {
  auto* job = static_cast<CollectJob*>(lua_touserdata(L, 1));
  int tests = 2;
  lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, tests));
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_settop(L, 2);
    std::string where = std::string(job->name) + ": tests[" + std::to_string(i) + "]";
    if (lua_rawgeti(L, tests, i) != LUA_TTABLE) {
      *error = where + ": expected a test table, got " + luaL_typename(L, -1);
      return -1;
    }
    int t = lua_gettop(L);
    RuleTestCase tc;
    tc.rule = job->rule;
    tc.name = StringField(L, t, "name");
    if (tc.name.empty()) tc.name = "tests[" + std::to_string(i) + "]";
    where = std::string(job->name) + ": test \"" + tc.name + "\"";
    tc.expect = StringField(L, t, "expect");
    if (tc.expect != "record" && tc.expect != "skip" && tc.expect != "pause" &&
        tc.expect != "pass") {
      *error = where + ": expect must be \"record\", \"skip\", \"pause\" or \"pass\"";
      return -1;
    }
    tc.behavior = StringField(L, t, "behavior");
    if (!tc.behavior.empty() && tc.behavior != "skip" && tc.behavior != "silence") {
      *error = where + ": behavior must be \"skip\" or \"silence\"";
      return -1;
    }
    tc.reason = StringField(L, t, "reason");
    std::string event = StringField(L, t, "event");
    if (event.empty()) event = "accept";
    auto parsed = ParseEvent(event);
    if (!parsed) {
      *error = where + ": unknown event \"" + event + "\"";
      return -1;
    }
    tc.event = *parsed;
    lua_getfield(L, t, "now");
    if (lua_isinteger(L, -1)) {
      tc.has_now = true;
      tc.now = lua_tointeger(L, -1);
    } else if (!lua_isnil(L, -1)) {
      *error = where + ": now must be unix seconds (an integer)";
      return -1;
    }
    lua_pop(L, 1);
    std::string request = "{\"event\":";
    AppendJsonString(&request, event);
    request += ",\"task\":";
    lua_getfield(L, t, "task");
    std::string why;
    if (lua_isnil(L, -1)) {
      request += "{}";
    } else if (lua_type(L, -1) != LUA_TTABLE || !AppendLuaJson(L, -1, &request, &why)) {
      *error = where + ": task must be a table like a Flex task" + (why.empty() ? "" : ": " + why);
      return -1;
    }
    lua_pop(L, 1);
    lua_getfield(L, t, "worker");
    if (!lua_isnil(L, -1)) {
      request += ",\"worker\":";
      if (lua_type(L, -1) != LUA_TTABLE || !AppendLuaJson(L, -1, &request, &why)) {
        *error = where + ": worker must be a table" + (why.empty() ? "" : ": " + why);
        return -1;
      }
    }
    lua_pop(L, 1);
    request += "}";
    tc.request = std::move(request);
    job->out->push_back(std::move(tc));
  }
  return 0;
}

std::string LimitName(const RuleLimits& limits) {
  return std::to_string(limits.memory_kb) + " KB per Lua state";
}

}  // namespace

// One thread's Lua state for one policy.
class LuaRuleState : public PolicyThreadState {
 public:
  // Builds the state: the sandbox, then every rule file's top level. When `collect_tests` is
  // given, each rule's inline tests are appended to it. Errors name the file and line.
  static std::unique_ptr<LuaRuleState> Build(std::shared_ptr<const LuaProgram> program,
                                             Status* status,
                                             std::vector<RuleTestCase>* collect_tests,
                                             std::vector<uint32_t>* events) {
    auto s = std::unique_ptr<LuaRuleState>(new LuaRuleState(std::move(program)));
    *status = s->Init(collect_tests, events);
    return s;
  }

  void Evaluate(size_t index, const RuleInput& in, RuleVerdict* out);
  size_t memory_used() { return state_.memory().used; }
  // Every evaluation on this state fails with `why` (the state could not be built).
  void MarkBroken(Status why) { broken_ = std::move(why); }

 private:
  explicit LuaRuleState(std::shared_ptr<const LuaProgram> program)
      : program_(std::move(program)), state_(program_->limits.memory_kb * 1024) {}

  Status Init(std::vector<RuleTestCase>* collect_tests, std::vector<uint32_t>* events);
  // Arms the limits for one run of rule code. A decision's allocations are charged to its
  // budget; loading the data files and rule files is not, and a rule file's top level gets at
  // least kLoadTimeMs (it runs once per state, off the decisions' clock).
  static constexpr uint64_t kLoadTimeMs = 10000;
  void ArmBudget(bool decision = false) {
    host_.instructions_left = static_cast<int64_t>(program_->limits.instructions);
    host_.budget_exceeded = false;
    host_.time_exceeded = false;
    host_.budget_where[0] = '\0';
    uint64_t ms =
        decision ? program_->limits.time_ms : std::max(program_->limits.time_ms, kLoadTimeMs);
    host_.time_limit = std::chrono::milliseconds(ms);
    host_.deadline = {};
    armed_time_ms_ = decision ? 0 : ms;
    state_.memory().refused = false;
    state_.memory().charge = decision ? &host_ : nullptr;
    lua_sethook(state_.get(), CountHook, LUA_MASKCOUNT, host_.hook_step);
  }
  // The message of a failed lua_pcall (rc != LUA_OK), with limits named.
  std::string Failure(int rc, const std::string& name) {
    lua_State* L = state_.get();
    if (host_.budget_exceeded) {
      std::string where = host_.budget_where[0] ? host_.budget_where : name;
      if (host_.time_exceeded) {
        return where + ": time limit exceeded (" +
               (armed_time_ms_ ? std::to_string(armed_time_ms_) + " ms at load)"
                               : std::to_string(program_->limits.time_ms) + " ms per decision)");
      }
      return where + ": instruction limit exceeded (" +
             std::to_string(program_->limits.instructions) + " instructions per decision)";
    }
    if (rc == LUA_ERRMEM || state_.memory().refused) {
      return name + ": memory limit exceeded (" + LimitName(program_->limits) + ")";
    }
    // error() messages carry task values; they reach the log.
    size_t n = 0;
    const char* msg = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : nullptr;
    return msg ? EscapeForLog(std::string_view(msg, n)) : name + ": error";
  }

  struct LoadedRule {
    std::string name;
    int decide_ref = LUA_NOREF;
    int upvalues_ref = LUA_NOREF;
    int upvalue_count = 0;
  };

  std::shared_ptr<const LuaProgram> program_;
  HostContext host_;  // declared before state_: the state is closed first
  LuaState state_;
  std::vector<LoadedRule> rules_;
  Status broken_;
  uint64_t armed_time_ms_ = 0;  // the time limit of a load step; 0 during a decision
};

Status LuaRuleState::Init(std::vector<RuleTestCase>* collect_tests, std::vector<uint32_t>* events) {
  lua_State* L = state_.get();
  if (L == nullptr) return Status::InvalidPolicy("cannot create a Lua state: out of memory");
  *static_cast<HostContext**>(lua_getextraspace(L)) = &host_;
  host_.state = L;
  host_.default_pause_behavior = program_->default_pause_behavior;
  host_.copy_task = program_->passing.load() == TaskPassing::kCopy;
  // Precise enough for small budgets, cheap for large ones.
  host_.hook_step = program_->limits.instructions >= 100000 ? 1000 : 100;
  host_.instruction_limit = static_cast<int64_t>(program_->limits.instructions);

  SandboxJob sandbox{program_.get()};
  lua_pushcfunction(L, OpenSandboxProtected);
  lua_pushlightuserdata(L, &sandbox);
  ArmBudget();
  int rc = lua_pcall(L, 1, 0, 0);
  if (rc != LUA_OK) {
    std::string why = rc == LUA_ERRMEM ? "memory limit exceeded (" + LimitName(program_->limits) +
                                             ") while loading the data files"
                                       : Failure(rc, "sandbox");
    return Status::InvalidPolicy("cannot build the Lua rule state: " + why);
  }
  for (size_t i = 0; i < program_->rules.size(); ++i) {
    const LuaProgram::RuleFile& file = program_->rules[i];
    LoadJob job{file.bytecode.data(), file.bytecode.size(), file.name.c_str()};
    lua_settop(L, 0);
    lua_pushcfunction(L, MessageHandler);
    lua_pushcfunction(L, LoadRuleProtected);
    lua_pushlightuserdata(L, &job);
    ArmBudget();
    rc = lua_pcall(L, 1, 0, 1);
    if (rc != LUA_OK) return Status::InvalidPolicy(Failure(rc, file.name));
    if (collect_tests != nullptr && job.tests_ref != LUA_NOREF) {
      CollectJob collect{i, file.name.c_str(), collect_tests};
      lua_settop(L, 1);
      lua_pushcfunction(L, LuaBoundary<CollectTestsBody>);
      lua_pushlightuserdata(L, &collect);
      lua_rawgeti(L, LUA_REGISTRYINDEX, job.tests_ref);
      rc = lua_pcall(L, 2, 0, 1);
      if (rc != LUA_OK) return Status::InvalidPolicy(Failure(rc, file.name));
    }
    if (events != nullptr) events->push_back(job.events);
    lua_settop(L, 1);
    lua_pushcfunction(L, FreezeRuleProtected);
    lua_pushlightuserdata(L, &job);
    rc = lua_pcall(L, 1, 0, 1);
    if (rc != LUA_OK) {
      std::string why = Failure(rc, file.name);  // freezing runs no rule line: name the file
      return Status::InvalidPolicy(why.rfind(file.name, 0) == 0 ? why : file.name + ": " + why);
    }
    for (int ref : {job.rule_ref, job.env_ref, job.tests_ref}) {
      if (ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, ref);
    }
    LoadedRule loaded;
    loaded.name = file.name;
    loaded.decide_ref = job.decide_ref;
    loaded.upvalues_ref = job.upvalues_ref;
    lua_rawgeti(L, LUA_REGISTRYINDEX, job.upvalues_ref);
    loaded.upvalue_count = static_cast<int>(lua_rawlen(L, -1) / 3);
    lua_pop(L, 1);
    rules_.push_back(std::move(loaded));
  }
  lua_settop(L, 0);
  ForgetNames(L);  // names tostring gave at load: the first decision numbers from 1 too
  lua_gc(L, LUA_GCCOLLECT);
  // Decisions make only short-lived garbage (views, strings): the generational mode suits it.
  lua_gc(L, LUA_GCGEN, 0, 0);
  return Status::Ok();
}

void LuaRuleState::Evaluate(size_t index, const RuleInput& in, RuleVerdict* out) {
  if (!broken_.ok()) {
    out->Fail(broken_.message());
    return;
  }
  lua_State* L = state_.get();
  const LoadedRule& rule = rules_[index];
  host_.input = &in;
  host_.rule_name = &rule.name;
  host_.next_token = 1;
  for (PendingDecision& slot : host_.slots) slot.token = 0;
  ArmBudget(/*decision=*/true);
  lua_settop(L, 0);
  lua_pushcfunction(L, MessageHandler);
  lua_pushcfunction(L, CallDecide);
  lua_rawgeti(L, LUA_REGISTRYINDEX, rule.decide_ref);
  int rc = lua_pcall(L, 1, 1, 1);
  if (rc != LUA_OK || host_.budget_exceeded || state_.memory().refused) {
    out->Fail(Failure(rc, rule.name));
  } else if (lua_isnil(L, -1)) {
    // pass
  } else if (lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
    uint64_t token = reinterpret_cast<uintptr_t>(lua_touserdata(L, -1));
    PendingDecision& slot = host_.slots[token % HostContext::kSlots];
    if (token < 1 || token >= host_.next_token || slot.token != token) {
      out->Fail(rule.name +
                ": decide returned a decision that was not made in this decision "
                "(return the value of recrules.record/skip/pause directly)");
    } else {
      out->reason_storage.swap(slot.reason);
      out->Decide(slot.action, out->reason_storage);
      out->has_pause_behavior = slot.has_behavior;
      out->pause_behavior = slot.behavior;
    }
  } else {
    out->Fail(rule.name +
              ": decide must return recrules.record{...}, recrules.skip{...}, "
              "recrules.pause{...} or nil, got a " +
              luaL_typename(L, -1) + " value");
  }
  lua_settop(L, 0);
  // Nothing a decision did may reach the next one: put back every top-level upvalue.
  if (rule.upvalue_count > 0 && !program_->keep_upvalues.load(std::memory_order_relaxed)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, rule.upvalues_ref);
    for (int i = 0; i < rule.upvalue_count; ++i) {
      lua_rawgeti(L, 1, 3 * i + 1);  // function
      lua_rawgeti(L, 1, 3 * i + 2);  // upvalue number
      int n = static_cast<int>(lua_tointeger(L, -1));
      lua_pop(L, 1);
      lua_getupvalue(L, 2, n);
      lua_rawgeti(L, 1, 3 * i + 3);  // the value at load
      if (!lua_rawequal(L, -1, -2) || lua_type(L, -1) != lua_type(L, -2)) {
        lua_setupvalue(L, 2, n);
        lua_pop(L, 2);
      } else {
        lua_pop(L, 3);
      }
    }
    lua_settop(L, 0);
  }
  ForgetNames(L);
  state_.memory().charge = nullptr;
  host_.generation++;  // views made during this evaluation are now stale
  host_.input = nullptr;
  if (state_.memory().refused || state_.memory().used > state_.memory().cap / 2) {
    lua_gc(L, LUA_GCCOLLECT);
  }
}

namespace {

class LuaRule : public Rule {
 public:
  LuaRule(std::string name, size_t index) : Rule(std::move(name)), index_(index) {}
  void SetEvents(uint32_t events) { set_events(events); }
  void Evaluate(const RuleInput& in, RuleVerdict* out) const override {
    if (in.thread_state == nullptr) {
      out->Fail(name() + ": no Lua state for this thread (a bug in recrules)");
      return;
    }
    static_cast<LuaRuleState*>(in.thread_state)->Evaluate(index_, in, out);
  }

 private:
  size_t index_;
};

Status LoadDataFiles(PolicyConfig* config, LuaProgram* program) {
  std::string dir = config->dir + "/data";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::Ok();
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0 && n[0] != '.') names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::string rel = "data/" + n;
    if (Status inside = CheckPolicyFile(config->dir, rel, PolicyFileKind::kData); !inside.ok()) {
      return Status::InvalidPolicy(rel + ": " + inside.message());
    }
    auto text = ReadFile(dir + "/" + n);
    if (!text.ok()) return Status::InvalidPolicy(rel + ": " + text.status().message());
    auto value = ParsePolicyJson(*text, rel);
    if (!value.ok()) return value.status();
    program->data.emplace_back(n.substr(0, n.size() - 5), std::move(value).value());
    config->sources.push_back({rel, std::move(text).value()});
  }
  return Status::Ok();
}

int DumpWriter(lua_State*, const void* p, size_t size, void* ud) {
  static_cast<std::string*>(ud)->append(static_cast<const char*>(p), size);
  return 0;
}

std::string Describe(const RuleVerdict& v) {
  switch (v.kind) {
    case RuleVerdict::Kind::kPass:
      return "pass";
    case RuleVerdict::Kind::kError:
      return "error: " + v.error;
    case RuleVerdict::Kind::kDecide:
      break;
  }
  std::string s = ActionName(v.action);
  if (v.action == Action::kPause && v.has_pause_behavior) {
    s += std::string(" (") + PauseBehaviorName(v.pause_behavior) + ")";
  }
  return s + ": " + std::string(v.reason);
}

}  // namespace

bool IsLuaRuleName(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".lua") == 0;
}

Result<std::unique_ptr<Rule>> MakeLuaRule(const std::string& name, const std::string& where,
                                          CompiledPolicy* policy) {
  PolicyConfig& c = policy->config;
  if (!IsLuaRuleName(name)) {
    return Status::InvalidPolicy(c.file + ": " + where + ": unknown rule \"" + name +
                                 "\" (expected \"builtin:...\" or a .lua file)");
  }
  if (name.front() == '/' || name == ".." || name.rfind("../", 0) == 0 ||
      name.find("/../") != std::string::npos) {
    return Status::InvalidPolicy(c.file + ": " + where + ": \"" + name +
                                 "\" must be a path inside the policy folder");
  }
  if (Status inside = CheckPolicyFile(c.dir, name, PolicyFileKind::kRule); !inside.ok()) {
    return Status::InvalidPolicy(c.file + ": " + where + ": \"" + name + "\" " + inside.message());
  }
  auto text = ReadFile(c.dir + "/" + name);
  if (!text.ok()) {
    return Status::InvalidPolicy(c.file + ": " + where + ": " + text.status().message());
  }
  std::string bytecode;
  {
    LuaState scratch(size_t(256) << 20);
    lua_State* L = scratch.get();
    if (L == nullptr) return Status::Internal("cannot create a Lua state");
    std::string chunkname = "=" + name;
    if (luaL_loadbufferx(L, text->data(), text->size(), chunkname.c_str(), "t") != LUA_OK) {
      std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "cannot load";
      return Status::InvalidPolicy(msg);
    }
    lua_dump(L, DumpWriter, &bytecode, 0);
  }
  if (!policy->lua) policy->lua = std::make_shared<LuaProgram>();
  LuaProgram::RuleFile file;
  file.name = name;
  file.bytecode = std::move(bytecode);
  file.policy_index = policy->rules.size();
  size_t index = policy->lua->rules.size();
  policy->lua->rules.push_back(std::move(file));
  c.sources.push_back({name, std::move(text).value()});
  return std::unique_ptr<Rule>(new LuaRule(name, index));
}

Status FinishLuaPolicy(CompiledPolicy* policy, bool run_tests) {
  if (!policy->lua) return Status::Ok();
  LuaProgram& program = *policy->lua;
  program.features = policy->config.features;
  program.limits = policy->config.limits;
  program.default_pause_behavior = policy->default_pause_behavior;
  Status s = LoadDataFiles(&policy->config, &program);
  if (!s.ok()) return s;
  std::shared_ptr<const LuaProgram> shared = policy->lua;
  std::vector<uint32_t> events;
  std::vector<RuleTestCase> tests;
  LuaRuleState::Build(shared, &s, &tests, &events);
  if (!s.ok()) return s;
  program.tests = std::move(tests);
  for (size_t i = 0; i < program.rules.size(); ++i) {
    program.rules[i].events = events[i];
    static_cast<LuaRule*>(policy->rules[program.rules[i].policy_index].get())->SetEvents(events[i]);
  }
  policy->make_thread_state = [shared]() -> std::unique_ptr<PolicyThreadState> {
    Status status;
    auto state = LuaRuleState::Build(shared, &status, nullptr, nullptr);
    if (!status.ok()) {
      // The same program built once at load; only an unusual failure (memory) lands here.
      state->MarkBroken(status);
    }
    return state;
  };
  if (!run_tests) return Status::Ok();
  for (const RuleTestResult& r : RunLuaRuleTests(*policy, "")) {
    if (!r.passed) {
      return Status::InvalidPolicy(r.rule + ": inline test \"" + r.test + "\" failed: expected " +
                                   r.expected + ", got " + r.actual);
    }
  }
  return Status::Ok();
}

std::vector<RuleTestResult> RunLuaRuleTests(const CompiledPolicy& policy,
                                            const std::string& filter) {
  std::vector<RuleTestResult> results;
  if (!policy.lua || !policy.make_thread_state) return results;
  const LuaProgram& program = *policy.lua;
  std::unique_ptr<PolicyThreadState> state = policy.make_thread_state();
  for (const RuleTestCase& tc : program.tests) {
    const LuaProgram::RuleFile& file = program.rules[tc.rule];
    if (!filter.empty() && file.name.find(filter) == std::string::npos &&
        tc.name.find(filter) == std::string::npos) {
      continue;
    }
    RuleTestResult r;
    r.rule = file.name;
    r.test = tc.name;
    r.expected = tc.expect;
    if (!tc.behavior.empty()) r.expected += " (" + tc.behavior + ")";
    if (!tc.reason.empty()) r.expected += " with a reason containing \"" + tc.reason + "\"";
    auto request = ParseRequest(tc.request);
    if (!request.ok()) {
      r.actual = "error: the test's task is not a valid task: " + request.status().message();
      results.push_back(std::move(r));
      continue;
    }
    const Rule& rule = *policy.rules[file.policy_index];
    RuleVerdict v;
    RuleInput in{DataOf(request->task).view, tc.event,
                 tc.has_now ? tc.now : int64_t(std::time(nullptr)), policy, state.get()};
    auto t0 = std::chrono::steady_clock::now();
    if (rule.AppliesTo(tc.event)) rule.Evaluate(in, &v);
    r.elapsed_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (v.kind == RuleVerdict::Kind::kDecide && tc.event == Event::kAccept &&
        v.action == Action::kPause) {
      v.Fail(rule.name() + ": returned pause, which is not a valid decision for the accept event");
    }
    r.actual = rule.AppliesTo(tc.event)
                   ? Describe(v)
                   : std::string("pass (the rule does not apply to ") + EventName(tc.event) + ")";
    bool action_ok = tc.expect == "pass" ? v.kind == RuleVerdict::Kind::kPass
                                         : v.kind == RuleVerdict::Kind::kDecide &&
                                               tc.expect == ActionName(v.action);
    bool behavior_ok = tc.behavior.empty() ||
                       (v.has_pause_behavior && tc.behavior == PauseBehaviorName(v.pause_behavior));
    bool reason_ok = tc.reason.empty() || v.reason.find(tc.reason) != std::string_view::npos;
    r.passed = action_ok && behavior_ok && reason_ok;
    results.push_back(std::move(r));
  }
  return results;
}

void SetTaskPassing(const CompiledPolicy& policy, TaskPassing passing) {
  if (policy.lua) policy.lua->passing.store(passing);
}

void SetKeepUpvaluesForTesting(const CompiledPolicy& policy, bool keep) {
  if (policy.lua) policy.lua->keep_upvalues.store(keep);
}

size_t LuaMemoryUsedForTesting(PolicyThreadState* state) {
  return static_cast<LuaRuleState*>(state)->memory_used();
}

}  // namespace recrules::detail

namespace recrules {

Result<RuleTestReport> RunRuleTests(const std::string& policy_path, const std::string& filter) {
  auto compiled = detail::CompilePolicy(policy_path, /*run_rule_tests=*/false);
  if (!compiled.ok()) return compiled.status();
  RuleTestReport report;
  report.policy_version = (*compiled)->version;
  report.results = detail::RunLuaRuleTests(**compiled, filter);
  return report;
}

}  // namespace recrules
