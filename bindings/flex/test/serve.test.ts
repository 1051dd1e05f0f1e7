// The client against the real `recrules serve` on loopback (skipped until the executable that
// CTest passes has the serve command). Same policy, same task: the adapter's decision and the
// local fallback agree; when the server stops, the client falls back.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RecrulesClient, RecrulesError } from '../src/index.js';
import { decideLocally } from '../src/exclusions.js';
import type { FeatureSettings } from '../src/types.js';
import { makeTask, recrulesBin, writePolicy } from './helpers.js';

function serveAvailable(): boolean {
  if (!recrulesBin) return false;
  // The subcommand list of `recrules --help` names serve once the HTTP adapter is built in.
  const help = spawnSync(recrulesBin, ['--help'], { encoding: 'utf8', timeout: 10000 });
  return help.status === 0 && /^\s+serve\s/m.test(help.stdout);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const features: FeatureSettings = {
  conditional_recording: {
    enabled: true,
    exclude_queues: ['HR Internal'],
    exclude_attributes: [{ key: 'customer.consent.recording', value: 'denied' }],
  },
  pause_recording: { enabled: true, include_silence: true },
};

const skip = serveAvailable() ? false : 'recrules serve is not available in RECRULES_BIN yet';

/** Starts `recrules serve` on a free loopback port and waits for /healthz. */
async function startServe(policyDir: string, env: NodeJS.ProcessEnv): Promise<{ server: ChildProcess; baseUrl: string }> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = spawn(recrulesBin as string, ['serve', '--policy', policyDir, '--listen', `127.0.0.1:${port}`], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      if ((await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(500) })).ok) return { server, baseUrl };
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || server.exitCode !== null) {
      server.kill('SIGTERM');
      throw new Error('recrules serve did not come up');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function withoutTwilio(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TWILIO_') && !k.startsWith('RECRULES_TWILIO_')));
}

describe('against the real recrules serve', { skip }, () => {
  let server: ChildProcess | undefined;
  let policy: ReturnType<typeof writePolicy> | undefined;
  let baseUrl = '';
  const warnings: string[] = [];
  const log = { info: () => {}, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };

  before(async () => {
    policy = writePolicy(features);
    ({ server, baseUrl } = await startServe(policy.dir, withoutTwilio()));
  });

  after(() => {
    server?.kill('SIGTERM');
    policy?.cleanup();
  });

  it('decides through the adapter, and agrees with the local fallback', async () => {
    const client = new RecrulesClient({ baseUrl, features, log, decideTimeoutMs: 3000 });
    const tasks = [
      makeTask(),
      makeTask({ queueName: 'HR Internal' }),
      makeTask({ attributes: { customer: { consent: { recording: 'denied' } } } }),
    ];
    for (const task of tasks) {
      for (const event of ['accept', 'pause_request', 'resume_request'] as const) {
        const remote = await client.decide(event, task);
        assert.equal(remote.source, 'adapter');
        const local = decideLocally(features, event, task);
        for (const field of ['action', 'mode', 'conferenceRecord', 'pauseBehavior', 'rule', 'reason', 'matched'] as const) {
          assert.deepEqual(local[field], remote[field], `${event} ${task.queueName}: ${field}`);
        }
      }
    }
    const payload: { conferenceOptions?: Record<string, unknown> } = {};
    await client.beforeAcceptTask(payload, makeTask({ queueName: 'HR Internal' }));
    assert.deepEqual(payload.conferenceOptions, { conferenceRecord: false });
    assert.deepEqual(warnings, []);
  });

  it('falls back locally once the server is gone', async () => {
    server?.kill('SIGTERM');
    await new Promise((r) => server?.once('exit', r));
    const client = new RecrulesClient({ baseUrl, features, log, decideTimeoutMs: 1000 });
    const d = await client.decide('accept', makeTask({ queueName: 'HR Internal' }));
    assert.equal(d.source, 'local');
    assert.equal(d.action, 'skip');
    assert.equal(warnings.length, 1);
  });
});

// The project's fake Twilio (tests/fake_twilio/fake_twilio.js), passed by CTest.
const fakeTwilioScript = process.env['RECRULES_FAKE_TWILIO'];
const skipTwilio = skip || (fakeTwilioScript && existsSync(fakeTwilioScript) ? false : 'RECRULES_FAKE_TWILIO not set');

describe('against the real recrules serve with Twilio (the fake) behind it', { skip: skipTwilio }, () => {
  const accountSid = 'AC' + 'a'.repeat(32);
  const callSid = 'CA' + '1'.repeat(32);
  const dualFeatures: FeatureSettings = {
    dual_channel_recording: { enabled: true, channel: 'customer', exclude_queues: ['HR Internal'], exclude_attributes: [] },
    pause_recording: { enabled: true, include_silence: true },
  };
  let fake: ChildProcess | undefined;
  let fakeUrl = '';
  let server: ChildProcess | undefined;
  let baseUrl = '';
  let policy: ReturnType<typeof writePolicy> | undefined;
  const lines: string[] = [];
  const log = { info: () => {}, warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };

  before(async () => {
    fake = spawn(process.execPath, [fakeTwilioScript as string, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: fake?.stdout as NodeJS.ReadableStream });
      rl.once('line', (line) => resolve(line));
      fake?.once('exit', () => reject(new Error('fake twilio exited')));
      setTimeout(() => reject(new Error('fake twilio did not start')), 10000).unref();
    });
    const m = /listening (127\.0\.0\.1:\d+)/.exec(first);
    assert.ok(m, first);
    fakeUrl = `http://${m[1]}`;
    const seeded = await fetch(`${fakeUrl}/__control/seed`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        calls: { [callSid]: { status: 'in-progress' } },
        tokens: { 'agent-token': { valid: true, identity: 'alice', worker_sid: 'WK1', roles: ['agent'], expiration: '2099-01-01T00:00:00Z' } },
      }),
    });
    assert.equal(seeded.status, 200);
    policy = writePolicy(dualFeatures);
    ({ server, baseUrl } = await startServe(policy.dir, {
      ...withoutTwilio(),
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_AUTH_TOKEN: 'fake-auth-token',
      RECRULES_TWILIO_API_URL: fakeUrl,
      RECRULES_TWILIO_IAM_URL: fakeUrl,
      RECRULES_TWILIO_TASKROUTER_URL: fakeUrl,
    }));
  });

  after(() => {
    server?.kill('SIGTERM');
    fake?.kill('SIGTERM');
    policy?.cleanup();
  });

  it('decides, starts the dual-channel recording, pauses and resumes it through Twilio', async () => {
    const client = new RecrulesClient({ baseUrl, features: dualFeatures, getToken: () => 'agent-token', log, decideTimeoutMs: 3000, actionTimeoutMs: 10000 });
    const task = makeTask({ attributes: { call_sid: callSid, direction: 'inbound' } });
    const payload: { conferenceOptions?: Record<string, unknown> } = {};
    const decision = await client.beforeAcceptTask(payload, task);
    assert.equal(decision.source, 'adapter');
    assert.equal(decision.mode, 'dual-channel');
    assert.deepEqual(payload.conferenceOptions, { conferenceRecord: false });

    const started = await client.afterAcceptTask(task, decision);
    assert.equal(started?.success, true, JSON.stringify(started));
    const recordingSid = started?.recording?.['sid'];
    assert.match(String(recordingSid), /^RE/);

    const paused = await client.pauseRecording(task);
    assert.equal(paused.allowed, true);
    assert.equal(paused.response?.success, true, JSON.stringify(paused.response));
    const resumed = await client.resumeRecording(task);
    assert.equal(resumed.allowed, true);
    assert.equal(resumed.response?.success, true, JSON.stringify(resumed.response));

    const journal = (await (await fetch(`${fakeUrl}/__control/requests`)).json()) as {
      requests: { method: string; path: string; form?: Record<string, string> }[];
    };
    const recordingCalls = journal.requests.filter((r) => r.path.includes(`/Calls/${callSid}/Recordings`));
    assert.deepEqual(
      recordingCalls.map((r) => [r.path, r.form?.['RecordingChannels'] ?? r.form?.['Status'], r.form?.['PauseBehavior']]),
      [
        [`/2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Recordings.json`, 'dual', undefined],
        [`/2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Recordings/${String(recordingSid)}.json`, 'paused', 'silence'],
        [`/2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Recordings/${String(recordingSid)}.json`, 'in-progress', undefined],
      ],
    );
    assert.deepEqual(lines, []);
  });

  it('an excluded queue starts nothing', async () => {
    const client = new RecrulesClient({ baseUrl, features: dualFeatures, getToken: () => 'agent-token', log, decideTimeoutMs: 3000 });
    const task = makeTask({ queueName: 'HR Internal', attributes: { call_sid: callSid } });
    const decision = await client.decide('accept', task);
    assert.equal(decision.action, 'skip');
    assert.equal(await client.afterAcceptTask(task, decision), undefined);
  });

  it('a rejected token is not a reason to record: the plugin decides locally and says so', async () => {
    const client = new RecrulesClient({ baseUrl, features: dualFeatures, getToken: () => 'stolen-token', log, decideTimeoutMs: 3000 });
    await assert.rejects(client.decide('accept', makeTask()), (e: unknown) => e instanceof RecrulesError && e.status === 403);
    const payload: { conferenceOptions?: Record<string, unknown> } = {};
    const d = await client.beforeAcceptTask(payload, makeTask({ queueName: 'HR Internal' }));
    assert.equal(d.source, 'local');
    assert.equal(d.action, 'skip');
    assert.ok(lines.some((l) => l.includes('/v1/decide answered 403')), lines.join('\n'));
  });
});
