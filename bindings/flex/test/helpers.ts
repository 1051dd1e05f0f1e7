// Shared test helpers: tasks, policies, temp folders, the recrules binary from CTest.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureSettings, FlexTaskLike, Json } from '../src/types.js';

/** The recrules executable, passed by CTest; undefined when the tests run alone. */
export const recrulesBin: string | undefined = process.env['RECRULES_BIN'] || undefined;

export function makeTask(overrides: Partial<FlexTaskLike> & { attributes?: { [key: string]: Json } } = {}): FlexTaskLike {
  return {
    sid: 'WR00000000000000000000000000000001',
    taskSid: 'WT00000000000000000000000000000001',
    queueName: 'Sales',
    queueSid: 'WQ00000000000000000000000000000001',
    taskChannelUniqueName: 'voice',
    attributes: { call_sid: 'CA00000000000000000000000000000001', direction: 'inbound' },
    ...overrides,
  };
}

/** A policy folder with the built-in exclusions only and the default record. */
export function writePolicy(features: FeatureSettings): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'recrules_flex_test.'));
  const policy = { features, recrules: { rules: ['builtin:exclusions'], default: 'record' } };
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy, null, 2));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
