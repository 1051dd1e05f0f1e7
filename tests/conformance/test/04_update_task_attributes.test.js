// Issue 18, item 4: after create-recording the plugin calls
// /common/flex/taskrouter/update-task-attributes on the same domain to write the media link
// Flex Insights needs: it exists on recrules, answers as the template's function does, and
// the task ends with the same attributes as with the template's own functions.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { ACCOUNT_SID, startStack } = require('../lib/stack');
const { loadPlugin } = require('../lib/plugin');
const { newCall } = require('../lib/call');

let stack;
test.before(async () => {
  stack = await startStack();
});
test.after(() => stack?.stop());

// The plugin's whole dual-channel flow against one serverless domain; the task's attributes
// after it, the recording's SID and the update-task-attributes exchange.
async function runPlugin(baseUrl) {
  const call = await newCall(stack, { attributes: { customer: { name: 'Ada' } } });
  const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE, { baseUrl });
  const task = call.flexTask();
  plugin.accept(task);
  await plugin.recordExternalCall(task);
  const update = plugin.env.exchanges.find((e) => e.url.endsWith('/update-task-attributes'));
  const [recording] = Object.values((await stack.twilio.control('GET', 'state')).recordings)
      .filter((r) => r.call_sid === call.workerLeg);
  return { call, update, recording, task: await stack.twilio.task(call.taskSid) };
}

test('item 4: update-task-attributes exists and writes the media link', async () => {
  const reference = await runPlugin(stack.referenceUrl);
  assert.equal(reference.update?.status, 200, 'the reference writes the media link');
  const recrules = await runPlugin(stack.recrulesUrl);
  assert.ok(recrules.update, 'the plugin called update-task-attributes');
  assert.equal(recrules.update.status, reference.update.status,
               `update-task-attributes answered ${recrules.update.status}: ` +
                   recrules.update.text);
  assert.deepEqual(JSON.parse(recrules.update.text), JSON.parse(reference.update.text));

  // The attributes as the plugin wrote them: merged into what was there.
  const { reservation_attributes: written } = recrules.task.attributes;
  const media = written?.[recrules.call.reservationSid]?.media;
  assert.ok(Array.isArray(media) && media.length === 1, JSON.stringify(recrules.task.attributes));
  assert.equal(media[0].url, 'https://api.twilio.com/2010-04-01/Accounts/' +
                             `${ACCOUNT_SID}/Recordings/${recrules.recording.sid}`);
  assert.deepEqual(recrules.task.attributes.customer, { name: 'Ada' });
  const withoutSids = ({ task, call }) => JSON.parse(JSON.stringify(task.attributes)
      .replaceAll(call.reservationSid, 'WR').replaceAll(call.customerLeg, 'CA-customer')
      .replaceAll(call.workerLeg, 'CA-worker').replaceAll(call.conferenceSid, 'CF')
      .replace(/RE[0-9a-f]{32}/g, 'RE').replace(/"start_time":\d+/g, '"start_time":0'));
  assert.deepEqual(withoutSids(recrules), withoutSids(reference));
});
