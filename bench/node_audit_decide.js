'use strict';
// The Node reference's pre-parsed decision, made to carry what a recrules Decision carries, so
// the two pre-parsed rates can also be compared like for like (bench/run_engine_bench.sh).
//   node bench/node_audit_decide.js PEERS_DIR corpus.jsonl policy.json
//   env: WARM_MS=500 RUN_MS=1500 ROUNDS=3
// The peers' decide() returns a preallocated frozen object. A recrules decision is an audit
// record: a fresh id, the latency from two clock reads, the policy version, and the task,
// reservation, call and conference SIDs echoed next to the action, rule, reason and matched
// entry. Here each decision builds that record around decide()'s answer; the matched entry is a
// string prepared once per rule, as recrules prepares it when the policy is compiled.
const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');

const [peers, corpusPath, policyPath] = process.argv.slice(2);
if (!peers || !corpusPath || !policyPath) {
  console.error('usage: node node_audit_decide.js PEERS_DIR corpus.jsonl policy.json');
  process.exit(2);
}
const { compilePolicy, decide } = require(path.resolve(peers, 'decide.js'));
const WARM_MS = Number(process.env.WARM_MS || 500);
const RUN_MS = Number(process.env.RUN_MS || 1500);
const ROUNDS = Number(process.env.ROUNDS || 3);

const tasks = fs
  .readFileSync(corpusPath, 'utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l));
const policy = compilePolicy(JSON.parse(fs.readFileSync(policyPath, 'utf8')));
const POLICY_VERSION = '0123456789ab'; // a recrules version: 12 hex digits of a SHA-256
const MATCHED = new Map(); // rule -> "features.conditional_recording.<rule>", built once
const matchedOf = (rule) => {
  if (rule === null) return '';
  let m = MATCHED.get(rule);
  if (m === undefined) MATCHED.set(rule, (m = `features.conditional_recording.${rule}`));
  return m;
};

const ID_PREFIX = Math.floor(Math.random() * 2 ** 40)
  .toString(16)
  .padStart(10, '0');
let counter = 0;

function auditDecide(task) {
  const start = performance.now();
  const d = decide(policy, task);
  const attrs = task.attributes || {};
  const conference = attrs.conference;
  const record = {
    id: ID_PREFIX + (++counter & 0xffffff).toString(16).padStart(6, '0'),
    event: 'accept',
    action: d.action,
    mode: 'conference',
    conferenceRecord: d.action !== 'skip',
    rule: d.rule === null ? 'default' : d.rule,
    reason: d.reason,
    matched: matchedOf(d.rule),
    policy: POLICY_VERSION,
    taskSid: task.taskSid || '',
    reservationSid: task.sid || '',
    callSid: typeof attrs.call_sid === 'string' ? attrs.call_sid : '',
    conferenceSid: conference && typeof conference.sid === 'string' ? conference.sid : '',
    latencyNs: 0,
  };
  record.latencyNs = Math.round((performance.now() - start) * 1e6);
  return record;
}

const nowMs = () => performance.now();
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const pass = () => {
  let skips = 0;
  for (let i = 0; i < tasks.length; i++) if (auditDecide(tasks[i]).action === 'skip') skips++;
  return skips;
};

const expected = pass();
const warmEnd = nowMs() + WARM_MS;
while (nowMs() < warmEnd) pass();
const rates = [];
for (let r = 0; r < ROUNDS; r++) {
  let passes = 0;
  const t0 = nowMs();
  let t1;
  do {
    if (pass() !== expected) throw new Error('skip count changed between passes');
    passes++;
    t1 = nowMs();
  } while (t1 - t0 < RUN_MS);
  rates.push((passes * tasks.length) / ((t1 - t0) / 1000));
}
const m = median(rates);
console.log(
  `node_preparsed_audit_decisions_per_s=${Math.round(m)}  # ns_per_decision=${(1e9 / m).toFixed(1)} ` +
    `rounds=[${rates.map(Math.round).join(',')}] skips=${expected}`,
);
