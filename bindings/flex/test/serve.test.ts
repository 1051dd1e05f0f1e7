// The client against the real `recrules serve` on loopback (skipped until the executable that
// CTest passes has the serve command). Same policy, same task: the adapter's decision and the
// local fallback agree; when the server stops, the client falls back.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RecrulesClient } from '../src/index.js';
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

describe('against the real recrules serve', { skip }, () => {
  let server: ChildProcess | undefined;
  let policy: ReturnType<typeof writePolicy> | undefined;
  let baseUrl = '';
  const warnings: string[] = [];
  const log = { info: () => {}, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };

  before(async () => {
    policy = writePolicy(features);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TWILIO_')));
    server = spawn(recrulesBin as string, ['serve', '--policy', policy.dir, '--listen', `127.0.0.1:${port}`], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 15000;
    for (;;) {
      try {
        if ((await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(500) })).ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline || server.exitCode !== null) throw new Error('recrules serve did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
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
