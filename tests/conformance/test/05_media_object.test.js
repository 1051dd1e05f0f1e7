// Issue 18, item 5: the Flex Insights media object recrules writes on reservation.accepted is
// the template's: epoch milliseconds (one second before the accept), the public
// https://api.twilio.com URL even when the API is reached elsewhere (here: the fake Twilio),
// and the same keys and channels as the plugin writes through the template's functions.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { ACCOUNT_SID, startStack, waitFor } = require('../lib/stack');
const { loadPlugin } = require('../lib/plugin');
const { reservationAccepted } = require('../lib/taskrouter');
const { newCall } = require('../lib/call');

let stack;
test.before(async () => {
  stack = await startStack({ channel: 'worker' });
});
test.after(() => stack?.stop());

const mediaOf = (task, reservationSid) =>
  task.attributes.reservation_attributes?.[reservationSid]?.media;

test('item 5: the media object as the template writes it', async () => {
  // The template: the plugin's flow against its own functions.
  const byTemplate = await newCall(stack);
  const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE, { baseUrl: stack.referenceUrl });
  const task = byTemplate.flexTask();
  plugin.accept(task);
  await plugin.recordExternalCall(task);
  const [templateMedia] = mediaOf(await stack.twilio.task(byTemplate.taskSid),
                                  byTemplate.reservationSid);

  // recrules, server-side.
  const call = await newCall(stack);
  const acceptedAt = Date.now();
  const accepted = await reservationAccepted(stack.recrulesUrl,
                                             { ...call, timestampMs: acceptedAt });
  assert.equal(accepted.status, 200, accepted.text);
  const media = await waitFor(async () => mediaOf(await stack.twilio.task(call.taskSid),
                                                  call.reservationSid),
                              'the media link on the task');
  assert.equal(media.length, 1);
  const [recording] = Object.values((await stack.twilio.control('GET', 'state')).recordings)
      .filter((r) => r.call_sid === call.workerLeg);
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
});
