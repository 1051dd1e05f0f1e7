// The sandbox: an allowlisted, read-only global environment, per-rule environments, freezing of
// what a rule file builds at load, and the limits' hook and message handler.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "lua/lua_internal.h"

namespace recrules::detail {

namespace {

// Registry/metatable key marking a frozen table's metatable; its value is the table's store.
char kFrozenKey;
constexpr int kMaxFreezeDepth = 100;
constexpr int kMaxJsonDepth = 100;

int ReadOnlyTableBody(lua_State* L, std::string* error) {
  const char* key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : nullptr;
  *error = std::string("attempt to modify a read-only table") +
           (key ? std::string(" (field '") + key + "')" : std::string()) +
           ": tables built when the rule file loads, the task, ctx and recrules.data are "
           "read-only";
  return -1;
}

int GlobalWriteBody(lua_State* L, std::string* error) {
  const char* key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
  *error = std::string("attempt to write global '") + key +
           "' during a decision: rules keep no state between decisions (use a local)";
  return -1;
}

int UndeclaredGlobalBody(lua_State* L, std::string* error) {
  const char* key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
  *error = std::string("attempt to read undeclared global '") + key + "'";
  return -1;
}

// __len of a frozen table: the length of its store.
int FrozenLenBody(lua_State* L, std::string*) {
  lua_getmetatable(L, 1);
  lua_rawgetp(L, -1, &kFrozenKey);
  lua_pushinteger(L, static_cast<lua_Integer>(lua_rawlen(L, -1)));
  return 1;
}

// next() over a frozen table's store, so pairs works without exposing the store.
int FrozenNextBody(lua_State* L, std::string* error) {
  if (!IsFrozen(L, 1)) {
    *error = "bad argument #1 to iterator (read-only table expected)";
    return -1;
  }
  lua_settop(L, 2);
  lua_getmetatable(L, 1);
  lua_rawgetp(L, -1, &kFrozenKey);  // stack: t, key, mt, store
  lua_pushvalue(L, 2);
  if (lua_next(L, 4) == 0) {
    lua_pushnil(L);
    return 1;
  }
  return 2;
}

int FrozenPairsBody(lua_State* L, std::string*) {
  lua_pushcfunction(L, LuaBoundary<FrozenNextBody>);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// rawset that refuses read-only tables (otherwise it would write past __newindex).
int SafeRawsetBody(lua_State* L, std::string* error) {
  if (lua_type(L, 1) != LUA_TTABLE) {
    *error = "bad argument #1 to 'rawset' (table expected)";
    return -1;
  }
  if (IsFrozen(L, 1)) {
    *error = "attempt to modify a read-only table with rawset";
    return -1;
  }
  if (lua_isnoneornil(L, 2)) {
    *error = "bad argument #2 to 'rawset' (index is nil)";
    return -1;
  }
  lua_settop(L, 3);
  lua_rawset(L, 1);
  lua_settop(L, 1);
  return 1;
}

// load restricted to text chunks given as strings (a reader function could feed it without
// end); the default environment is the read-only sandbox. Compiling is charged by the
// source's size.
constexpr double kSourceBytesPerInstruction = 4;

int SafeLoadBody(lua_State* L, std::string* error) {
  int n = lua_gettop(L);
  if (lua_type(L, 1) != LUA_TSTRING) {
    *error = std::string("bad argument #1 to 'load' (a string expected, got ") +
             luaL_typename(L, 1) + "; reader functions are not available to rules)";
    return -1;
  }
  size_t size = 0;
  lua_tolstring(L, 1, &size);
  if (!ChargeWork(L, double(size) / kSourceBytesPerInstruction)) {
    return LimitExceeded(L, "load of a " + std::to_string(size) + "-byte chunk", error);
  }
  lua_pushvalue(L, lua_upvalueindex(1));  // the real load
  lua_pushvalue(L, 1);
  if (n >= 2)
    lua_pushvalue(L, 2);
  else
    lua_pushnil(L);
  lua_pushliteral(L, "t");
  int args = 3;
  if (n >= 4) {
    lua_pushvalue(L, 4);
    args = 4;
  }
  lua_call(L, args, 2);
  return 2;
}

// setmetatable that refuses __gc: a finalizer would run rule code outside any decision and
// outside the instruction budget.
int SafeSetmetatableBody(lua_State* L, std::string* error) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    bool has_gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (has_gc) {
      *error = "setmetatable: __gc metamethods are not available to rules";
      return -1;
    }
  }
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

// os.time() and os.date(fmt) without a time use the decision's clock (ctx.now), so a pinned
// clock (--now, inline tests) pins them too.
int ClockNow(lua_State* L, lua_Integer* now) {
  HostContext* h = Host(L);
  if (h->input != nullptr) {
    *now = h->input->now_unix;
    return 1;
  }
  return 0;
}

int SafeTimeBody(lua_State* L, std::string*) {
  lua_Integer now;
  if (lua_isnoneornil(L, 1) && ClockNow(L, &now)) {
    lua_pushinteger(L, now);
    return 1;
  }
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, 1);
  return 1;
}

int SafeDateBody(lua_State* L, std::string*) {
  lua_Integer now;
  if (lua_isnoneornil(L, 2) && ClockNow(L, &now)) {
    if (lua_isnoneornil(L, 1)) {
      lua_settop(L, 0);
      lua_pushliteral(L, "%c");
    }
    lua_settop(L, 1);
    lua_pushinteger(L, now);
  }
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, 1);
  return 1;
}

