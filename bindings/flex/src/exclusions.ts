// The built-in exclusions, evaluated locally with the engine's semantics (builtin:exclusions in
// engine/src/builtin_rules.cc): used when the adapter cannot be reached, so a call is never held
// up and never recorded against the admin's exclusion lists.
//
//  - exclude_queues: an entry equal to the queue name or the queue SID, exactly.
//  - exclude_attributes: walk the dot path as the Flex template does (value[step]): objects by
//    key, arrays by a step that is an array index ("0", "12"; not "01", "-1", "length"); a
//    missing or null step, or a step into anything else, is no match. An array found
//    there matches when one element equals the value; anything else must equal it. Equality is
//    strict JSON equality: 1 is not "1", true is not "true", an object is never a string.
//  - queues before attributes; entries in configuration order.
//  - when dual-channel recording is enabled its own lists apply and the conditional ones not.
import type { Decision, ExclusionSettings, FeatureSettings, FlexTaskLike, Json, RecrulesEvent } from './types.js';

/** Whether a path step indexes an array, as a JavaScript property key does: "0", "12"; not "01". */
export function arrayIndexOf(step: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(step)) return undefined;
  const index = Number(step);
  return index < 2 ** 32 - 1 ? index : undefined;
}

/**
 * The value at a dot path, or undefined when a step is missing or null, or steps into a value
 * that is neither an object nor an array (strings are not indexed).
 */
export function walkPath(root: Json | undefined, dotPath: string): Json | undefined {
  let cur: Json | undefined = root;
  for (const step of dotPath.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    let next: Json | undefined;
    if (Array.isArray(cur)) {
      const index = arrayIndexOf(step);
      next = index === undefined ? undefined : cur[index];
    } else {
      if (!Object.prototype.hasOwnProperty.call(cur, step)) return undefined;
      next = cur[step];
    }
    if (next === null || next === undefined) return undefined;
    cur = next;
  }
  return cur;
}

/** Strict JSON equality: same type and same value, arrays in order, objects as key sets. */
export function jsonEquals(a: Json, b: Json): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a !== typeof b) return false;
  if (typeof a !== 'object') return a === b;
  const bo = b as object;
  if (Array.isArray(a) !== Array.isArray(bo)) return false;
  if (Array.isArray(a)) {
    const bs = bo as Json[];
    return a.length === bs.length && a.every((x, i) => jsonEquals(x, bs[i] as Json));
  }
  const ao = a as { [key: string]: Json };
  const bobj = bo as { [key: string]: Json };
  const keys = Object.keys(ao);
  if (keys.length !== Object.keys(bobj).length) return false;
  return keys.every((k) => Object.prototype.hasOwnProperty.call(bobj, k) && jsonEquals(ao[k] as Json, bobj[k] as Json));
}

/** An exclusion value matches what was found: element containment for arrays, else equality. */
export function attributeMatches(found: Json, value: Json): boolean {
  if (Array.isArray(found)) return found.some((item) => jsonEquals(item, value));
  return jsonEquals(found, value);
}

export interface ExclusionHit {
  reason: string;
  matched: string;
}

/** The exclusion lists in force: dual-channel's when enabled, else conditional's when enabled. */
export function activeExclusions(features: FeatureSettings): { source: string; list: ExclusionSettings } | undefined {
  if (features.dual_channel_recording?.enabled) {
    return { source: 'features.dual_channel_recording', list: features.dual_channel_recording };
  }
  if (features.conditional_recording?.enabled) {
    return { source: 'features.conditional_recording', list: features.conditional_recording };
  }
  return undefined;
}

/** Why the task is excluded from recording, or undefined when no exclusion matches. */
export function findExclusion(features: FeatureSettings, task: Pick<FlexTaskLike, 'queueName' | 'queueSid' | 'attributes'>): ExclusionHit | undefined {
  const active = activeExclusions(features);
  if (!active) return undefined;
  const queues = active.list.exclude_queues ?? [];
  for (let i = 0; i < queues.length; i++) {
    const q = queues[i];
    if (q === undefined || q === '') continue;
    if (q === task.queueName || q === task.queueSid) {
      const matched = `${active.source}.exclude_queues[${i}]`;
      return { reason: `task queue "${q}" is excluded from recording (${matched})`, matched };
    }
  }
  const attributes = active.list.exclude_attributes ?? [];
  for (let i = 0; i < attributes.length; i++) {
    const a = attributes[i];
    if (a === undefined) continue;
    const found = walkPath(task.attributes, a.key);
    if (found !== undefined && attributeMatches(found, a.value)) {
      const matched = `${active.source}.exclude_attributes[${i}]`;
      return {
        reason: `task attribute ${a.key} = ${JSON.stringify(a.value)} is excluded from recording (${matched})`,
        matched,
      };
    }
  }
  return undefined;
}

let localCounter = 0;

/**
 * The decision the engine would make on a policy of the built-in exclusions with the default
 * "record" (what the Flex template does on its own): skip when excluded, whatever the event;
 * otherwise record, pause requests granted when pause_recording is enabled, resume requests
 * granted.
 */
export function decideLocally(features: FeatureSettings, event: RecrulesEvent, task: FlexTaskLike): Decision {
  const dual = features.dual_channel_recording?.enabled === true;
  const decision: Decision = {
    id: `local-${Date.now().toString(16)}-${(++localCounter).toString(16)}`,
    event,
    action: 'record',
    mode: dual ? 'dual-channel' : 'conference',
    channel: dual ? (features.dual_channel_recording?.channel ?? null) : null,
    conferenceRecord: false,
    pauseBehavior: null,
    rule: 'default',
    reason: '',
    matched: null,
    policy: 'local',
    taskSid: task.taskSid,
    reservationSid: task.sid,
    source: 'local',
  };
  // Like the engine's builtin:exclusions, the exclusions answer every event: an excluded call is
  // not recorded, so there is nothing to pause or resume either.
  const hit = findExclusion(features, task);
  if (hit) {
    decision.action = 'skip';
    decision.rule = 'builtin:exclusions';
    decision.reason = hit.reason;
    decision.matched = hit.matched;
  } else if (event === 'accept' || event === 'update') {
    decision.reason = 'no rule decided: the policy default is record';
  } else if (event === 'pause_request') {
    if (features.pause_recording?.enabled) {
      decision.action = 'pause';
      decision.pauseBehavior = features.pause_recording.include_silence ? 'silence' : 'skip';
      decision.reason = 'no rule refused the pause request';
    } else {
      decision.reason = 'pause request refused: features.pause_recording is not enabled';
    }
  } else {
    decision.reason = 'no rule refused the resume request';
  }
  decision.conferenceRecord = decision.mode === 'conference' && decision.action !== 'skip';
  return decision;
}
