// The local fallback: the built-in exclusions with the engine's semantics, case by case, and the
// same cases checked against the real engine (recrules decide) when CTest passes RECRULES_BIN.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { decideLocally, findExclusion, jsonEquals, walkPath } from '../src/exclusions.js';
import type { FeatureSettings, FlexTaskLike, Json, RecrulesEvent } from '../src/types.js';
import { makeTask, recrulesBin, writePolicy } from './helpers.js';

const conditional: FeatureSettings = {
  conditional_recording: {
    enabled: true,
    exclude_queues: ['HR Internal', 'WQ0123456789abcdef0123456789abcdef'],
    exclude_attributes: [
      { key: 'customer.consent.recording', value: 'denied' },
      { key: 'tags', value: 'do_not_record' },
      { key: 'priority', value: 1 },
      { key: 'vip', value: true },
      { key: 'profile', value: { tier: 'gold' } },
      { key: 'direction', value: 'outbound' },
    ],
  },
};

const dualOverrides: FeatureSettings = {
  conditional_recording: { enabled: true, exclude_queues: ['Sales'], exclude_attributes: [] },
  dual_channel_recording: {
    enabled: true,
    channel: 'worker',
    exclude_queues: ['Support'],
    exclude_attributes: [{ key: 'direction', value: 'outbound' }],
  },
  pause_recording: { enabled: true, include_silence: true },
};

const nothingEnabled: FeatureSettings = {
  conditional_recording: { enabled: false, exclude_queues: ['Sales'] },
  pause_recording: { enabled: false },
};

// Issue 23 item 12: array index steps, as the template's value[step] reads them.
const indexed: FeatureSettings = {
  conditional_recording: {
    enabled: true,
    exclude_attributes: [
      { key: 'customers.0.consent', value: 'denied' },
      { key: 'legs.1', value: 'pci' },
      { key: 'size', value: 5 },
    ],
  },
};

interface Case {
  name: string;
  features: FeatureSettings;
  task: FlexTaskLike;
  event?: RecrulesEvent;
  action: 'record' | 'skip' | 'pause';
  matched?: string;
}

const attrs = (a: { [key: string]: Json }) => makeTask({ attributes: { call_sid: 'CA1', ...a } });