// Lua's pattern matcher runs in C, where the count hook never fires: a pattern that backtracks
// (".-b", "a*a*b") on a long subject would run for minutes inside one string.find. So each
// pattern function is charged its worst case against the instruction budget before it runs,
// and refused as over the budget when that worst case does not fit.
enum class PatternFn { kFind, kMatch, kGmatch, kGsub };
constexpr double kPatternStepsPerInstruction = 2;
constexpr double kReadBytesPerInstruction = 64;  // memchr/memcmp-like reading

// An upper bound of the matcher's steps for pattern `p` on a subject of `n` bytes: every start
// position, times the pattern's items, times (n + 1) for each repetition that has more pattern
// after it (it backtracks through every length) or that is a %b or a back-reference, times 2 for
// each '?'. A repetition at the very end only runs forward.
double PatternWorstCase(std::string_view p, size_t n, bool anchor_allowed) {
  const double len = double(n) + 1;
  bool anchored = false;
  size_t i = 0;
  if (anchor_allowed && !p.empty() && p[0] == '^') {
    anchored = true;
    i = 1;
  }
  double items = 0, factor = 1;
  bool pending_repeat = false;  // the last repetition seen, until another item follows it
  while (i < p.size()) {
    char c = p[i];
    if (c == '(' || c == ')') {
      ++i;
      continue;
    }
    if (c == '$' && i + 1 == p.size()) break;
    if (pending_repeat) factor *= len;  // more pattern after a repetition: it backtracks
    pending_repeat = false;
    items += 1;
    bool single_char = true;
    if (c == '%' && i + 1 < p.size()) {
      char e = p[i + 1];
      if (e == 'b') {
        factor *= len;
        i += 4;
        continue;
      }
      if (e == 'f') {
        i += 2;
        single_char = false;
      } else if (e >= '0' && e <= '9') {
        factor *= len;
        i += 2;
        continue;
      } else {
        i += 2;
      }
    } else if (c == '[') {
      ++i;
      if (i < p.size() && p[i] == '^') ++i;
      if (i < p.size() && p[i] == ']') ++i;
      while (i < p.size() && p[i] != ']') i += p[i] == '%' ? 2 : 1;
      ++i;
    } else {
      ++i;
    }
    if (!single_char) {
      // %f[set]: the set follows.
      if (i < p.size() && p[i] == '[') {
        ++i;
        if (i < p.size() && p[i] == '^') ++i;
        if (i < p.size() && p[i] == ']') ++i;
        while (i < p.size() && p[i] != ']') i += p[i] == '%' ? 2 : 1;
        ++i;
      }
      continue;
    }
    if (i < p.size()) {
      char q = p[i];
      if (q == '*' || q == '+' || q == '-') {
        pending_repeat = true;
        ++i;
      } else if (q == '?') {
        factor *= 2;
        ++i;
      }
    }
  }
  const double starts = anchored ? 1 : len;
  return starts * (items + 1) * factor + len;
}

