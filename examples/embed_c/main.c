/* Embedding recrules from C: the call-control loop of examples/embed_cpp through the C API.
 *
 * Calls arrive on several threads; before the agent accepts, each thread asks the engine and
 * acts on the answer. Halfway through, an admin edits the policy (Sales is no longer recorded)
 * and the engine reloads it while calls keep flowing.
 *
 * Usage: embed_c [CALLS_PER_THREAD]   (about half before the edit, half after)
 * Writes its policy to a fresh scratch folder, removes it at the end, and exits 0 when every
 * decision matched the policy version it was made on. A real program would read the decision
 * with a JSON parser; this one looks for fields with strstr to stay dependency-free. */
#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "recrules.h"

#define THREADS 4
#define VERSION_MAX 64

static const char* const kQueues[] = {"Sales", "Support", "HR Internal"};

static const char kPolicyHead[] =
    "{\"features\": {\"conditional_recording\": {\"enabled\": true,"
    " \"exclude_attributes\": [{\"key\": \"customer.consent.recording\", \"value\": \"denied\"}],"
    " \"exclude_queues\": [\"HR Internal\"";
static const char kPolicyTail[] =
    "]}}, \"recrules\": {\"rules\": [\"builtin:exclusions\"], \"default\": \"record\"}}\n";

static char policy_dir[256];

/* An admin's edit: write beside the file, then rename, so the engine never reads half a file. */
static int WritePolicy(int sales_excluded) {
  char tmp[300], file[300];
  FILE* f;
  snprintf(tmp, sizeof tmp, "%s/policy.json.tmp", policy_dir);
  snprintf(file, sizeof file, "%s/policy.json", policy_dir);
  f = fopen(tmp, "w");
  if (f == NULL) return 0;
  fprintf(f, "%s%s%s", kPolicyHead, sales_excluded ? ", \"Sales\"" : "", kPolicyTail);
  if (fclose(f) != 0) return 0;
  return rename(tmp, file) == 0;
}

/* Copies the string value of "field" in a decision into out ("" when absent or null). */
static void JsonField(const char* json, const char* field, char* out, size_t out_size) {
  char key[64];
  const char* start;
  const char* end;
  snprintf(key, sizeof key, "\"%s\":\"", field);
  out[0] = '\0';
  start = strstr(json, key);
  if (start == NULL) return;
  start += strlen(key);
  end = strchr(start, '"');
  if (end == NULL || (size_t)(end - start) >= out_size) return;
  memcpy(out, start, (size_t)(end - start));
  out[end - start] = '\0';
}

struct Shared {
  recrules_engine_t* engine;
  int calls_per_thread;
  pthread_mutex_t mu;
  int calls_done;
  int errors;
  int wrong;
  int reloads;
  char first_version[VERSION_MAX];
  char new_version[VERSION_MAX]; /* set by the reload callback */
  int on_new_version;
  int closing; /* the switch stops taking calls */
};

struct Caller {
  struct Shared* shared;
  int index;
};

static void OnReload(void* arg, const char* result_json) {
  struct Shared* s = (struct Shared*)arg;
  printf("reload result: %s\n", result_json);
  pthread_mutex_lock(&s->mu);
  if (strstr(result_json, "\"ok\":true") != NULL) {
    s->reloads++;
    JsonField(result_json, "version", s->new_version, sizeof s->new_version);
  }
  pthread_mutex_unlock(&s->mu);
}

static void* HandleCalls(void* arg) {
  struct Caller* c = (struct Caller*)arg;
  struct Shared* s = c->shared;
  int i, closing = 0;
  for (i = 0; !closing; i++) {
    int n = i * THREADS + c->index;
    const char* queue = kQueues[n % 3];
    int consent_denied = n % 7 == 0;
    char request[512], action[16], version[VERSION_MAX], rule[64];
    char* err = NULL;
    char* decision;
    struct timespec pause = {0, 10000000}; /* the call goes on for a while */
    int len = snprintf(request, sizeof request,
                       "{\"event\":\"accept\",\"task\":{\"taskSid\":\"WT%d\",\"queueName\":\"%s\","
                       "\"taskChannelUniqueName\":\"voice\",\"attributes\":{\"call_sid\":"
                       "\"CA%032d\",\"customer\":{\"consent\":{\"recording\":\"%s\"}}}}}",
                       n, queue, n, consent_denied ? "denied" : "granted");

    decision = recrules_decide(s->engine, request, (size_t)len, NULL, &err);
    if (err != NULL) {
      fprintf(stderr, "call %d: %s\n", n, err);
      recrules_free(err);
      pthread_mutex_lock(&s->mu);
      s->errors++;
      pthread_mutex_unlock(&s->mu);
      continue;
    }
    JsonField(decision, "action", action, sizeof action);
    JsonField(decision, "policy", version, sizeof version);
    JsonField(decision, "rule", rule, sizeof rule);
    /* Act on it: this is where the switch sets conferenceRecord or starts a recording. */
    printf("CA%032d %-11s %s (policy %s, %s)\n", n, queue,
           strstr(decision, "\"conferenceRecord\":true") ? "conferenceRecord=true "
                                                         : "conferenceRecord=false",
           version, rule);
    recrules_free(decision);

    pthread_mutex_lock(&s->mu);
    {
      int second = strcmp(version, s->first_version) != 0;
      int excluded = strcmp(queue, "HR Internal") == 0 || consent_denied ||
                     (second && strcmp(queue, "Sales") == 0);
      if (strcmp(action, excluded ? "skip" : "record") != 0) s->wrong++;
      if (second) s->on_new_version++;
      s->calls_done++;
    }
    closing = s->closing;
    pthread_mutex_unlock(&s->mu);
    nanosleep(&pause, NULL);
  }
  return NULL;
}

