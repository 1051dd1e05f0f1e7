// The client against a fake adapter on loopback: what it sends, what it does with the answers,
// and the local fallback when the adapter is slow, down or failing.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { RecrulesClient, RecrulesError, registerRecrules } from '../src/index.js';
import type { Decision, FeatureSettings, FlexTaskLike, Json } from '../src/types.js';
import { FakeAdapter } from './fake_adapter.js';
import { makeTask } from './helpers.js';

const features: FeatureSettings = {
  conditional_recording: { enabled: true, exclude_queues: ['HR Internal'], exclude_attributes: [] },
  pause_recording: { enabled: true, include_silence: false },
};

function decision(over: Partial<Decision>): Omit<Decision, 'source'> {
  return {
    id: 'd1', event: 'accept', action: 'record', mode: 'conference', channel: null, conferenceRecord: true,
    pauseBehavior: null, rule: 'default', reason: 'no rule decided: the policy default is record', matched: null,
    policy: 'abc123def456', ...over,
  };
}

class MemoryLog {
  lines: string[] = [];
  info = (m: string) => this.lines.push(`info ${m}`);
  warn = (m: string) => this.lines.push(`warn ${m}`);
  error = (m: string) => this.lines.push(`error ${m}`);
}

describe('RecrulesClient', () => {
  const fake = new FakeAdapter();
  let log: MemoryLog;
  let client: RecrulesClient;

  before(() => fake.start());
  after(() => fake.stop());
  beforeEach(() => {
    fake.seen.length = 0;
    fake.routes.clear();
    log = new MemoryLog();
    client = new RecrulesClient({ baseUrl: fake.url, features, getToken: () => 'flex-token', decideTimeoutMs: 300, callSidWaitMs: 200, callSidPollMs: 20, log });
  });

  it('beforeAcceptTask asks /v1/decide and sets conferenceRecord from the answer', async () => {
    fake.routes.set('/v1/decide', () => ({ body: decision({ action: 'skip', conferenceRecord: false, rule: 'consent.lua', reason: 'no consent' }) }));
    const payload: { conferenceOptions?: Record<string, unknown> } = {};
    const d = await client.beforeAcceptTask(payload, makeTask());
    assert.deepEqual(payload.conferenceOptions, { conferenceRecord: false });
    assert.equal(d.source, 'adapter');
    assert.equal(d.rule, 'consent.lua');
    const req = fake.seen[0];
    assert.equal(req?.headers['authorization'], 'Bearer flex-token');
    assert.deepEqual(req?.json, {
      event: 'accept',
      task: {
        sid: 'WR00000000000000000000000000000001', taskSid: 'WT00000000000000000000000000000001',
        attributes: { call_sid: 'CA00000000000000000000000000000001', direction: 'inbound' },
        queueName: 'Sales', queueSid: 'WQ00000000000000000000000000000001', taskChannelUniqueName: 'voice',
      },
    });
  });

  it('keeps other conferenceOptions', async () => {
    fake.routes.set('/v1/decide', () => ({ body: decision({}) }));
    const payload = { conferenceOptions: { endConferenceOnExit: true } as Record<string, unknown> };
    await client.beforeAcceptTask(payload, makeTask());
    assert.deepEqual(payload.conferenceOptions, { endConferenceOnExit: true, conferenceRecord: true });
  });

  it('falls back to the local exclusions on a timeout, and logs it', async () => {
    fake.routes.set('/v1/decide', () => ({ body: decision({}), delayMs: 2000 }));
    const payload: { conferenceOptions?: Record<string, unknown> } = {};
    const started = Date.now();
    const d = await client.beforeAcceptTask(payload, makeTask({ queueName: 'HR Internal' }));
    assert.ok(Date.now() - started < 1500, 'the timeout bounds the wait');
    assert.equal(d.source, 'local');
    assert.equal(d.action, 'skip');
    assert.deepEqual(payload.conferenceOptions, { conferenceRecord: false });
    assert.equal(
      log.lines.find((l) => l.startsWith('warn')),
      'warn recrules: /v1/decide timed out after 300 ms; decided accept for task WT00000000000000000000000000000001 locally ' +
        'with the built-in exclusions: skip (builtin:exclusions: task queue "HR Internal" is excluded from recording ' +
        '(features.conditional_recording.exclude_queues[0]))',
    );
  });

  it('falls back when the adapter cannot be reached', async () => {
    const down = new RecrulesClient({ baseUrl: 'http://127.0.0.1:1', features, log, decideTimeoutMs: 1000 });
    const d = await down.decide('accept', makeTask());
    assert.equal(d.source, 'local');
    assert.equal(d.action, 'record');
    assert.match(log.lines[0] ?? '', /^warn recrules: \/v1\/decide unreachable: .*decided accept .* locally with the built-in exclusions: record/);
  });

  it('falls back on a 5xx answer', async () => {
    fake.routes.set('/v1/decide', () => ({ status: 503, body: { error: 'starting' } }));
    const d = await client.decide('accept', makeTask());
    assert.equal(d.source, 'local');
    assert.match(log.lines[0] ?? '', /^warn recrules: \/v1\/decide answered 503; /);
  });

  it('throws RecrulesError on a 4xx from decide; beforeAcceptTask still decides locally', async () => {
    fake.routes.set('/v1/decide', () => ({ status: 400, body: { error: 'invalid_input', message: 'task.attributes: expected an object' } }));
    await assert.rejects(client.decide('accept', makeTask()), (e: unknown) => e instanceof RecrulesError && e.status === 400);
    const payload: { conferenceOptions?: Record<string, unknown> } = {};
    const d = await client.beforeAcceptTask(payload, makeTask());
    assert.equal(d.source, 'local');
    assert.deepEqual(payload.conferenceOptions, { conferenceRecord: true });
    assert.ok(log.lines.some((l) => l.startsWith('error recrules: recrules: /v1/decide answered 400')));
  });

  it('afterAcceptTask starts the dual-channel recording on the worker leg and writes the media link', async () => {
    fake.routes.set('/features/dual-channel-recording/flex/create-recording', () => ({
      body: { success: true, recording: { sid: 'RE1', accountSid: 'AC1', startTime: '2026-01-01T00:00:00Z' } },
    }));
    let written: unknown;
    const task: FlexTaskLike = makeTask({
      workerSid: 'WK2',
      conference: {
        conferenceSid: 'CF1',
        participants: [
          { participantType: 'customer', callSid: 'CAcustomer' },
          { participantType: 'worker', callSid: 'CAother', workerSid: 'WK9' },
          { participantType: 'worker', callSid: 'CAworker', workerSid: 'WK2' },
        ],
      },
      setAttributes: async (a: { [key: string]: Json }) => { written = a; },
    });
    const res = await client.afterAcceptTask(task, { ...decision({ mode: 'dual-channel', channel: 'worker', conferenceRecord: false }), source: 'adapter' });
    assert.equal(res?.success, true);
    assert.equal(fake.seen.length, 1);
    assert.deepEqual(fake.seen[0]?.form, { callSid: 'CAworker', Token: 'flex-token' });
    assert.deepEqual(written, {
      reservation_attributes: {
        WR00000000000000000000000000000001: {
          media: [{ url: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1', type: 'VoiceRecording', start_time: '2026-01-01T00:00:00Z', channels: ['customer', 'others'] }],
        },
      },
    });
  });

  it('afterAcceptTask waits for the leg to join the conference', async () => {
    fake.routes.set('/features/dual-channel-recording/flex/create-recording', () => ({ body: { success: true, recording: { sid: 'RE2' } } }));
    const task = makeTask({ attributes: {}, conference: { participants: [] } });
    setTimeout(() => task.conference?.participants?.push({ participantType: 'customer', callSid: 'CAlate' }), 50);
    const res = await client.afterAcceptTask(task, { ...decision({ mode: 'dual-channel', channel: 'customer' }), source: 'adapter' });
    assert.equal(res?.success, true);
    assert.deepEqual(fake.seen[0]?.form, { callSid: 'CAlate', Token: 'flex-token' });
  });

  it('afterAcceptTask starts nothing for conference mode or a skip', async () => {
    assert.equal(await client.afterAcceptTask(makeTask(), { ...decision({}), source: 'adapter' }), undefined);
    assert.equal(await client.afterAcceptTask(makeTask(), { ...decision({ mode: 'dual-channel', action: 'skip' }), source: 'adapter' }), undefined);
    assert.equal(fake.seen.length, 0);
  });

  it('pause asks pause_request, then pauses the call recording; resume uses its SID', async () => {
    fake.routes.set('/features/dual-channel-recording/flex/create-recording', () => ({ body: { success: true, recording: { sid: 'RE7' } } }));
    fake.routes.set('/v1/decide', (req) => {
      const event = (req.json as { event: string }).event;
      return { body: event === 'pause_request'
        ? decision({ event: 'pause_request', action: 'pause', mode: 'dual-channel', pauseBehavior: 'silence' })
        : decision({ event: 'resume_request', action: 'record', mode: 'dual-channel' }) };
    });
    fake.routes.set('/features/pause-recording/flex/pause-call-recording', () => ({ body: { success: true, recording: { sid: 'RE7', status: 'paused' } } }));
    fake.routes.set('/features/pause-recording/flex/resume-call-recording', () => ({ body: { success: true, recording: { sid: 'RE7', status: 'in-progress' } } }));
    const task = makeTask();
    await client.afterAcceptTask(task, { ...decision({ mode: 'dual-channel', channel: 'customer' }), source: 'adapter' });
    const paused = await client.pauseRecording(task);
    assert.equal(paused.allowed, true);
    assert.equal(paused.response?.success, true);
    const resumed = await client.resumeRecording(task);
    assert.equal(resumed.allowed, true);
    const paths = fake.seen.map((r) => r.path);
    assert.deepEqual(paths, [
      '/features/dual-channel-recording/flex/create-recording',
      '/v1/decide',
      '/features/pause-recording/flex/pause-call-recording',
      '/v1/decide',
      '/features/pause-recording/flex/resume-call-recording',
    ]);
    assert.deepEqual(fake.seen[2]?.form, { pauseBehavior: 'silence', recordingSid: 'RE7', callSid: 'CA00000000000000000000000000000001', Token: 'flex-token' });
    assert.deepEqual(fake.seen[4]?.form, { recordingSid: 'RE7', callSid: 'CA00000000000000000000000000000001', Token: 'flex-token' });
  });

  it('a refused pause touches no recording', async () => {
    fake.routes.set('/v1/decide', () => ({ body: decision({ event: 'pause_request', action: 'record', rule: 'trading_lines.lua', reason: 'trading lines are recorded in full' }) }));
    const r = await client.pauseRecording(makeTask());
    assert.equal(r.allowed, false);
    assert.equal(r.decision.reason, 'trading lines are recorded in full');
    assert.deepEqual(fake.seen.map((s) => s.path), ['/v1/decide']);
  });

  it('conference mode pauses and resumes the conference recording', async () => {
    fake.routes.set('/v1/decide', (req) => ({ body: (req.json as { event: string }).event === 'pause_request'
      ? decision({ action: 'pause', pauseBehavior: 'skip' }) : decision({}) }));
    fake.routes.set('/features/pause-recording/flex/pause-conference-recording', () => ({ body: { success: true, recording: { sid: 'RE9' } } }));
    fake.routes.set('/features/pause-recording/flex/resume-conference-recording', () => ({ body: { success: true, recording: { sid: 'RE9' } } }));
    const task = makeTask({ conference: { conferenceSid: 'CF5' } });
    assert.equal((await client.pauseRecording(task)).response?.success, true);
    assert.equal((await client.resumeRecording(task)).response?.success, true);
    assert.deepEqual(fake.seen[1]?.form, { pauseBehavior: 'skip', conferenceSid: 'CF5', Token: 'flex-token' });
    assert.deepEqual(fake.seen[3]?.form, { recordingSid: 'RE9', conferenceSid: 'CF5', Token: 'flex-token' });
  });

  it('passes on the adapter\'s Twilio error', async () => {
    fake.routes.set('/features/dual-channel-recording/flex/create-recording', () => ({
      status: 502, body: { success: false, message: 'the call already ended', twilioErrorCode: 21220, twilioDocPage: 'https://www.twilio.com/docs/errors/21220' },
    }));
    const res = await client.afterAcceptTask(makeTask(), { ...decision({ mode: 'dual-channel', channel: 'customer' }), source: 'adapter' });
    assert.equal(res?.success, false);
    assert.equal(res?.twilioErrorCode, 21220);
    assert.ok(log.lines.includes('error recrules: task WT00000000000000000000000000000001: starting the recording failed: the call already ended'));
  });

  it('registerRecrules wires AcceptTask and the pause actions', async () => {
    fake.routes.set('/v1/decide', () => ({ body: decision({ action: 'skip', conferenceRecord: false }) }));
    const listeners = new Map<string, (p: unknown) => unknown>();
    const registered = new Map<string, (p: unknown) => unknown>();
    registerRecrules({ addListener: (n, l) => listeners.set(n, l), registerAction: (n, a) => registered.set(n, a) }, client);
    assert.deepEqual([...registered.keys()], ['PauseCallRecording', 'ResumeCallRecording']);
    const payload: { task: FlexTaskLike; conferenceOptions?: Record<string, unknown> } = { task: makeTask() };
    await listeners.get('beforeAcceptTask')?.(payload);
    assert.deepEqual(payload.conferenceOptions, { conferenceRecord: false });
    const chat: { task: FlexTaskLike; conferenceOptions?: Record<string, unknown> } = { task: makeTask({ taskChannelUniqueName: 'chat' }) };
    await listeners.get('beforeAcceptTask')?.(chat);
    assert.equal(chat.conferenceOptions, undefined);
    await listeners.get('afterAcceptTask')?.({ task: payload.task });
    assert.equal(fake.seen.length, 1, 'only the voice task was decided; a skip starts nothing');
  });
});