template <PatternFn Fn>
int GuardedPatternBody(lua_State* L, std::string* error) {
  static const char* const kNames[] = {"string.find", "string.match", "string.gmatch",
                                       "string.gsub"};
  const bool plain = Fn == PatternFn::kFind && lua_toboolean(L, 4);
  if (lua_type(L, 1) == LUA_TSTRING && lua_type(L, 2) == LUA_TSTRING) {
    size_t n = 0, m = 0;
    lua_tolstring(L, 1, &n);
    const char* pattern = lua_tolstring(L, 2, &m);
    // A plain find compares the text at each start position: at worst n times m bytes.
    double cost =
        plain ? (double(n) + 1) * (double(m) + 1) / kReadBytesPerInstruction
              : PatternWorstCase(std::string_view(pattern, m), n, Fn != PatternFn::kGmatch) /
                    kPatternStepsPerInstruction;
    if (!ChargeWork(L, cost)) {
      return LimitExceeded(
          L, std::string(kNames[int(Fn)]) + " on a " + std::to_string(n) + "-byte subject", error);
    }
  }
  int args = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, args, LUA_MULTRET);
  return lua_gettop(L);
}

// Other library functions whose C work grows with an argument rather than with what they
// allocate (allocation is charged by the allocator): charged before they run, or, for those
// that return many values, by the values returned.
enum class Charged {
  kRep,         // string.rep(s, n, sep): n copies
  kByte,        // string.byte: the values returned
  kUnpack,      // table.unpack: the values returned
  kSelect,      // select(n, ...): the values returned
  kCodepoint,   // utf8.codepoint: the values returned
  kUtf8Len,     // utf8.len(s): reads s
  kUtf8Offset,  // utf8.offset(s, n): reads up to s
  kInsert,      // table.insert(t, pos, v): moves #t - pos elements
  kRemove,      // table.remove(t, pos): likewise
  kMove,        // table.move(a, f, e, t): e - f + 1 elements
  kSort,        // table.sort(t): n log n comparisons
  kConcat,      // table.concat(t, sep, i, j): j - i + 1 elements
};
constexpr double kValuesPerInstruction = 4;

double NumberArg(lua_State* L, int index, double otherwise) {
  return lua_type(L, index) == LUA_TNUMBER ? lua_tonumber(L, index) : otherwise;
}

double LengthOf(lua_State* L, int index) {
  return lua_type(L, index) == LUA_TTABLE || lua_type(L, index) == LUA_TSTRING
             ? double(lua_rawlen(L, PushIterable(L, index)))
             : 0;
}

double ChargedCost(Charged fn, lua_State* L) {
  switch (fn) {
    case Charged::kRep: {
      size_t l = 0, lsep = 0;
      if (lua_type(L, 1) == LUA_TSTRING) lua_tolstring(L, 1, &l);
      if (lua_type(L, 3) == LUA_TSTRING) lua_tolstring(L, 3, &lsep);
      double n = std::max(0.0, NumberArg(L, 2, 0));
      return n / kValuesPerInstruction + n * double(l + lsep) / kBytesPerInstruction;
    }
    case Charged::kUtf8Len:
    case Charged::kUtf8Offset: {
      size_t n = 0;
      if (lua_type(L, 1) == LUA_TSTRING) lua_tolstring(L, 1, &n);
      return double(n) / kReadBytesPerInstruction;
    }
    case Charged::kInsert:
      return lua_gettop(L) >= 3 ? LengthOf(L, 1) / kValuesPerInstruction : 0;
    case Charged::kRemove:
      return lua_gettop(L) >= 2 ? LengthOf(L, 1) / kValuesPerInstruction : 0;
    case Charged::kMove: {
      double f = NumberArg(L, 2, 0), e = NumberArg(L, 3, 0);
      return std::max(0.0, e - f + 1) / kValuesPerInstruction;
    }
    case Charged::kSort: {
      double n = LengthOf(L, 1);
      return n * std::log2(n + 2) / kValuesPerInstruction;
    }
    case Charged::kConcat: {
      double i = NumberArg(L, 3, 1);
      double j = lua_isnoneornil(L, 4) ? LengthOf(L, 1) : NumberArg(L, 4, 0);
      return std::max(0.0, j - i + 1) / kValuesPerInstruction;
    }
    case Charged::kByte:
    case Charged::kUnpack:
    case Charged::kSelect:
    case Charged::kCodepoint:
      break;
  }
  return 0;
}

