/* The C API, exercised from plain C99 (LevelDB's c_test.c is the model): every phase prints its
 * name, every check names the line that failed. Builds with gcc -std=c99 -Wall -Wextra -Werror. */
#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recrules.h"

static const char* phase = "";

static void StartPhase(const char* name) {
  fprintf(stderr, "=== c_test %s\n", name);
  phase = name;
}

#define CheckNoError(err)                                                                   \
  if ((err) != NULL) {                                                                      \
    fprintf(stderr, "%s:%d: %s: unexpected error: %s\n", __FILE__, __LINE__, phase, (err)); \
    abort();                                                                                \
  }

#define CheckCondition(cond)                                                            \
  if (!(cond)) {                                                                        \
    fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, phase, #cond); \
    abort();                                                                            \
  }

/* Checks that `json` contains `fragment`, printing both when it does not. */
static void CheckContains(int line, const char* json, const char* fragment) {
  if (json == NULL || strstr(json, fragment) == NULL) {
    fprintf(stderr, "%s:%d: %s: expected %s in %s\n", __FILE__, line, phase, fragment,
            json ? json : "(null)");
    abort();
  }
}
#define CheckJson(json, fragment) CheckContains(__LINE__, (json), (fragment))

static void CheckEqual(int line, const char* expected, const char* actual) {
  if (actual == NULL || strcmp(expected, actual) != 0) {
    fprintf(stderr, "%s:%d: %s: expected \"%s\", got \"%s\"\n", __FILE__, line, phase, expected,
            actual ? actual : "(null)");
    abort();
  }
}
#define CheckEq(expected, actual) CheckEqual(__LINE__, (expected), (actual))

static const char kPolicyV1[] =
    "{\"features\": {\"conditional_recording\": {\"enabled\": true,"
    " \"exclude_queues\": [\"HR Internal\"],"
    " \"exclude_attributes\": [{\"key\": \"customer.consent.recording\", \"value\": \"denied\"}]}},"
    " \"recrules\": {\"rules\": [\"builtin:exclusions\"], \"default\": \"record\"}}";

/* The admin adds Sales to the excluded queues. */
static const char kPolicyV2[] =
    "{\"features\": {\"conditional_recording\": {\"enabled\": true,"
    " \"exclude_queues\": [\"HR Internal\", \"Sales\"]}},"
    " \"recrules\": {\"rules\": [\"builtin:exclusions\"], \"default\": \"record\"}}";

static const char kBrokenPolicy[] = "{\"features\": {\n  \"conditional_recording\": 3 }}";

static const char kSalesCall[] =
    "{\"event\": \"accept\", \"task\": {\"sid\": \"WR1\", \"taskSid\": \"WT1\","
    " \"queueName\": \"Sales\", \"queueSid\": \"WQ1\", \"taskChannelUniqueName\": \"voice\","
    " \"attributes\": {\"call_sid\": \"CA1\"}}}";

static const char kHrCall[] =
    "{\"event\": \"accept\", \"task\": {\"sid\": \"WR2\", \"taskSid\": \"WT2\","
    " \"queueName\": \"HR Internal\", \"queueSid\": \"WQ2\", \"taskChannelUniqueName\": \"voice\","
    " \"attributes\": {\"call_sid\": \"CA2\"}}}";

static char policy_dir[64];
static char policy_file[96];

static void WritePolicy(const char* text) {
  /* Write beside, then rename: a reader never sees half a file. */
  char tmp[128];
  snprintf(tmp, sizeof tmp, "%s.tmp", policy_file);
  FILE* f = fopen(tmp, "w");
  CheckCondition(f != NULL);
  CheckCondition(fputs(text, f) >= 0);
  CheckCondition(fclose(f) == 0);
  CheckCondition(rename(tmp, policy_file) == 0);
}

static char* Decide(const recrules_engine_t* engine, const char* request) {
  char* err = NULL;
  char* decision = recrules_decide(engine, request, strlen(request), NULL, &err);
  CheckNoError(err);
  CheckCondition(decision != NULL);
  return decision;
}

/* What the reload callback saw. */
struct ReloadLog {
  int calls;
  char last[512];
};

static void OnReload(void* arg, const char* result_json) {
  struct ReloadLog* log = (struct ReloadLog*)arg;
  log->calls++;
  snprintf(log->last, sizeof log->last, "%s", result_json);
}

/* Concurrent deciders: each decides many times and counts the answers it could not parse. */
struct Decider {
  const recrules_engine_t* engine;
  int decisions;
  int failures;
};