static void CountError(struct Shared* s) {
  pthread_mutex_lock(&s->mu);
  s->errors++;
  pthread_mutex_unlock(&s->mu);
}

/* Waits until `n` calls were handled. */
static void WaitForCalls(struct Shared* s, int n) {
  for (;;) {
    struct timespec tick = {0, 1000000};
    int done;
    pthread_mutex_lock(&s->mu);
    done = s->calls_done + s->errors;
    pthread_mutex_unlock(&s->mu);
    if (done >= n) return;
    nanosleep(&tick, NULL);
  }
}

int main(int argc, char** argv) {
  struct Shared shared;
  struct Caller callers[THREADS];
  pthread_t threads[THREADS];
  char* err = NULL;
  char* version;
  const char* tmpdir = getenv("TMPDIR");
  int sub, i, half, ok, waited_ms, reloaded;

  memset(&shared, 0, sizeof shared);
  shared.calls_per_thread = argc > 1 ? atoi(argv[1]) : 40;
  if (shared.calls_per_thread <= 0) {
    fprintf(stderr, "usage: embed_c [CALLS_PER_THREAD]\n");
    return 2;
  }
  pthread_mutex_init(&shared.mu, NULL);
  snprintf(policy_dir, sizeof policy_dir, "%s/recrules_embed_c.XXXXXX",
           tmpdir && *tmpdir ? tmpdir : "/tmp");
  if (mkdtemp(policy_dir) == NULL || !WritePolicy(0)) {
    fprintf(stderr, "embed_c: cannot write the policy\n");
    return 1;
  }

  {
    /* The engine watches the policy folder and reloads when a file changes. Where the watcher
     * is not available, the program reloads by calling recrules_reload (below). */
    recrules_options_t* options = recrules_options_create();
    recrules_options_set_watch_policy(options, 1);
    shared.engine = recrules_open(policy_dir, options, &err);
    recrules_options_destroy(options);
  }
  if (err != NULL) {
    fprintf(stderr, "embed_c: %s\n", err);
    recrules_free(err);
    return 1;
  }
  version = recrules_policy_version(shared.engine);
  printf("policy %s loaded\n", version);
  snprintf(shared.first_version, sizeof shared.first_version, "%s", version);
  recrules_free(version);
  sub = recrules_subscribe(shared.engine, OnReload, &shared);

  for (i = 0; i < THREADS; i++) {
    callers[i].shared = &shared;
    callers[i].index = i;
    pthread_create(&threads[i], NULL, HandleCalls, &callers[i]);
  }

  /* After half the calls, the admin stops recording Sales; the other half follow the edit. */
  half = THREADS * shared.calls_per_thread / 2;
  WaitForCalls(&shared, half);
  if (!WritePolicy(1)) {
    fprintf(stderr, "embed_c: cannot edit the policy\n");
    CountError(&shared);
  }
  /* Give the folder watcher a moment to pick the edit up; without one, reload by call. */
  for (waited_ms = 0, reloaded = 0; !reloaded && waited_ms < 500; waited_ms += 10) {
    struct timespec tick = {0, 10000000};
    nanosleep(&tick, NULL);
    pthread_mutex_lock(&shared.mu);
    reloaded = shared.reloads > 0;
    pthread_mutex_unlock(&shared.mu);
  }
  if (!reloaded) {
    printf("no reload from a folder watcher: reloading by call\n");
    if (!recrules_reload(shared.engine, &err)) {
      fprintf(stderr, "embed_c: reload failed: %s\n", err);
      recrules_free(err);
      CountError(&shared);
    }
  }
  pthread_mutex_lock(&shared.mu);
  half += shared.calls_done + shared.errors;
  pthread_mutex_unlock(&shared.mu);
  WaitForCalls(&shared, half);
  pthread_mutex_lock(&shared.mu);
  shared.closing = 1;
  pthread_mutex_unlock(&shared.mu);

  for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  recrules_unsubscribe(shared.engine, sub);
  recrules_close(shared.engine);

  printf("embed_c: %d calls, %d on policy %s, %d reloads, %d errors, %d wrong\n", shared.calls_done,
         shared.on_new_version, shared.new_version, shared.reloads, shared.errors, shared.wrong);
  {
    char file[300];
    snprintf(file, sizeof file, "%s/policy.json", policy_dir);
    unlink(file);
    rmdir(policy_dir);
  }
  ok = shared.errors == 0 && strcmp(shared.new_version, shared.first_version) != 0 &&
       shared.wrong == 0 && shared.reloads >= 1 &&
       shared.on_new_version >= THREADS * shared.calls_per_thread / 2;
  printf("embed_c: %s\n", ok ? "OK" : "FAILED");
  pthread_mutex_destroy(&shared.mu);
  return ok ? 0 : 1;
}