template <Charged Fn>
int ChargedBody(lua_State* L, std::string* error) {
  static const char* const kNames[] = {"string.rep",  "string.byte",    "table.unpack",
                                       "select",      "utf8.codepoint", "utf8.len",
                                       "utf8.offset", "table.insert",   "table.remove",
                                       "table.move",  "table.sort",     "table.concat"};
  int args = lua_gettop(L);
  if (!ChargeWork(L, ChargedCost(Fn, L))) return LimitExceeded(L, kNames[int(Fn)], error);
  lua_settop(L, args);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, args, LUA_MULTRET);
  int results = lua_gettop(L);
  if (!ChargeWork(L, results / kValuesPerInstruction)) {
    return LimitExceeded(L, kNames[int(Fn)], error);
  }
  return results;
}

// --- names without addresses ---
// tostring of a table or function is "table: 0x55d0c0a8": an address, which tells one
// decision about the allocations of the previous ones. Rules get "table: 1" instead, numbered
// in order of first use within the decision.
char kNamesKey;

bool HasAddressName(lua_State* L, int index) {
  switch (lua_type(L, index)) {
    case LUA_TTABLE:
    case LUA_TFUNCTION:
    case LUA_TUSERDATA:
    case LUA_TLIGHTUSERDATA:
    case LUA_TTHREAD:
      break;
    default:
      return false;
  }
  if (luaL_getmetafield(L, index, "__tostring") != LUA_TNIL) {
    lua_pop(L, 1);
    return false;
  }
  return true;
}

void PushStableName(lua_State* L, int index) {
  index = lua_absindex(L, index);
  luaL_checkstack(L, 4, "naming a value");
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kNamesKey) != LUA_TTABLE) {
    Host(L)->names_used = true;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kNamesKey);
  }
  int names = lua_gettop(L);
  lua_pushvalue(L, index);
  if (lua_rawget(L, names) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_rawgeti(L, names, 0);
    lua_Integer n = lua_tointeger(L, -1) + 1;
    lua_pop(L, 1);
    lua_pushinteger(L, n);
    lua_rawseti(L, names, 0);
    lua_pushvalue(L, index);
    lua_pushinteger(L, n);
    lua_rawset(L, names);
    lua_pushinteger(L, n);
  }
  lua_Integer n = lua_tointeger(L, -1);
  lua_settop(L, names - 1);
  const char* kind = luaL_typename(L, index);
  if (luaL_getmetafield(L, index, "__name") == LUA_TSTRING) {
    kind = lua_tostring(L, -1);  // the metatable keeps it alive
  }
  if (lua_gettop(L) > names - 1) lua_pop(L, 1);
  lua_pushfstring(L, "%s: %I", kind, n);
}

int SafeTostringBody(lua_State* L, std::string* error) {
  if (lua_isnone(L, 1)) {
    *error = "bad argument #1 to 'tostring' (value expected)";
    return -1;
  }
  lua_settop(L, 1);
  if (HasAddressName(L, 1)) {
    PushStableName(L, 1);
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

// string.format: "%s" of such a value gets the same name as tostring; "%p" (an address) is
// refused.
int SafeFormatBody(lua_State* L, std::string* error) {
  size_t n = 0;
  const char* fmt = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &n) : nullptr;
  int arg = 1;
  for (size_t i = 0; fmt != nullptr && i < n; ++i) {
    if (fmt[i] != '%') continue;
    if (++i < n && fmt[i] == '%') continue;
    while (i < n && (fmt[i] == '-' || fmt[i] == '+' || fmt[i] == ' ' || fmt[i] == '#' ||
                     fmt[i] == '0' || fmt[i] == '.' || (fmt[i] >= '0' && fmt[i] <= '9'))) {
      ++i;
    }
    if (i >= n) break;
    ++arg;
    if (fmt[i] == 'p') {
      *error = "string.format: '%p' (an address) is not available to rules";
      return -1;
    }
    if (fmt[i] == 's' && arg <= lua_gettop(L) && HasAddressName(L, arg)) {
      PushStableName(L, arg);
      lua_replace(L, arg);
    }
  }
  int args = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, args, 1);
  return 1;
}

// Copies the fields `names` of the table at `from` into the table at `to`.
void CopyFields(lua_State* L, int from, int to, std::initializer_list<const char*> names) {
  from = lua_absindex(L, from);
  to = lua_absindex(L, to);
  for (const char* name : names) {
    lua_getfield(L, from, name);
    lua_setfield(L, to, name);
  }
}

