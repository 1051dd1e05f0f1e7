// The processes a conformance test talks to, all on 127.0.0.1: the project's fake Twilio,
// `recrules serve` on a policy written for the test, and the template's serverless functions
// (lib/functions.js) as the reference. Every wait is bounded.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startFunctions } = require('./functions');

const ACCOUNT_SID = 'AC' + 'a'.repeat(32);
const AUTH_TOKEN = 'fake-auth-token';
const WORKSPACE_SID = 'WS' + '1'.repeat(32);
const SHARED_KEY_SECRET = 'conformance-shared-key-secret';
const AGENT_TOKEN = 'agent-flex-token';
const WORKER_SID = 'WK' + '2'.repeat(32);
// The plugin runs in the Flex UI; recrules is started with this origin allowed.
const FLEX_ORIGIN = 'https://flex.twilio.com';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/conformance/run.sh sets it)`);
  return value;
}

let sidCounter = 0;
// A fresh SID per call so that tests sharing one fake Twilio never see each other's requests.
function newSid(prefix) {
  sidCounter += 1;
  const tail = (process.pid.toString(16) + sidCounter.toString(16).padStart(8, '0') +
                Date.now().toString(16)).padStart(32, '0').slice(-32);
  return prefix + tail;
}

async function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Children still running when the test process ends (a failure, a timeout, Ctrl-C) end too,
// and their folders go.
const running = new Set();
const folders = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of folders) fs.rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
}

// Starts a child and resolves with the first match of `pattern` in its stdout or stderr.
function startChild(command, args, options, pattern, name) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const look = (chunk) => {
      output += chunk.toString();
      const m = pattern.exec(output);
      if (m) resolve(m);
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(
        new Error(`${name} exited (${code}) before it was ready:\n${output}`)));
  });
  return { child, ready: within(10000, ready, `${name} start`), output: () => output };
}

async function waitFor(fn, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

class FakeTwilio {
  constructor(url) {
    this.url = url;
  }
  async control(method, route, body) {
    const res = await fetch(`${this.url}/__control/${route}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      throw new Error(`fake Twilio ${method} ${route}: ${res.status} ${await res.text()}`);
    }
    return res.json();
  }
  seed(state) {
    return this.control('POST', 'seed', state);
  }
  async requests() {
    return (await this.control('GET', 'requests')).requests;
  }
  // Journal entries whose path ends with `suffix` (and whose method is `method`).
  async requestsTo(suffix, method = 'POST') {
    return (await this.requests()).filter((r) => r.method === method && r.path.endsWith(suffix));
  }
  recordingPosts(callSid) {
    return this.requestsTo(`/Calls/${callSid}/Recordings.json`);
  }
  // Recording updates on a call (Status=paused / in-progress).
  async recordingUpdates(callSid) {
    return (await this.requests()).filter(
      (r) => r.method === 'POST' && r.path.includes(`/Calls/${callSid}/Recordings/`));
  }
  async task(taskSid) {
    const state = await this.control('GET', 'state');
    const task = state.tasks[taskSid];
    return task ? { ...task, attributes: JSON.parse(task.attributes) } : null;
  }
}

function writePolicy(dir, sourceDir, channel) {
  const rules = path.join(dir, 'rules');
  fs.mkdirSync(rules, { recursive: true });
  for (const rule of ['pci_pause.lua', 'trading_lines.lua']) {
    fs.copyFileSync(path.join(sourceDir, 'rules', rule), path.join(rules, rule));
  }
  const policy = {
    features: {
      dual_channel_recording: { enabled: true, channel, exclude_queues: [],
                                exclude_attributes: [] },
      pause_recording: { enabled: true, include_silence: false },
    },
    recrules: {
      rules: ['builtin:non_voice', 'rules/pci_pause.lua', 'rules/trading_lines.lua',
              'builtin:exclusions'],
      default: 'record',
      on_rule_error: 'next',
    },
  };
  fs.writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(policy, null, 2));
  return policy;
}

// Starts everything; `stop()` ends it. options.channel: the dual-channel channel of the policy
// and of the plugin configuration ('worker' by default).
async function startStack(options = {}) {
  const channel = options.channel || 'worker';
  const sourceDir = env('RECRULES_SOURCE_DIR');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recrules-conformance-'));
  folders.add(dir);
  const children = [];
  const stop = async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await within(5000, exited, 'child exit').catch(() => c.kill('SIGKILL'));
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    folders.delete(dir);
  };
  try {
    const fake = startChild(process.execPath, [env('RECRULES_FAKE_TWILIO'), '--port', '0',
                            '--account-sid', ACCOUNT_SID, '--auth-token', AUTH_TOKEN], {},
                            /fake_twilio listening (127\.0\.0\.1:\d+)/, 'fake Twilio');
    children.push(fake.child);
    const fakeUrl = `http://${(await fake.ready)[1]}`;
    const twilio = new FakeTwilio(fakeUrl);

    const policyDir = path.join(dir, 'policy');
    writePolicy(policyDir, sourceDir, channel);
    const decisionLog = path.join(dir, 'decisions.jsonl');
    const serveEnv = {
      PATH: process.env.PATH,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_WEBHOOK_SHARED_KEY: SHARED_KEY_SECRET,
      // The workspace of update-task-attributes (the template's functions read the same name).
      TWILIO_FLEX_WORKSPACE_SID: WORKSPACE_SID,
      RECRULES_TWILIO_API_URL: fakeUrl,
      RECRULES_TWILIO_IAM_URL: fakeUrl,
      RECRULES_TWILIO_TASKROUTER_URL: fakeUrl,
      RECRULES_TWILIO_TIMEOUT_MS: '3000',
    };
    const serve = startChild(env('RECRULES_BIN'),
        ['serve', '--policy', policyDir, '--listen', '127.0.0.1:0', '--decision-log', decisionLog,
         '--cors-origin', FLEX_ORIGIN, '--no-watch', '--shutdown-grace-ms', '500'],
        { env: serveEnv }, /listening on (127\.0\.0\.1:\d+)/, 'recrules serve');
    children.push(serve.child);
    const recrulesUrl = `http://${(await serve.ready)[1]}`;

    const reference = await startFunctions({
      templateDir: env('RECRULES_FLEX_TEMPLATE'),
      fakeTwilioUrl: fakeUrl,
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      workspaceSid: WORKSPACE_SID,
    });
    await twilio.seed({
      tokens: { [AGENT_TOKEN]: { valid: true, identity: 'alice', worker_sid: WORKER_SID,
                                 roles: ['agent'] } },
    });
    return {
      twilio,
      recrulesUrl,
      referenceUrl: reference.url,
      stop: async () => {
        await reference.close();
        await stop();
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

// POSTs a form; `fields` is an object or an array of [name, value] pairs (to repeat a name).
async function postForm(url, fields, headers = {}) {
  const body = new URLSearchParams(Array.isArray(fields) ? fields : Object.entries(fields));
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: body.toString(),
  });
  return answer(res);
}

async function answer(res) {
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (e) {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

module.exports = {
  ACCOUNT_SID, AUTH_TOKEN, WORKSPACE_SID, SHARED_KEY_SECRET, AGENT_TOKEN, WORKER_SID, FLEX_ORIGIN,
  newSid, startStack, postForm, answer, waitFor,
};
