// The C API (recrules.h) over the C++ API. Every entry point catches C++ exceptions so that none
// crosses into C; strings handed to the caller are malloc'd so that recrules_free (free) releases
// them whatever C++ allocator is in use.
#include "recrules.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "recrules/engine.h"

using recrules::DecideOptions;
using recrules::Decision;
using recrules::Engine;
using recrules::EngineOptions;
using recrules::PolicyInfo;
using recrules::ReloadResult;
using recrules::Status;

extern "C" {
struct recrules_engine_t {
  std::unique_ptr<Engine> rep;
};
struct recrules_options_t {
  EngineOptions rep;
};
struct recrules_decide_options_t {
  DecideOptions rep;
};
}

namespace {

char* CopyString(std::string_view s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out == nullptr) return nullptr;
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return out;
}

// Stores `message` in *errptr (LevelDB's convention: a message already there is freed first).
void SaveError(char** errptr, std::string_view message) {
  if (errptr == nullptr) return;
  std::free(*errptr);
  *errptr = CopyString(message);
}

bool SaveError(char** errptr, const Status& s) {
  if (s.ok()) return false;
  SaveError(errptr, s.ToString());
  return true;
}

void SaveException(char** errptr) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    SaveError(errptr, "internal: out of memory");
  } catch (const std::exception& e) {
    SaveError(errptr, std::string("internal: ") + e.what());
  } catch (...) {
    SaveError(errptr, "internal: unknown exception");
  }
}

}  // namespace

extern "C" {

const char* recrules_library_version(void) {
  return RECRULES_LIBRARY_VERSION;
}

void recrules_free(void* ptr) {
  std::free(ptr);
}

recrules_options_t* recrules_options_create(void) {
  return new (std::nothrow) recrules_options_t;
}
void recrules_options_destroy(recrules_options_t* options) {
  delete options;
}
void recrules_options_set_watch_policy(recrules_options_t* options, unsigned char on) {
  options->rep.watch_policy = on != 0;
}
void recrules_options_set_max_request_bytes(recrules_options_t* options, size_t max_bytes) {
  options->rep.parse_limits.max_bytes = max_bytes;
}
void recrules_options_set_max_request_depth(recrules_options_t* options, size_t max_depth) {
  options->rep.parse_limits.max_depth = max_depth;
}

recrules_engine_t* recrules_open(const char* policy_path, const recrules_options_t* options,
                                 char** errptr) {
  if (policy_path == nullptr) {
    SaveError(errptr, "invalid_input: policy path is NULL");
    return nullptr;
  }
  try {
    auto engine = Engine::Open(policy_path, options ? options->rep : EngineOptions{});
    if (SaveError(errptr, engine.status())) return nullptr;
    return new recrules_engine_t{std::move(engine).value()};
  } catch (...) {
    SaveException(errptr);
    return nullptr;
  }
}

void recrules_close(recrules_engine_t* engine) {
  delete engine;
}

recrules_decide_options_t* recrules_decide_options_create(void) {
  return new (std::nothrow) recrules_decide_options_t;
}
void recrules_decide_options_destroy(recrules_decide_options_t* options) {
  delete options;
}
void recrules_decide_options_set_explain(recrules_decide_options_t* options, unsigned char on) {
  options->rep.explain = on != 0;
}
void recrules_decide_options_set_now(recrules_decide_options_t* options, int64_t unix_seconds) {
  options->rep.now_unix = unix_seconds;
}

char* recrules_decide(const recrules_engine_t* engine, const char* request, size_t request_len,
                      const recrules_decide_options_t* options, char** errptr) {
  if (request == nullptr) {
    SaveError(errptr, "invalid_input: request is NULL");
    return nullptr;
  }
  try {
    // One Decision per thread, so that a thread deciding in a loop reuses its buffers.
    thread_local Decision decision;
    Status s = engine->rep->Decide(std::string_view(request, request_len),
                                   options ? options->rep : DecideOptions{}, &decision);
    if (SaveError(errptr, s)) return nullptr;
    thread_local std::string json;
    json.clear();
    decision.AppendJson(&json);
    char* out = CopyString(json);
    if (out == nullptr) SaveError(errptr, "internal: out of memory");
    return out;
  } catch (...) {
    SaveException(errptr);
    return nullptr;
  }
}

int recrules_reload(recrules_engine_t* engine, char** errptr) {
  try {
    ReloadResult r = engine->rep->Reload("api");
    if (r.ok) return 1;
    SaveError(errptr, "invalid_policy: " + r.error);
    return 0;
  } catch (...) {
    SaveException(errptr);
    return 0;
  }
}

char* recrules_policy_version(const recrules_engine_t* engine) {
  try {
    return CopyString(engine->rep->PolicyVersion());
  } catch (...) {
    return nullptr;
  }
}

char* recrules_policy_info(const recrules_engine_t* engine) {
  try {
    return CopyString(engine->rep->Info().ToJson());
  } catch (...) {
    return nullptr;
  }
}

int recrules_subscribe(recrules_engine_t* engine, recrules_reload_callback callback, void* arg) {
  try {
    return engine->rep->Subscribe([callback, arg](const ReloadResult& r) {
      // The listener runs inside the engine (C++), so nothing may escape from here.
      try {
        callback(arg, r.ToJson().c_str());
      } catch (...) {
      }
    });
  } catch (...) {
    return 0;
  }
}

void recrules_unsubscribe(recrules_engine_t* engine, int id) {
  try {
    engine->rep->Unsubscribe(id);
  } catch (...) {
  }
}

}  // extern "C"