// Replaces field `name` of table `t` with C closure `fn` whose upvalue is the old value.
void WrapField(lua_State* L, int t, const char* name, lua_CFunction fn) {
  t = lua_absindex(L, t);
  lua_getfield(L, t, name);
  lua_pushcclosure(L, fn, 1);
  lua_setfield(L, t, name);
}

void FreezeValue(lua_State* L, int index, int upvalues, int visited, int depth);

// A C function whose upvalues hold a table or userdata keeps state C code changes on every
// call (a string.gmatch iterator keeps its position): kept from load, it would carry that
// state from one decision to the next. The sandbox's own wrappers hold only functions.
void CheckCFunction(lua_State* L, int index) {
  for (int i = 1;; ++i) {
    if (lua_getupvalue(L, index, i) == nullptr) return;
    int t = lua_type(L, -1);
    lua_pop(L, 1);
    if (t == LUA_TTABLE || t == LUA_TUSERDATA || t == LUA_TTHREAD) {
      lua_pushliteral(L,
                      "the top level keeps a function with state (such as a string.gmatch "
                      "iterator), which would carry that state from one decision to the next: "
                      "make it inside decide");
      lua_error(L);
    }
  }
}

void WalkFunction(lua_State* L, int index, int upvalues, int visited, int depth) {
  index = lua_absindex(L, index);
  if (lua_iscfunction(L, index)) {
    CheckCFunction(L, index);
    return;
  }
  lua_pushvalue(L, index);
  if (lua_rawget(L, visited) != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, index);
  lua_pushboolean(L, 1);
  lua_rawset(L, visited);
  for (int i = 1;; ++i) {
    if (lua_getupvalue(L, index, i) == nullptr) break;
    // stack: ..., value
    int value = lua_gettop(L);
    FreezeValue(L, value, upvalues, visited, depth + 1);
    lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, upvalues));
    lua_pushvalue(L, index);
    lua_rawseti(L, upvalues, n + 1);
    lua_pushinteger(L, i);
    lua_rawseti(L, upvalues, n + 2);
    lua_pushvalue(L, value);
    lua_rawseti(L, upvalues, n + 3);
    lua_pop(L, 1);
  }
}

void FreezeTable(lua_State* L, int t, int upvalues, int visited, int depth) {
  t = lua_absindex(L, t);
  if (IsFrozen(L, t)) return;
  lua_pushvalue(L, t);
  if (lua_rawget(L, visited) != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  if (depth > kMaxFreezeDepth)
    luaL_error(L, "tables nested deeper than %d levels", kMaxFreezeDepth);
  luaL_checkstack(L, 12, "freezing tables");
  lua_pushvalue(L, t);
  lua_pushboolean(L, 1);
  lua_rawset(L, visited);

  // A metatable the rule set at load keeps working: a raw copy of it (with frozen values)
  // becomes the store's metatable. Its __index functions receive the store as `self`, so the
  // store is read-only too (and its metatable hidden).
  int user_meta = 0;
  if (lua_getmetatable(L, t)) {
    int mt = lua_gettop(L);
    lua_newtable(L);
    int copy = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, mt) != 0) {
      FreezeValue(L, -1, upvalues, visited, depth + 1);
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, copy);
    }
    lua_remove(L, mt);
    user_meta = lua_gettop(L);
  }
  lua_newtable(L);
  int store = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    // stack: key, value
    FreezeValue(L, -1, upvalues, visited, depth + 1);
    FreezeValue(L, -2, upvalues, visited, depth + 1);
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, store);  // store[key] = value
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, t);  // clearing a field during traversal is allowed
  }
  if (user_meta) {
    lua_pushcfunction(L, LuaBoundary<ReadOnlyTableBody>);
    lua_setfield(L, user_meta, "__newindex");
    lua_pushliteral(L, "read-only");
    lua_setfield(L, user_meta, "__metatable");
    lua_pushvalue(L, store);
    lua_rawsetp(L, user_meta, &kFrozenKey);
    lua_pushvalue(L, user_meta);
    lua_setmetatable(L, store);
  }
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, store);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, LuaBoundary<ReadOnlyTableBody>);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, LuaBoundary<FrozenLenBody>);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, LuaBoundary<FrozenPairsBody>);
  lua_setfield(L, -2, "__pairs");
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  lua_pushvalue(L, store);
  lua_rawsetp(L, -2, &kFrozenKey);
  lua_setmetatable(L, t);
  lua_settop(L, user_meta ? user_meta - 1 : store - 1);
}

