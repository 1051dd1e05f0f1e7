// Issue 18, item 1: dual-channel on in recrules (TaskRouter reservation.accepted) and in the
// template's plugin: the leg is recorded once, whoever asks, however often.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startStack, waitFor } = require('../lib/stack');
const { loadPlugin } = require('../lib/plugin');
const { reservationAccepted } = require('../lib/taskrouter');
const { newCall } = require('../lib/call');

let stack;
test.before(async () => {
  stack = await startStack();
});
test.after(() => stack?.stop());

test('item 1: one Calls/<leg>/Recordings.json POST when recrules and the plugin both record',
     async () => {
  const call = await newCall(stack);
  const accepted = await reservationAccepted(stack.recrulesUrl, call);
  assert.equal(accepted.status, 200, accepted.text);
  const [serverSide] = await waitFor(async () => {
    const posts = await stack.twilio.recordingPosts(call.workerLeg);
    return posts.length > 0 && posts;
  }, 'recrules starting the dual-channel recording on the worker leg');

  // The unchanged plugin, on taskAccepted: waits for the worker leg, create-recording, then
  // writes the media link.
  const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE, { baseUrl: stack.recrulesUrl });
  const task = call.flexTask();
  plugin.accept(task);
  await plugin.recordExternalCall(task);
  const create = plugin.env.exchanges.find((e) => e.url.endsWith('/create-recording'));
  assert.ok(create, 'the plugin sent create-recording');
  assert.equal(create.status, 200, `create-recording answered ${create.status}: ${create.text}`);
  const recordings = Object.values((await stack.twilio.control('GET', 'state')).recordings)
      .filter((r) => r.call_sid === call.workerLeg);
  assert.equal(recordings.length, 1, 'one recording on the worker leg');
  assert.equal(JSON.parse(create.text).recording?.sid, recordings[0].sid,
               'create-recording answers with the recording recrules started');

  // A retry of the same request (the ApiService retries, a double click): still one.
  const again = await plugin.DualChannelService.startDualChannelRecording(call.workerLeg);
  assert.equal(again.sid, recordings[0].sid);
  const posts = await stack.twilio.recordingPosts(call.workerLeg);
  assert.equal(posts.length, 1,
               `Twilio got ${posts.length} recording POSTs for the worker leg (first at ` +
               `${serverSide.time_ms})`);
});
