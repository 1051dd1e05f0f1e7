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
  stack = await startStack({ channel: 'worker' });
});
test.after(() => stack?.stop());

async function workerLegRecordings(call) {
  return Object.values((await stack.twilio.control('GET', 'state')).recordings)
      .filter((r) => r.call_sid === call.workerLeg);
}

// The unchanged plugin on taskAccepted: waits for the worker leg, create-recording, then
// writes the media link. Returns the create-recording exchange.
async function pluginRecords(call) {
  const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE, { baseUrl: stack.recrulesUrl });
  const task = call.flexTask();
  plugin.accept(task);
  await plugin.recordExternalCall(task);
  const create = plugin.env.exchanges.find((e) => e.url.endsWith('/create-recording'));
  assert.ok(create, 'the plugin sent create-recording');
  return { plugin, create };
}

async function assertOneRecording(call, create) {
  const posts = await stack.twilio.recordingPosts(call.workerLeg);
  assert.equal(posts.length, 1, `Twilio got ${posts.length} recording POSTs for the worker leg`);
  const recordings = await workerLegRecordings(call);
  assert.equal(create.status, 200, `create-recording answered ${create.status}: ${create.text}`);
  assert.equal(JSON.parse(create.text).recording?.sid, recordings[0].sid,
               'create-recording answers with the leg\'s recording');
}

test('item 1: one Calls/<leg>/Recordings.json POST when recrules and the plugin both record',
     async (t) => {
  await t.test('recrules first, then the plugin, then a retry of the plugin\'s request',
               async () => {
    const call = await newCall(stack);
    const accepted = await reservationAccepted(stack.recrulesUrl, call);
    assert.equal(accepted.status, 200, accepted.text);
    // recrules' start is over once it has written the media link.
    await waitFor(async () => (await stack.twilio.task(call.taskSid))
                      .attributes.reservation_attributes?.[call.reservationSid],
                  'recrules recording the worker leg and writing its media link');
    const { plugin, create } = await pluginRecords(call);
    await assertOneRecording(call, create);

    // The same request again (an ApiService retry, a second click): still one.
    const again = await plugin.DualChannelService.startDualChannelRecording(call.workerLeg);
    assert.equal(again.sid, (await workerLegRecordings(call))[0].sid);
    assert.equal((await stack.twilio.recordingPosts(call.workerLeg)).length, 1);
  });

  await t.test('the plugin asks while recrules\' own request is still with Twilio', async () => {
    const call = await newCall(stack);
    // Twilio takes a second to answer recrules' POST; the plugin asks meanwhile.
    await stack.twilio.control('POST', 'faults', {
      method: 'POST', path: `/Calls/${call.workerLeg}/Recordings.json`, delay_ms: 1000 });
    const accepted = await reservationAccepted(stack.recrulesUrl, call);
    assert.equal(accepted.status, 200, accepted.text);
    await waitFor(async () => (await stack.twilio.recordingPosts(call.workerLeg)).length > 0,
                  'recrules\' recording POST');
    const { create } = await pluginRecords(call);
    await assertOneRecording(call, create);
  });

  await t.test('the plugin first, then TaskRouter\'s callback', async () => {
    const call = await newCall(stack);
    const { create } = await pluginRecords(call);
    const accepted = await reservationAccepted(stack.recrulesUrl, call);
    assert.equal(accepted.status, 200, accepted.text);
    // Time for recrules' start, had it made one (it would find the leg at once).
    await new Promise((r) => setTimeout(r, 1000));
    await assertOneRecording(call, create);
  });
});
