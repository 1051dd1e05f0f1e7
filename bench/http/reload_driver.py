#!/usr/bin/env python3
"""Hot reload driver for run_reload_bench.sh: rewrites a policy folder that `recrules serve`
watches, alternating valid and broken policies, and times how long each change takes to show.

  reload_driver.py PORT POLICY_DIR TASK_JSON_FILE [RELOADS]

For each step it writes the files in place (as an editor saving them would), then polls over
one keep-alive connection: after a valid policy, POST /v1/decide until decisions carry a new
policy version; after a broken one, GET /v1/policy until lastReload reports the refusal, and
checks that decisions still carry the old version. Prints one line per step and a summary:
  reload summary reloads=N accepted=A refused=R missed=M bad_answers=B
         valid_to_new_version_ms_median=... max=... broken_to_refusal_ms_median=... max=...
Exits 1 when a step misbehaved (a broken policy taken, a valid one refused, a change never
seen within 10 s, or a non-200 answer).
"""
import http.client
import json
import os
import statistics
import sys
import time

PORT, POLICY_DIR, TASK_FILE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
RELOADS = int(sys.argv[4]) if len(sys.argv) > 4 else 100
STEP_TIMEOUT_S = 10.0
POLL_S = 0.002

FEATURES = json.load(open(os.path.join(POLICY_DIR, "policy.json")))["features"]
TASK = open(TASK_FILE, "rb").read().strip()

PROBE_LUA = """-- Reload probe: reads two attributes and passes unless both match (they never do here).
return {
  name = "reload_probe_%d",
  decide = function(task, ctx)
    local a = task.attributes
    if recrules.get(a, "customer.tier") == "reload-%d" and a.language == "xx-XX" then
      return recrules.skip{ reason = "reload probe %d" }
    end
  end,
}
"""


def valid_policy(step):
    features = json.loads(json.dumps(FEATURES))
    # A queue nobody uses: a new version, the same decisions.
    features["conditional_recording"]["exclude_queues"].append("Reload probe %d" % step)
    return {
        "features": features,
        "recrules": {"rules": ["builtin:exclusions", "rules/probe.lua"], "default": "record"},
    }


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def write_step(step):
    """Writes step's files; returns the kind ("valid" or what is broken)."""
    policy_json = os.path.join(POLICY_DIR, "policy.json")
    probe = os.path.join(POLICY_DIR, "rules", "probe.lua")
    if step % 2 == 0:
        write(probe, PROBE_LUA % (step, step, step))
        write(policy_json, json.dumps(valid_policy(step), indent=2) + "\n")
        return "valid"
    kind = ("json_syntax", "lua_syntax", "missing_rule")[(step // 2) % 3]
    if kind == "json_syntax":
        text = json.dumps(valid_policy(step), indent=2)
        write(policy_json, text[: len(text) // 2] + "\n")  # cut in the middle
    elif kind == "lua_syntax":
        write(probe, "return { decide = function(task, ctx) if then end }\n")
    else:
        p = valid_policy(step)
        p["recrules"]["rules"].append("rules/not_there.lua")
        write(policy_json, json.dumps(p, indent=2) + "\n")
    return kind


class Client:
    def __init__(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
        self.bad_answers = 0

    def request(self, method, path, body=None):
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body,
                                  headers={"Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
                if r.status != 200:
                    self.bad_answers += 1
                    print("bad answer %d on %s: %s" % (r.status, path, data[:200]))
                return json.loads(data)
            except (http.client.HTTPException, ConnectionError, OSError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)

    def version(self):
        return self.request("POST", "/v1/decide", TASK)["policy"]

    def last_reload(self):
        return self.request("GET", "/v1/policy").get("lastReload")


def main():
    client = Client()
    accepted = refused = missed = wrong = 0
    valid_ms, broken_ms = [], []
    for step in range(RELOADS):
        before_version = client.version()
        before_reload = client.last_reload()
        t0 = time.monotonic()
        kind = write_step(step)
        deadline = t0 + STEP_TIMEOUT_S
        seen = None
        while time.monotonic() < deadline:
            if kind == "valid":
                v = client.version()
                if v != before_version:
                    seen = (time.monotonic() - t0) * 1000
                    break
            else:
                lr = client.last_reload()
                if lr != before_reload:
                    seen = (time.monotonic() - t0) * 1000
                    break
            time.sleep(POLL_S)
        lr = client.last_reload()
        ok = lr is not None and lr.get("ok")
        if seen is None:
            missed += 1
            print("step %d %s: no change seen within %.0f s" % (step, kind, STEP_TIMEOUT_S))
            continue
        if kind == "valid":
            valid_ms.append(seen)
            accepted += 1 if ok else 0
            if not ok:
                wrong += 1
                print("step %d valid policy refused: %s" % (step, lr))
        else:
            broken_ms.append(seen)
            after = client.version()
            if ok or after != before_version:
                wrong += 1
                print("step %d broken policy (%s) taken: %s" % (step, kind, lr))
            else:
                refused += 1
        print("step %d %s %s after %.1f ms" % (step, kind, "accepted" if ok else "refused", seen))

    def stats(xs):
        return ("%.0f" % statistics.median(xs), "%.0f" % max(xs)) if xs else ("-", "-")

    vm, vx = stats(valid_ms)
    bm, bx = stats(broken_ms)
    print("reload summary reloads=%d accepted=%d refused=%d missed=%d wrong=%d bad_answers=%d "
          "valid_to_new_version_ms_median=%s max=%s broken_to_refusal_ms_median=%s max=%s"
          % (RELOADS, accepted, refused, missed, wrong, client.bad_answers, vm, vx, bm, bx))
    return 1 if missed or wrong or client.bad_answers else 0


if __name__ == "__main__":
    sys.exit(main())