void FreezeValue(lua_State* L, int index, int upvalues, int visited, int depth) {
  switch (lua_type(L, index)) {
    case LUA_TTABLE:
      FreezeTable(L, index, upvalues, visited, depth);
      break;
    case LUA_TFUNCTION:
      WalkFunction(L, index, upvalues, visited, depth);
      break;
    default:
      break;
  }
}

}  // namespace

int PushIterable(lua_State* L, int index) {
  index = lua_absindex(L, index);
  if (lua_getmetatable(L, index)) {
    if (lua_rawgetp(L, -1, &kFrozenKey) == LUA_TTABLE) {
      lua_remove(L, -2);
      return lua_gettop(L);
    }
    lua_pop(L, 2);
  }
  lua_pushvalue(L, index);
  return lua_gettop(L);
}

void MarkAsGlobals(lua_State* L, int index) {
  lua_getmetatable(L, index);
  lua_pushcfunction(L, LuaBoundary<GlobalWriteBody>);
  lua_setfield(L, -2, "__newindex");
  lua_pop(L, 1);
}

bool IsFrozen(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TTABLE || !lua_getmetatable(L, index)) return false;
  bool frozen = lua_rawgetp(L, -1, &kFrozenKey) != LUA_TNIL;
  lua_pop(L, 2);
  return frozen;
}

void Freeze(lua_State* L, int index, int upvalues_index) {
  index = lua_absindex(L, index);
  upvalues_index = lua_absindex(L, upvalues_index);
  lua_newtable(L);
  int visited = lua_gettop(L);
  FreezeValue(L, index, upvalues_index, visited, 0);
  lua_settop(L, visited - 1);
}

void PushJson(lua_State* L, const nlohmann::json& value, int depth) {
  if (depth > kMaxJsonDepth) luaL_error(L, "JSON nested deeper than %d levels", kMaxJsonDepth);
  luaL_checkstack(L, 4, "converting JSON");
  switch (value.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      lua_pushnil(L);
      break;
    case nlohmann::json::value_t::boolean:
      lua_pushboolean(L, value.get<bool>());
      break;
    case nlohmann::json::value_t::number_integer:
      lua_pushinteger(L, value.get<int64_t>());
      break;
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = value.get<uint64_t>();
      if (u <= uint64_t(INT64_MAX)) {
        lua_pushinteger(L, static_cast<lua_Integer>(u));
      } else {
        lua_pushnumber(L, static_cast<lua_Number>(u));
      }
      break;
    }
    case nlohmann::json::value_t::number_float:
      lua_pushnumber(L, value.get<double>());
      break;
    case nlohmann::json::value_t::string: {
      const std::string& s = value.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case nlohmann::json::value_t::array:
    case nlohmann::json::value_t::binary: {
      lua_createtable(L, static_cast<int>(value.size()), 0);
      lua_Integer i = 1;
      for (const auto& item : value) {
        PushJson(L, item, depth + 1);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case nlohmann::json::value_t::object:
      lua_createtable(L, 0, static_cast<int>(value.size()));
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (it->is_null()) continue;
        lua_pushlstring(L, it.key().data(), it.key().size());
        PushJson(L, *it, depth + 1);
        lua_rawset(L, -3);
      }
      break;
  }
}

int MessageHandler(lua_State* L) {
  if (lua_type(L, 1) == LUA_TSTRING) return 1;
  // Name the rule file and line of the innermost Lua function on the stack.
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); ++level) {
    if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      break;
    }
  }
  if (lua_gettop(L) == 1) lua_pushliteral(L, "");
  lua_pushfstring(L, "error object is a %s value (raise errors with a string message)",
                  luaL_typename(L, 1));
  lua_concat(L, 2);
  return 1;
}

