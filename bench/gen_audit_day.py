#!/usr/bin/env python3
"""Writes one day of a contact center for timing `recrules audit`: a decision log shaped like
`recrules serve --decision-log` writes it, and the account's recordings as the fake Twilio's
seed. Not committed data: generated where asked.

  bench/gen_audit_day.py [DIR] [--calls N] [--bytes B]     (default: a new folder under /tmp)

DIR/decisions.log: 2026-12-01, N calls (default 50 000) spread over the day. Per call the
reservation.accepted decision (with its rule trace), the recording actions, the recording's
status callback, now and then a payment IVR (pause, resume), and decisions asked through the
API (a CRM asking about the call while it lasts) until the log reaches B bytes (default 1 GiB).
A call's lines are written together, so the log is in call order, not strictly in time order.

DIR/recordings.json: {"recordings": [...]}, one recording per recorded call (the fake's seed
shape), with a few calls on purpose for every verdict (per 1 000 calls): 10 skipped (explained,
not recorded), 2 started but not listed and 1 absent (missing), 2 skipped but recorded by the
Console's conference flag and 1 recorded twice, call and conference (unexpected), 1 recorded
again by <Dial record> (duplicate), 1 paused and not resumed, 2 recorded by Flex as a conference;
and 20 recordings of calls recrules never saw (unexpected).
DIR/expected.json: the verdict counts `audit` must print for the day.
"""
import argparse
import json
import os
import random
import tempfile

p = argparse.ArgumentParser()
p.add_argument("dir", nargs="?")
p.add_argument("--calls", type=int, default=50000)
p.add_argument("--bytes", type=int, default=1 << 30)
args = p.parse_args()
out_dir = args.dir or tempfile.mkdtemp(prefix="recrules-audit-")
os.makedirs(out_dir, exist_ok=True)
rng = random.Random(19)
DAY_MS = 86400 * 1000


def sid(prefix):
    return prefix + "%032x" % rng.getrandbits(128)


def did():
    return "%016x" % rng.getrandbits(64)


def ts(ms):
    d, ms = divmod(ms, DAY_MS)
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return "2026-12-%02dT%02d:%02d:%02d.%03dZ" % (1 + d, h, m, s, ms)


def iso(ms):
    return ts(ms)[:19] + "Z"


POLICY = "3f2a9c1b7d4e"
TRACE = ('[{"rule":"builtin:exclusions","outcome":"pass","reason":null,"matched":null,"us":0.412},'
         '{"rule":"trading_lines.lua","outcome":"pass","reason":null,"matched":null,"us":3.118},'
         '{"rule":"queues.lua","outcome":"%s","reason":"%s","matched":"queue","us":2.540}]')


def decision(t, source, extra, event, action, mode, conf_record, task, res, call, conf, pause=None,
             d=None):
    reason = ("queue \\\"Sales\\\" is recorded" if action == "record" else
              "queue \\\"HR\\\" is never recorded" if action == "skip" else "payment IVR")
    return ('{"time":"%s","type":"decision","source":"%s",%s"id":"%s","event":"%s","action":"%s",'
            '"mode":"%s","channel":%s,"conferenceRecord":%s,"pauseBehavior":%s,"rule":"queues.lua",'
            '"reason":"%s","matched":"queue","policy":"%s","taskSid":"%s","reservationSid":"%s",'
            '"callSid":"%s","conferenceSid":"%s","latencyUs":%d.%03d,"trace":%s}\n'
            % (ts(t), source, extra, d or did(), event, action, mode,
               '"worker"' if mode == "dual-channel" else "null", "true" if conf_record else "false",
               '"%s"' % pause if pause else "null", reason, POLICY, task, res, call, conf,
               rng.randint(8, 30), rng.randrange(1000), TRACE % (action, reason)))


def action(t, op, d, task, res, leg, conf, rec, status=200, result="ok", message="null"):
    return ('{"time":"%s","type":"recording","source":"taskrouter","operation":"%s","decisionId":"%s",'
            '"taskSid":"%s","reservationSid":"%s","callSid":"%s","conferenceSid":"%s",'
            '"recordingSid":"%s","identity":null,"result":"%s","httpStatus":%d,"twilioErrorCode":%s,'
            '"message":%s,"attempts":1,"latencyMs":%d}\n'
            % (ts(t), op, d, task, res, leg, conf, rec, result, status,
               "null" if result == "ok" else "21220", message, rng.randint(40, 300)))


def status_line(t, rec, leg, conf, task, status, start, code="null", duration=180):
    return ('{"time":"%s","type":"recording_status","source":"twilio","recordingSid":"%s",'
            '"callSid":"%s","conferenceSid":"%s","taskSid":"%s","status":"%s","errorCode":%s,'
            '"duration":%d,"recordingSource":"StartCallRecordingAPI","startTime":"%s","channels":2,'
            '"track":"both"}\n' % (ts(t), rec, leg, conf, task, status, code, duration, iso(start)))


def listed(rec, call, conf, start, source, status="completed", duration=180, code=None):
    r = {"sid": rec, "call_sid": call, "conference_sid": conf, "start_time": iso(start),
         "duration": duration, "status": status, "source": source, "channels": 2}
    if code is not None:
        r["error_code"] = code
    return r


