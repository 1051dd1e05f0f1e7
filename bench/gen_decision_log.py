#!/usr/bin/env python3
"""Writes a large decision log shaped like `recrules serve --decision-log` writes it, for timing
`recrules why` (and `recrules audit`) on it. Not committed data: generated where asked.

  bench/gen_decision_log.py OUT_FILE [--bytes N] [--files K]

Calls of a dual-channel contact center: per call a reservation.accepted decision, the
recording started on the worker's leg, the task read and written (Flex Insights' media link),
now and then a payment IVR (task.updated pause and resume) and a refused Flex pause. One call
in the middle (printed at the end) is transferred: its customer's call comes back an eighth
of the log later under a second task, so `why` has to follow it across the file. With --files K the
log is rotated as the server rotates it: OUT_FILE.K-1 (oldest) ... OUT_FILE.1, OUT_FILE.
"""
import argparse
import os
import random

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--bytes", type=int, default=1 << 30)
p.add_argument("--files", type=int, default=1)
args = p.parse_args()
rng = random.Random(3)


def sid(prefix):
    return prefix + "%032x" % rng.getrandbits(128)


def ts(ms):
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return "2026-12-07T%02d:%02d:%02d.%03dZ" % (h % 24, m, s, ms)


POLICY = "3f2a9c1b7d4e"
RULES = [("default", "no rule decided: the policy default is record", "null"),
         ("builtin:exclusions", "queue \\\"Sales\\\" is recorded", "null"),
         ("trading_lines.lua", "trading line: recorded in full (MiFID II)", "null")]


def decision(t, source, extra, did, event, action, rule, task, res, call, conf, pause="null"):
    r = RULES[rule]
    return ('{"time":"%s","type":"decision","source":"%s",%s"id":"%s","event":"%s","action":"%s",'
            '"mode":"dual-channel","channel":"worker","conferenceRecord":false,"pauseBehavior":%s,'
            '"rule":"%s","reason":"%s","matched":%s,"policy":"%s","taskSid":"%s",'
            '"reservationSid":"%s","callSid":"%s","conferenceSid":"%s","latencyUs":11.482}\n'
            % (ts(t), source, extra, did, event, action, pause, r[0], r[1], r[2], POLICY, task, res,
               call, conf))


def action(t, source, op, did, task, res, call, conf, rec, status=200, identity="null"):
    return ('{"time":"%s","type":"recording","source":"%s","operation":"%s","decisionId":"%s",'
            '"taskSid":"%s","reservationSid":"%s","callSid":"%s","conferenceSid":"%s",'
            '"recordingSid":"%s","identity":%s,"result":"ok","httpStatus":%d,"twilioErrorCode":null,'
            '"message":null,"attempts":1,"latencyMs":%d}\n'
            % (ts(t), source, op, did, task, res, call, conf, rec, identity, status,
               rng.randint(40, 300)))


def call_lines(t, customer, task):
    res, leg, conf, rec = sid("WR"), sid("CA"), sid("CF"), sid("RE")
    did = "%016x" % rng.getrandbits(64)
    out = [decision(t, "taskrouter", '"eventType":"reservation.accepted",', did, "accept", "record",
                    rng.randrange(3), task, res, customer, conf),
           action(t + 180, "taskrouter", "create_call_recording", did, task, res, leg, conf, rec, 201),
           action(t + 190, "taskrouter", "fetch_task", did, task, res, leg, conf, rec),
           action(t + 200, "taskrouter", "update_task_attributes", did, task, res, leg, conf, rec)]
    if rng.random() < 0.2:  # a payment IVR: paused, then resumed
        for k, (act, op) in enumerate([("pause", "pause_call_recording"),
                                       ("record", "resume_call_recording")]):
            d2 = "%016x" % rng.getrandbits(64)
            out.append(decision(t + 60000 * (k + 1), "taskrouter", '"eventType":"task.updated",', d2,
                                "update", act, 0, task, res, customer, conf,
                                '"skip"' if act == "pause" else "null"))
            out.append(action(t + 60000 * (k + 1) + 150, "taskrouter", op, d2, task, res, leg, conf,
                              rec))
    if rng.random() < 0.1:  # an agent's pause, refused on a trading line
        out.append(decision(t + 30000, "flex", '"operation":"pause_call_recording","identity":"alice",',
                            "%016x" % rng.getrandbits(64), "pause_request", "record", 2, task, res,
                            leg, conf))
    return out


per_file = args.bytes // args.files
names = [args.out if i == 0 else "%s.%d" % (args.out, i) for i in range(args.files)][::-1]
written, t, calls = 0, 0, 0
target = None
transfer_at = args.bytes // 2 + args.bytes // 8
for name in names:
    size = 0
    with open(name, "w") as f:
        buf = []
        while size < per_file:
            t += rng.randint(1, 40)
            customer, task = sid("CA"), sid("WT")
            if target is None and written + size >= args.bytes // 2:
                target = (customer, task)
            if target and len(target) == 2 and written + size >= transfer_at:
                customer, task = target[0], sid("WT")  # the transfer's second task
                target = target + (task,)
            lines = call_lines(t, customer, task)
            calls += 1
            for line in lines:
                buf.append(line)
                size += len(line)
            if len(buf) > 4096:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))
    written += size
print("wrote %d bytes in %d file(s), %d calls" % (written, len(names), calls))
print("transferred call: %s (tasks %s, %s)" % (target[0], target[1], target[2]))
