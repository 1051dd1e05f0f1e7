/* recrules C API: decide whether a Twilio Flex call is recorded, skipped or paused, from C or
 * any language with a C FFI. A thin layer over the C++ API in <recrules/engine.h>.
 *
 * Conventions (the same for every function):
 *  - Handles are opaque. Whoever creates a handle destroys it with the matching function.
 *  - Requests and answers are JSON text. The request is the one `POST /v1/decide` takes:
 *    {"event": "accept", "task": {...}, "worker": {...}} or a bare Flex task object.
 *  - Errors: functions that can fail take `char** errptr` as their last argument. On failure they
 *    store a malloc'd, NUL-terminated message in *errptr, freeing any message already there, and
 *    return NULL (or 0). On success *errptr is left untouched, so callers set it to NULL first
 *    and test it after the call. errptr may be NULL when the caller does not want the message.
 *    Messages have the form "<code>: <text>", where <code> is one of invalid_input,
 *    invalid_policy, rule_error, limit_exceeded, not_found, unavailable, internal.
 *  - Every string a function returns as `char*` belongs to the caller, who releases it with
 *    recrules_free(). Strings passed in are only read during the call.
 *  - Thread safety: recrules_decide, recrules_reload, recrules_policy_version,
 *    recrules_policy_info, recrules_subscribe and recrules_unsubscribe may be called on one
 *    engine from any number of threads at once. recrules_close must not race with any other
 *    call on the same engine. Option handles are not thread-safe; set them up on one thread,
 *    then they may be read (passed to recrules_open / recrules_decide) from many.
 */
#ifndef RECRULES_H_
#define RECRULES_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct recrules_engine_t recrules_engine_t;
typedef struct recrules_options_t recrules_options_t;
typedef struct recrules_decide_options_t recrules_decide_options_t;

/* The library's version, "MAJOR.MINOR.PATCH". Static storage: do not free. */
const char* recrules_library_version(void);

/* Releases a string (or any buffer) returned by this library. NULL is allowed. */
void recrules_free(void* ptr);

/* ---- Engine options (all optional: pass NULL to recrules_open for the defaults) ---- */

recrules_options_t* recrules_options_create(void);
void recrules_options_destroy(recrules_options_t* options);
/* Watch the policy folder and reload when a file in it changes (where the engine supports it). */
void recrules_options_set_watch_policy(recrules_options_t* options, unsigned char on);
/* Requests larger than this are refused with limit_exceeded. Default 1 MiB. */
void recrules_options_set_max_request_bytes(recrules_options_t* options, size_t max_bytes);
/* Requests nested deeper than this are refused with limit_exceeded. Default 64. */
void recrules_options_set_max_request_depth(recrules_options_t* options, size_t max_depth);

/* ---- Engine ---- */

/* Loads the policy at `policy_path` (a folder holding policy.json, or the file itself).
 * Returns a new engine, destroyed with recrules_close, or NULL and *errptr naming what is wrong
 * with the policy (file, line or JSON path, and why). */
recrules_engine_t* recrules_open(const char* policy_path, const recrules_options_t* options,
                                 char** errptr);

/* Destroys the engine. No other call on it may be running or start afterwards. NULL is allowed. */
void recrules_close(recrules_engine_t* engine);

/* ---- Decisions ---- */

recrules_decide_options_t* recrules_decide_options_create(void);
void recrules_decide_options_destroy(recrules_decide_options_t* options);
/* Add the trace (every rule consulted and its answer) to the decision. Default off. */
void recrules_decide_options_set_explain(recrules_decide_options_t* options, unsigned char on);
/* Pin the clock rules see, in unix seconds (tests, replays). Default: the real clock. */
void recrules_decide_options_set_now(recrules_decide_options_t* options, int64_t unix_seconds);

/* Decides on a request of `request_len` bytes of JSON text (it need not be NUL-terminated).
 * `options` may be NULL. Returns the decision as one line of JSON, owned by the caller (release
 * with recrules_free), with at least "action", "mode", "conferenceRecord", "rule", "reason",
 * "policy" and "event". Returns NULL and sets *errptr when the request is malformed or over a
 * limit. A rule that fails never fails the decision: it is listed under "ruleErrors".
 * Thread-safe; never blocks on a reload. */
char* recrules_decide(const recrules_engine_t* engine, const char* request, size_t request_len,
                      const recrules_decide_options_t* options, char** errptr);

/* ---- Policy ---- */

/* Builds the policy anew from its path and swaps it in when complete and valid.
 * Returns 1 when the new policy is in force. Returns 0 when the reload failed: the old policy
 * stays in force and *errptr says why. */
int recrules_reload(recrules_engine_t* engine, char** errptr);

/* The version (content hash) of the policy in force. Owned by the caller (recrules_free). */
char* recrules_policy_version(const recrules_engine_t* engine);

/* The policy in force as JSON: {"version","path","rules":[...],"default","onRuleError","mode",
 * "warnings":[...],"loadedAt" (RFC 3339),"loadedAtUnixMs","lastReload":{...}|null}, the same
 * shape as GET /v1/policy (PolicyInfo::ToJson). Owned by the caller. */
char* recrules_policy_info(const recrules_engine_t* engine);

/* Called after every reload attempt with its result as JSON:
 * {"ok":true|false,"trigger","version","previousVersion","error","at" (RFC 3339),"atUnixMs",
 * "durationUs"} (ReloadResult::ToJson).
 * `result_json` is valid only during the call. The callback runs on the thread that performed
 * the reload (the caller of recrules_reload, or the policy watcher); it must not call
 * recrules_reload or recrules_close. */
typedef void (*recrules_reload_callback)(void* arg, const char* result_json);

/* Registers `callback` with `arg` (which the engine never touches). Returns an id > 0 for
 * recrules_unsubscribe. */
int recrules_subscribe(recrules_engine_t* engine, recrules_reload_callback callback, void* arg);

/* Stops calling the callback for reloads that start after this returns. A reload already
 * running on another thread may still call it once, so free `arg` only when no reload can be
 * in progress (for example after recrules_close). */
void recrules_unsubscribe(recrules_engine_t* engine, int id);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RECRULES_H_ */