recordings = []
counts = {"explained": 0, "unexpected": 0, "duplicate": 0, "missing": 0, "paused_not_resumed": 0}
per_call = args.bytes // args.calls
written = lines = api = 0
spacing = DAY_MS // args.calls
with open(os.path.join(out_dir, "decisions.log"), "w") as f:
    buf = []
    for i in range(args.calls):
        k = i % 1000
        t = i * spacing + rng.randrange(spacing)
        task, res, customer, leg, conf, rec = sid("WT"), sid("WR"), sid("CA"), sid("CA"), sid("CF"), sid("RE")
        act = "skip" if k < 10 or k in (13, 14) else "record"
        mode = "conference" if k in (18, 19) else "dual-channel"
        d = did()
        out = [decision(t, "taskrouter", '"eventType":"reservation.accepted",', "accept", act, mode,
                        mode == "conference", task, res, customer, conf, d=d)]
        end = t + rng.randint(120, 900) * 1000
        if act == "record" and mode == "dual-channel":
            out.append(action(t + 180, "create_call_recording", d, task, res, leg, conf, rec, 201))
            out.append(action(t + 190, "fetch_task", d, task, res, leg, conf, rec))
            out.append(action(t + 200, "update_task_attributes", d, task, res, leg, conf, rec))
            if k == 17:  # paused for a payment, never resumed: the resume failed
                d2 = did()
                out.append(decision(t + 60000, "taskrouter", '"eventType":"task.updated",', "update",
                                    "pause", mode, False, task, res, customer, conf, "skip", d2))
                out.append(action(t + 60150, "pause_call_recording", d2, task, res, leg, conf, rec))
                d3 = did()
                out.append(decision(t + 120000, "taskrouter", '"eventType":"task.updated",',
                                    "update", "record", mode, False, task, res, customer, conf,
                                    d=d3))
                out.append(action(t + 120150, "resume_call_recording", d3, task, res, leg, conf, rec,
                                  400, "error", '"the call has ended"'))
            elif rng.random() < 0.2:  # a payment IVR: paused, then resumed
                for n, (a, op) in enumerate([("pause", "pause_call_recording"),
                                             ("record", "resume_call_recording")]):
                    d2 = did()
                    out.append(decision(t + 60000 * (n + 1), "taskrouter",
                                        '"eventType":"task.updated",', "update", a, mode, False,
                                        task, res, customer, conf, "skip" if a == "pause" else None,
                                        d2))
                    out.append(action(t + 60000 * (n + 1) + 150, op, d2, task, res, leg, conf, rec))
        start = t + 180
        if k in (10, 11):  # started, but Twilio does not list it
            counts["missing"] += 1
        elif k == 12:  # Twilio lists it absent
            out.append(status_line(end, rec, leg, conf, task, "absent", start, "13617", 0))
            recordings.append(listed(rec, leg, None, start, "StartCallRecordingAPI", "absent", 0,
                                     13617))
            counts["missing"] += 1
        elif act == "skip":
            if k in (13, 14):  # the Console's recording flag records the conference anyway
                recordings.append(listed(sid("RE"), None, conf, t + 900, "Conference"))
                counts["unexpected"] += 1
            else:
                counts["explained"] += 1
        elif mode == "conference":  # Flex records the conference, as decided
            recordings.append(listed(sid("RE"), None, conf, t + 900, "Conference"))
            counts["explained"] += 1
        else:
            out.append(status_line(end, rec, leg, conf, task, "completed", start))
            recordings.append(listed(rec, leg, None, start, "StartCallRecordingAPI"))
            if k == 17:
                counts["paused_not_resumed"] += 1
            else:
                counts["explained"] += 1
            if k == 15:  # and the Console's flag records the conference too
                recordings.append(listed(sid("RE"), None, conf, t + 900, "Conference"))
                counts["unexpected"] += 1
            if k == 16:  # and a <Dial record> records the worker's leg again
                recordings.append(listed(sid("RE"), leg, None, t + 2000, "DialVerb"))
                counts["duplicate"] += 1
        size = sum(len(line) for line in out)
        # A CRM asks the API about the call while it lasts, until the call has its share of bytes.
        while size < per_call:
            line = decision(rng.randint(t + 1000, end), "api", "", "accept", act, mode,
                            mode == "conference", task, res, customer, conf)
            out.append(line)
            size += len(line)
            api += 1
        buf.extend(out)
        written += size
        lines += len(out)
        if len(buf) > 4096:
            f.write("".join(buf))
            buf = []
    for n in range(20):  # recordings of calls recrules never decided (TwiML, another API caller)
        recordings.append(listed(sid("RE"), sid("CA"), None, (n + 1) * DAY_MS // 21, "DialVerb"))
        counts["unexpected"] += 1
    f.write("".join(buf))
with open(os.path.join(out_dir, "recordings.json"), "w") as f:
    json.dump({"recordings": recordings}, f)
with open(os.path.join(out_dir, "expected.json"), "w") as f:
    json.dump(counts, f)
print("dir %s" % out_dir)
print("wrote %d bytes, %d lines (%d api decisions), %d calls, %d recordings listed"
      % (written, lines, api, args.calls, len(recordings)))
print("expected: " + " ".join("%s %d" % kv for kv in counts.items()))