const cases: Case[] = [
  { name: 'no exclusion matches: record', features: conditional, task: makeTask(), action: 'record' },
  { name: 'queue by name', features: conditional, task: makeTask({ queueName: 'HR Internal' }), action: 'skip', matched: 'features.conditional_recording.exclude_queues[0]' },
  { name: 'queue by SID', features: conditional, task: makeTask({ queueSid: 'WQ0123456789abcdef0123456789abcdef' }), action: 'skip', matched: 'features.conditional_recording.exclude_queues[1]' },
  { name: 'queue names are case-sensitive', features: conditional, task: makeTask({ queueName: 'hr internal' }), action: 'record' },
  { name: 'dot path', features: conditional, task: attrs({ customer: { consent: { recording: 'denied' } } }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[0]' },
  { name: 'missing step: no match', features: conditional, task: attrs({ customer: {} }), action: 'record' },
  { name: 'null step: no match', features: conditional, task: attrs({ customer: null }), action: 'record' },
  { name: 'path through a string: no match', features: conditional, task: attrs({ customer: 'denied' }), action: 'record' },
  { name: 'array containment', features: conditional, task: attrs({ tags: ['vip', 'do_not_record'] }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[1]' },
  { name: 'array without the value', features: conditional, task: attrs({ tags: ['vip'] }), action: 'record' },
  { name: 'number equals number', features: conditional, task: attrs({ priority: 1 }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[2]' },
  { name: '"1" is not 1', features: conditional, task: attrs({ priority: '1' }), action: 'record' },
  { name: '1.0 equals 1', features: conditional, task: attrs({ priority: 1.0 }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[2]' },
  { name: 'true equals true', features: conditional, task: attrs({ vip: true }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[3]' },
  { name: '"true" is not true', features: conditional, task: attrs({ vip: 'true' }), action: 'record' },
  { name: 'object equals object (any key order)', features: conditional, task: attrs({ profile: { tier: 'gold' } }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[4]' },
  { name: 'object with more keys is not equal', features: conditional, task: attrs({ profile: { tier: 'gold', since: 2020 } }), action: 'record' },
  { name: 'string values are case-sensitive', features: conditional, task: attrs({ direction: 'Outbound' }), action: 'record' },
  { name: 'queues before attributes', features: conditional, task: makeTask({ queueName: 'HR Internal', attributes: { direction: 'outbound' } }), action: 'skip', matched: 'features.conditional_recording.exclude_queues[0]' },
  { name: 'dual-channel lists override conditional ones (conditional queue ignored)', features: dualOverrides, task: makeTask({ queueName: 'Sales' }), action: 'record' },
  { name: 'dual-channel queue', features: dualOverrides, task: makeTask({ queueName: 'Support' }), action: 'skip', matched: 'features.dual_channel_recording.exclude_queues[0]' },
  { name: 'dual-channel attribute', features: dualOverrides, task: attrs({ direction: 'outbound' }), action: 'skip', matched: 'features.dual_channel_recording.exclude_attributes[0]' },
  { name: 'nothing enabled: record', features: nothingEnabled, task: makeTask(), action: 'record' },
  { name: 'pause granted when enabled', features: dualOverrides, task: makeTask(), event: 'pause_request', action: 'pause' },
  { name: 'pause refused when not enabled', features: nothingEnabled, task: makeTask(), event: 'pause_request', action: 'record' },
  { name: 'resume granted', features: conditional, task: makeTask(), event: 'resume_request', action: 'record' },
  { name: 'pause request on an excluded call: skip', features: dualOverrides, task: makeTask({ queueName: 'Support' }), event: 'pause_request', action: 'skip', matched: 'features.dual_channel_recording.exclude_queues[0]' },
  { name: 'resume request on an excluded call: skip', features: conditional, task: makeTask({ queueName: 'HR Internal' }), event: 'resume_request', action: 'skip', matched: 'features.conditional_recording.exclude_queues[0]' },
  { name: 'index step: the first element', features: indexed, task: attrs({ customers: [{ consent: 'denied' }] }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[0]' },
  { name: 'index step: another element does not match', features: indexed, task: attrs({ customers: [{ consent: 'given' }, { consent: 'denied' }] }), action: 'record' },
  { name: 'index step: an element of an array of strings', features: indexed, task: attrs({ legs: ['agent', 'pci'] }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[1]' },
  { name: 'index step: past the end', features: indexed, task: attrs({ legs: ['pci'] }), action: 'record' },
  { name: 'index step: strings are not indexed', features: indexed, task: attrs({ legs: 'xpci' }), action: 'record' },
  { name: 'index step: an object key "0" is a key', features: indexed, task: attrs({ customers: { 0: { consent: 'denied' } } }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[0]' },
  { name: 'a number beyond 64 bits (2**64) is read, not refused', features: indexed, task: attrs({ big: 2 ** 64, size: 5 }), action: 'skip', matched: 'features.conditional_recording.exclude_attributes[2]' },
  { name: 'update re-evaluates exclusions', features: conditional, task: attrs({ vip: true }), event: 'update', action: 'skip', matched: 'features.conditional_recording.exclude_attributes[3]' },
];

describe('built-in exclusions, locally', () => {
  for (const c of cases) {
    it(c.name, () => {
      const d = decideLocally(c.features, c.event ?? 'accept', c.task);
      assert.equal(d.action, c.action);
      assert.equal(d.matched, c.matched ?? null);
      assert.equal(d.rule, c.matched ? 'builtin:exclusions' : 'default');
      assert.equal(d.source, 'local');
    });
  }

  it('conferenceRecord follows mode and action', () => {
    assert.equal(decideLocally(conditional, 'accept', makeTask()).conferenceRecord, true);
    assert.equal(decideLocally(conditional, 'accept', makeTask({ queueName: 'HR Internal' })).conferenceRecord, false);
    const dual = decideLocally(dualOverrides, 'accept', makeTask());
    assert.equal(dual.mode, 'dual-channel');
    assert.equal(dual.channel, 'worker');
    assert.equal(dual.conferenceRecord, false);
  });

  it('reasons name the entry that matched', () => {
    assert.deepEqual(findExclusion(conditional, makeTask({ queueName: 'HR Internal' })), {
      reason: 'task queue "HR Internal" is excluded from recording (features.conditional_recording.exclude_queues[0])',
      matched: 'features.conditional_recording.exclude_queues[0]',
    });
    assert.equal(
      findExclusion(conditional, attrs({ tags: ['do_not_record'] }))?.reason,
      'task attribute tags = "do_not_record" is excluded from recording (features.conditional_recording.exclude_attributes[1])',
    );
  });

  it('walkPath and jsonEquals', () => {
    assert.equal(walkPath({ a: { b: 0 } }, 'a.b'), 0);
    assert.equal(walkPath({ a: [{ b: 1 }] }, 'a.0.b'), 1); // array index steps, as the template
    assert.equal(walkPath({ a: [{ b: 1 }] }, 'a.00.b'), undefined); // "00" is not an index
    assert.equal(walkPath({ a: [1, 2] }, 'a.length'), undefined);
    assert.equal(walkPath({ a: 'xy' }, 'a.0'), undefined); // strings are not indexed
    assert.equal(walkPath({ a: { b: null } }, 'a.b'), undefined);
    assert.equal(jsonEquals([1, 2], [2, 1]), false);
    assert.equal(jsonEquals({}, []), false);
    assert.equal(jsonEquals(null, null), true);
  });
});

describe('the same cases on the real engine (recrules decide)', { skip: recrulesBin ? false : 'RECRULES_BIN not set' }, () => {
  const byFeatures = new Map<FeatureSettings, Case[]>();
  for (const c of cases) byFeatures.set(c.features, [...(byFeatures.get(c.features) ?? []), c]);
  let n = 0;
  for (const [features, group] of byFeatures) {
    it(`policy ${++n}: ${group.length} cases agree field by field`, () => {
      const policy = writePolicy(features);
      try {
        const input = group
          .map((c) => JSON.stringify({ event: c.event ?? 'accept', task: c.task }))
          .join('\n');
        const run = spawnSync(recrulesBin as string, ['decide', '--policy', policy.dir, '--jsonl'], {
          input,
          encoding: 'utf8',
          timeout: 20000,
        });
        assert.equal(run.status, 0, run.stderr);
        const lines = run.stdout.trim().split('\n');
        assert.equal(lines.length, group.length);
        group.forEach((c, i) => {
          const engine = JSON.parse(lines[i] as string) as Record<string, unknown>;
          const local = decideLocally(features, c.event ?? 'accept', c.task) as unknown as Record<string, unknown>;
          for (const field of ['event', 'action', 'mode', 'channel', 'conferenceRecord', 'pauseBehavior', 'rule', 'reason', 'matched']) {
            assert.deepEqual(local[field], engine[field], `${c.name}: field ${field}`);
          }
        });
      } finally {
        policy.cleanup();
      }
    });
  }
});