namespace {

// Notes where a limit stopped the rule: "rule.lua:12", plus `detail` when given.
void NoteWhere(lua_State* L, lua_Debug* ar, const std::string& detail) {
  HostContext* h = Host(L);
  std::string where;
  if (ar != nullptr && lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
    where = std::string(ar->short_src) + ":" + std::to_string(ar->currentline);
  }
  if (!detail.empty()) where += (where.empty() ? "?" : "") + (" (" + detail + ")");
  size_t n = std::min(where.size(), sizeof h->budget_where - 1);
  std::memcpy(h->budget_where, where.data(), n);
  h->budget_where[n] = '\0';
}

// Reads the clock; the first read of an evaluation sets its deadline.
bool PastDeadline(HostContext* h) {
  auto now = std::chrono::steady_clock::now();
  if (h->deadline == std::chrono::steady_clock::time_point{}) {
    h->deadline = now + h->time_limit;
    return false;
  }
  return now >= h->deadline;
}

const char* LimitMessage(const HostContext* h) {
  return h->time_exceeded ? "time limit exceeded" : "instruction limit exceeded";
}

}  // namespace

void CountHook(lua_State* L, lua_Debug* ar) {
  HostContext* h = Host(L);
  h->instructions_left -= h->hook_step;
  if (!h->budget_exceeded) {
    if (h->instructions_left > 0 && !PastDeadline(h)) return;
    h->budget_exceeded = true;
    h->time_exceeded = h->instructions_left > 0;
    NoteWhere(L, ar, "");
    // From now on every instruction fails, so a pcall in the script cannot swallow the limit.
    lua_sethook(L, CountHook, LUA_MASKCOUNT, 1);
  } else if (h->budget_where[0] == '\0') {
    NoteWhere(L, ar, "");  // the allocator spent the budget, where it could not look
  }
  luaL_error(L, LimitMessage(h));
}

bool ChargeWork(lua_State* L, double instructions) {
  HostContext* h = Host(L);
  if (h->budget_exceeded) return false;
  if (instructions >= double(h->instructions_left)) {
    h->instructions_left = 0;
    return false;
  }
  h->instructions_left -= int64_t(instructions);
  // Large work is worth a look at the clock.
  if (instructions >= h->hook_step && PastDeadline(h)) {
    h->time_exceeded = true;
    return false;
  }
  return true;
}

int LimitExceeded(lua_State* L, const std::string& detail, std::string* error) {
  HostContext* h = Host(L);
  if (!h->budget_exceeded || h->budget_where[0] == '\0') {
    h->budget_exceeded = true;
    // The innermost Lua function with a line (a pcall may stand between).
    lua_Debug ar;
    bool found = false;
    for (int level = 1; !found && lua_getstack(L, level, &ar); ++level) {
      found = lua_getinfo(L, "l", &ar) && ar.currentline > 0;
    }
    NoteWhere(L, found ? &ar : nullptr, detail);
  }
  lua_sethook(L, CountHook, LUA_MASKCOUNT, 1);  // as the count hook does: no pcall escape
  *error = LimitMessage(h);
  return -1;
}

void ForgetNames(lua_State* L) {
  HostContext* h = Host(L);
  if (!h->names_used) return;
  h->names_used = false;
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kNamesKey);
}

