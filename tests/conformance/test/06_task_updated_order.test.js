// Issue 18, item 6: two task.updated events of one task sent within the same second arrive
// out of order. TimestampMs orders them: the older "payment" event, arriving last, does not
// pause the recording again.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startStack, waitFor } = require('../lib/stack');
const { reservationAccepted, taskUpdated } = require('../lib/taskrouter');
const { newCall } = require('../lib/call');

let stack;
test.before(async () => {
  stack = await startStack({ channel: 'worker' });
});
test.after(() => stack?.stop());

test('item 6: task.updated ordered by TimestampMs within one second', async () => {
  const call = await newCall(stack);
  const second = Math.floor(Date.now() / 1000);
  const accepted = await reservationAccepted(stack.recrulesUrl,
                                             { ...call, timestampMs: second * 1000 - 2000 });
  assert.equal(accepted.status, 200, accepted.text);
  await waitFor(async () => (await stack.twilio.recordingPosts(call.workerLeg)).length > 0,
                'recrules recording the worker leg');

  const during = { ...call.attributes, ivr: { stage: 'payment' } };
  const after = { ...call.attributes, ivr: { stage: 'done' } };
  // Sent in this order at second.100 and second.800; delivered the other way round.
  const newer = await taskUpdated(stack.recrulesUrl,
                                  { ...call, attributes: after, timestampMs: second * 1000 + 800 });
  assert.equal(newer.status, 200, newer.text);
  const older = await taskUpdated(
      stack.recrulesUrl, { ...call, attributes: during, timestampMs: second * 1000 + 100 });
  assert.equal(older.status, 200, older.text);
  assert.equal(older.json.decision.action, 'pause');
  assert.equal(older.json.recording, 'stale', `the late event: ${older.text}`);
  await new Promise((r) => setTimeout(r, 500));
  const updates = await stack.twilio.recordingUpdates(call.workerLeg);
  assert.deepEqual(updates.map((u) => u.form.Status), [], 'the recording was not paused');

  // A payment event that is newer does pause: the quiet above is the ordering's doing.
  const later = await taskUpdated(
      stack.recrulesUrl, { ...call, attributes: during, timestampMs: second * 1000 + 1001 });
  assert.equal(later.json.recording, 'pausing', later.text);
  await waitFor(async () => (await stack.twilio.recordingUpdates(call.workerLeg))
                    .some((u) => u.form.Status === 'paused'),
                'the pause of the newer payment event');
});