static void* DecideMany(void* arg) {
  struct Decider* d = (struct Decider*)arg;
  int i;
  for (i = 0; i < 2000; i++) {
    char* err = NULL;
    char* decision = recrules_decide(d->engine, kSalesCall, strlen(kSalesCall), NULL, &err);
    if (err != NULL || decision == NULL || strstr(decision, "\"policy\":\"") == NULL) {
      d->failures++;
    }
    recrules_free(err);
    recrules_free(decision);
    d->decisions++;
  }
  return NULL;
}

int main(void) {
  recrules_engine_t* engine;
  char* err = NULL;
  char* decision;
  char* version_v1;
  char* version;
  struct ReloadLog log = {0, ""};
  int sub;

  StartPhase("library_version");
  CheckCondition(strlen(recrules_library_version()) >= 5);

  StartPhase("setup");
  snprintf(policy_dir, sizeof policy_dir, "/tmp/recrules_c_test.XXXXXX");
  CheckCondition(mkdtemp(policy_dir) != NULL);
  snprintf(policy_file, sizeof policy_file, "%s/policy.json", policy_dir);
  WritePolicy(kPolicyV1);

  StartPhase("open_missing_policy");
  engine = recrules_open("/nonexistent/recrules", NULL, &err);
  CheckCondition(engine == NULL);
  CheckEq(
      "invalid_policy: /nonexistent/recrules: no such file (a policy is a folder holding "
      "policy.json, or the path of the file)",
      err);

  StartPhase("error_is_replaced");
  /* A message already in errptr is freed and replaced (ASan would report the leak). */
  engine = recrules_open(NULL, NULL, &err);
  CheckCondition(engine == NULL);
  CheckEq("invalid_input: policy path is NULL", err);
  recrules_free(err);
  err = NULL;

  StartPhase("error_pointer_may_be_null");
  CheckCondition(recrules_open("/nonexistent/recrules", NULL, NULL) == NULL);

  StartPhase("open");
  {
    recrules_options_t* options = recrules_options_create();
    recrules_options_set_max_request_bytes(options, 4096);
    recrules_options_set_max_request_depth(options, 16);
    engine = recrules_open(policy_dir, options, &err);
    recrules_options_destroy(options); /* the engine keeps a copy */
  }
  CheckNoError(err);
  CheckCondition(engine != NULL);
  version_v1 = recrules_policy_version(engine);
  CheckCondition(version_v1 != NULL && strlen(version_v1) > 0);

  StartPhase("decide_record");
  decision = Decide(engine, kSalesCall);
  CheckJson(decision, "\"action\":\"record\"");
  CheckJson(decision, "\"conferenceRecord\":true");
  CheckJson(decision, "\"rule\":\"default\"");
  CheckJson(decision, "\"callSid\":\"CA1\"");
  recrules_free(decision);

  StartPhase("decide_skip_excluded_queue");
  decision = Decide(engine, kHrCall);
  CheckJson(decision, "\"action\":\"skip\"");
  CheckJson(decision, "\"conferenceRecord\":false");
  CheckJson(decision, "\"rule\":\"builtin:exclusions\"");
  CheckJson(decision, "\"matched\":\"features.conditional_recording.exclude_queues[0]\"");
  recrules_free(decision);

  StartPhase("decide_reads_only_request_len_bytes");
  {
    /* The request need not be NUL-terminated: trailing bytes past the length are not read. */
    char buffer[sizeof kHrCall + 8];
    memcpy(buffer, kHrCall, strlen(kHrCall));
    memcpy(buffer + strlen(kHrCall), "garbage!", 8);
    decision = recrules_decide(engine, buffer, strlen(kHrCall), NULL, &err);
    CheckNoError(err);
    CheckJson(decision, "\"action\":\"skip\"");
    recrules_free(decision);
  }

  StartPhase("decide_explain_and_clock");
  {
    recrules_decide_options_t* options = recrules_decide_options_create();
    recrules_decide_options_set_explain(options, 1);
    recrules_decide_options_set_now(options, 1700000000);
    decision = recrules_decide(engine, kHrCall, strlen(kHrCall), options, &err);
    recrules_decide_options_destroy(options);
    CheckNoError(err);
    CheckJson(decision, "\"trace\":[{\"rule\":\"builtin:exclusions\"");
    recrules_free(decision);
  }

  StartPhase("decide_malformed_json");
  decision = recrules_decide(engine, "{\"event\": ", 10, NULL, &err);
  CheckCondition(decision == NULL);
  CheckEq(
      "invalid_input: request: malformed JSON at line 1, column 11: syntax error while "
      "parsing value - unexpected end of input; expected '[', '{', or a literal",
      err);
  recrules_free(err);
  err = NULL;

  StartPhase("decide_over_limit");
  {
    char big[5000];
    memset(big, ' ', sizeof big);
    memcpy(big, kSalesCall, strlen(kSalesCall));
    decision = recrules_decide(engine, big, sizeof big, NULL, &err);
    CheckCondition(decision == NULL);
    CheckEq("limit_exceeded: request: 5000 bytes is over the limit of 4096", err);
    recrules_free(err);
    err = NULL;
  }

  StartPhase("decide_null_request");
  CheckCondition(recrules_decide(engine, NULL, 0, NULL, &err) == NULL);
  CheckEq("invalid_input: request is NULL", err);
  recrules_free(err);
  err = NULL;

  StartPhase("reload_picks_up_edit");
  sub = recrules_subscribe(engine, OnReload, &log);
  CheckCondition(sub > 0);
  WritePolicy(kPolicyV2);
  CheckCondition(recrules_reload(engine, &err) == 1);
  CheckNoError(err);
  CheckCondition(log.calls == 1);
  CheckJson(log.last, "\"ok\":true");
  CheckJson(log.last, "\"trigger\":\"api\"");
  CheckJson(log.last, "\"error\":null");
  version = recrules_policy_version(engine);
  CheckCondition(strcmp(version, version_v1) != 0);
  CheckJson(log.last, version);
  decision = Decide(engine, kSalesCall);
  CheckJson(decision, "\"action\":\"skip\"");
  CheckJson(decision, version);
  recrules_free(decision);

  StartPhase("failed_reload_keeps_policy");
  {
    char* version_v2 = version;
    WritePolicy(kBrokenPolicy);
    CheckCondition(recrules_reload(engine, &err) == 0);
    CheckCondition(err != NULL);
    CheckJson(err, "features.conditional_recording: expected an object, got number");
    recrules_free(err);
    err = NULL;
    CheckCondition(log.calls == 2);
    CheckJson(log.last, "\"ok\":false");
    version = recrules_policy_version(engine);
    CheckEq(version_v2, version);
    recrules_free(version_v2);
    decision = Decide(engine, kSalesCall);
    CheckJson(decision, "\"action\":\"skip\"");
    recrules_free(decision);
  }

  StartPhase("policy_info");
  {
    char* info = recrules_policy_info(engine);
    CheckJson(info, "\"rules\":[\"builtin:exclusions\"]");
    CheckJson(info, "\"default\":\"record\"");
    CheckJson(info, "\"lastReload\":{\"ok\":false");
    /* Both time forms: the HTTP adapter's RFC 3339 and the C API's unix milliseconds. */
    CheckJson(info, "\"loadedAt\":\"");
    CheckJson(info, "\"loadedAtUnixMs\":");
    CheckJson(info, "\"atUnixMs\":");
    recrules_free(info);
  }

  StartPhase("unsubscribe");
  recrules_unsubscribe(engine, sub);
  WritePolicy(kPolicyV1);
  CheckCondition(recrules_reload(engine, &err) == 1);
  CheckNoError(err);
  CheckCondition(log.calls == 2);
  version = (recrules_free(version), recrules_policy_version(engine));
  CheckEq(version_v1, version);

  StartPhase("concurrent_decide_during_reloads");
  {
    pthread_t threads[4];
    struct Decider deciders[4];
    int i;
    for (i = 0; i < 4; i++) {
      deciders[i].engine = engine;
      deciders[i].decisions = 0;
      deciders[i].failures = 0;
      CheckCondition(pthread_create(&threads[i], NULL, DecideMany, &deciders[i]) == 0);
    }
    for (i = 0; i < 20; i++) {
      WritePolicy(i % 2 ? kPolicyV1 : kPolicyV2);
      CheckCondition(recrules_reload(engine, &err) == 1);
      CheckNoError(err);
    }
    for (i = 0; i < 4; i++) {
      CheckCondition(pthread_join(threads[i], NULL) == 0);
      CheckCondition(deciders[i].decisions == 2000);
      CheckCondition(deciders[i].failures == 0);
    }
  }

  StartPhase("cleanup");
  recrules_free(version);
  recrules_free(version_v1);
  recrules_close(engine);
  recrules_close(NULL);
  recrules_free(NULL);
  CheckCondition(unlink(policy_file) == 0);
  CheckCondition(rmdir(policy_dir) == 0);

  fprintf(stderr, "PASS\n");
  return 0;
}
