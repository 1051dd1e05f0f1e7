// Issue 18, item 5: the Flex Insights media object recrules writes on reservation.accepted is
// the template's: epoch milliseconds (one second before the accept), the public
// https://api.twilio.com URL even when the API is reached elsewhere (here: the fake Twilio),
// the same keys and channels, in the same place (reservation_attributes.<reservation>.media
// for the worker channel, conversations.media for the customer's) as the plugin writes it
// through the template's functions.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { ACCOUNT_SID, startStack, waitFor } = require('../lib/stack');
const { loadPlugin } = require('../lib/plugin');
const { reservationAccepted } = require('../lib/taskrouter');
const { newCall } = require('../lib/call');

const stacks = {};
test.before(async () => {
  stacks.worker = await startStack({ channel: 'worker' });
  stacks.customer = await startStack({ channel: 'customer' });
});
test.after(async () => {
  for (const stack of Object.values(stacks)) await stack.stop();
});

const mediaOf = (task, call, channel) => (channel === 'worker'
  ? task.attributes.reservation_attributes?.[call.reservationSid]?.media
  : task.attributes.conversations?.media);

async function checkChannel(channel) {
  const stack = stacks[channel];
  // The template: the plugin's flow against its own functions.
  const byTemplate = await newCall(stack);
  const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE,
                            { baseUrl: stack.referenceUrl, channel });
  const task = byTemplate.flexTask();
  plugin.accept(task);
  await plugin.recordExternalCall(task);
  const [templateMedia] =
      mediaOf(await stack.twilio.task(byTemplate.taskSid), byTemplate, channel);
  assert.ok(templateMedia, 'the template wrote a media object');

  // recrules, server-side.
  const call = await newCall(stack);
  const acceptedAt = Date.now();
  const accepted = await reservationAccepted(stack.recrulesUrl,
                                             { ...call, timestampMs: acceptedAt });
  assert.equal(accepted.status, 200, accepted.text);
  const media = await waitFor(async () => mediaOf(await stack.twilio.task(call.taskSid), call,
                                                  channel),
                              'the media link on the task');
  assert.equal(media.length, 1);
  const leg = channel === 'worker' ? call.workerLeg : call.customerLeg;
  const [recording] = Object.values((await stack.twilio.control('GET', 'state')).recordings)
      .filter((r) => r.call_sid === leg);
  assert.deepEqual(Object.keys(media[0]).sort(), Object.keys(templateMedia).sort());
  assert.equal(media[0].url,
               'https://api.twilio.com/2010-04-01/Accounts/' +
                   `${ACCOUNT_SID}/Recordings/${recording.sid}`);
  assert.equal(media[0].type, templateMedia.type);
  assert.deepEqual(media[0].channels, templateMedia.channels);
  assert.equal(typeof media[0].start_time, 'number',
               `start_time: ${JSON.stringify(media[0].start_time)}`);
  assert.ok(media[0].start_time <= acceptedAt && media[0].start_time >= acceptedAt - 5000,
            `start_time ${media[0].start_time}, accepted at ${acceptedAt}`);
}

test('item 5: the media object as the template writes it', async (t) => {
  await t.test('channel worker', () => checkChannel('worker'));
  await t.test('channel customer', () => checkChannel('customer'));
});