std::string EscapeForLog(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    // C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F): some terminals read U+009B as CSI.
    bool c1 = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
              static_cast<unsigned char>(text[i + 1]) <= 0x9F;
    if (c >= 0x20 && c != 0x7F && !c1) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    char buf[8];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c1) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(text[++i]));
      out += buf;
    } else {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

void OpenSandbox(lua_State* L, const nlohmann::json& features,
                 const std::vector<std::pair<std::string, nlohmann::json>>& data) {
  static const luaL_Reg kLibs[] = {
      {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
      {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
      {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_OSLIBNAME, luaopen_os}};
  for (const luaL_Reg& lib : kLibs) {
    luaL_requiref(L, lib.name, lib.func, 0);
    lua_pop(L, 1);
  }
  lua_pushglobaltable(L);
  int real = lua_gettop(L);  // the full globals luaopen_base filled; never shown to rules
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int loaded = lua_gettop(L);

  lua_newtable(L);  // the sandbox's globals
  int env = lua_gettop(L);
  CopyFields(L, real, env,
             {"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
              "rawget", "rawlen", "tonumber", "type", "xpcall", "_VERSION"});
  lua_pushcfunction(L, LuaBoundary<SafeRawsetBody>);
  lua_setfield(L, env, "rawset");
  lua_getfield(L, real, "load");
  lua_pushcclosure(L, LuaBoundary<SafeLoadBody>, 1);
  lua_setfield(L, env, "load");
  lua_getfield(L, real, "setmetatable");
  lua_pushcclosure(L, LuaBoundary<SafeSetmetatableBody>, 1);
  lua_setfield(L, env, "setmetatable");
  lua_getfield(L, real, "tostring");
  lua_pushcclosure(L, LuaBoundary<SafeTostringBody>, 1);
  lua_setfield(L, env, "tostring");
  lua_getfield(L, real, "select");
  lua_pushcclosure(L, LuaBoundary<ChargedBody<Charged::kSelect>>, 1);
  lua_setfield(L, env, "select");

  lua_getfield(L, loaded, LUA_STRLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  // The same table is the strings' __index, so s:find(...) is guarded too.
  WrapField(L, -1, "find", LuaBoundary<GuardedPatternBody<PatternFn::kFind>>);
  WrapField(L, -1, "match", LuaBoundary<GuardedPatternBody<PatternFn::kMatch>>);
  WrapField(L, -1, "gmatch", LuaBoundary<GuardedPatternBody<PatternFn::kGmatch>>);
  WrapField(L, -1, "gsub", LuaBoundary<GuardedPatternBody<PatternFn::kGsub>>);
  WrapField(L, -1, "rep", LuaBoundary<ChargedBody<Charged::kRep>>);
  WrapField(L, -1, "byte", LuaBoundary<ChargedBody<Charged::kByte>>);
  WrapField(L, -1, "format", LuaBoundary<SafeFormatBody>);
  lua_setfield(L, env, LUA_STRLIBNAME);
  lua_getfield(L, loaded, LUA_TABLIBNAME);
  WrapField(L, -1, "unpack", LuaBoundary<ChargedBody<Charged::kUnpack>>);
  WrapField(L, -1, "insert", LuaBoundary<ChargedBody<Charged::kInsert>>);
  WrapField(L, -1, "remove", LuaBoundary<ChargedBody<Charged::kRemove>>);
  WrapField(L, -1, "move", LuaBoundary<ChargedBody<Charged::kMove>>);
  WrapField(L, -1, "sort", LuaBoundary<ChargedBody<Charged::kSort>>);
  WrapField(L, -1, "concat", LuaBoundary<ChargedBody<Charged::kConcat>>);
  lua_setfield(L, env, LUA_TABLIBNAME);
  lua_getfield(L, loaded, LUA_UTF8LIBNAME);
  WrapField(L, -1, "codepoint", LuaBoundary<ChargedBody<Charged::kCodepoint>>);
  WrapField(L, -1, "len", LuaBoundary<ChargedBody<Charged::kUtf8Len>>);
  WrapField(L, -1, "offset", LuaBoundary<ChargedBody<Charged::kUtf8Offset>>);
  lua_setfield(L, env, LUA_UTF8LIBNAME);
  lua_getfield(L, loaded, LUA_MATHLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "random");  // rules sample with recrules.sample: the same answer always
  lua_pushnil(L);
  lua_setfield(L, -2, "randomseed");
  lua_setfield(L, env, LUA_MATHLIBNAME);
  // os.clock is absent: process CPU time would tell a decision about the ones before it.
  lua_newtable(L);
  lua_getfield(L, loaded, LUA_OSLIBNAME);
  CopyFields(L, -1, -2, {"time", "date"});
  lua_pop(L, 1);
  WrapField(L, -1, "time", LuaBoundary<SafeTimeBody>);
  WrapField(L, -1, "date", LuaBoundary<SafeDateBody>);
  lua_setfield(L, env, LUA_OSLIBNAME);

  PushJson(L, features);
  lua_newtable(L);
  Freeze(L, -2, -1);
  lua_pop(L, 1);
  Host(L)->config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  PushRecrulesTable(L, data);
  lua_setfield(L, env, "recrules");

  // The string metatable stays the way strings find their methods; protect it.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);

  // Reading an undeclared global is an error: the sandbox's last __index.
  lua_newtable(L);
  lua_pushcfunction(L, LuaBoundary<UndeclaredGlobalBody>);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, env);

  lua_newtable(L);  // upvalues of library functions: none are Lua functions
  Freeze(L, env, -1);
  lua_pop(L, 1);
  MarkAsGlobals(L, env);

  lua_pushvalue(L, env);
  lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  lua_settop(L, real - 1);
}

void PushRuleEnvironment(lua_State* L) {
  lua_newtable(L);
  lua_createtable(L, 0, 2);
  lua_pushglobaltable(L);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

}  // namespace recrules::detail
