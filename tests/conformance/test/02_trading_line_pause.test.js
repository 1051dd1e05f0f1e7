// Issue 18, item 2: a trading-line task (rules/trading_lines.lua) decided `record` under
// dual-channel, channel worker: the unchanged plugin's pause on the worker leg is refused and
// Twilio is not asked to pause, whether recrules or the plugin recorded the leg first.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { WORKSPACE_SID, newSid, startStack, waitFor } = require('../lib/stack');
const { loadPlugin } = require('../lib/plugin');
const { reservationAccepted } = require('../lib/taskrouter');
const { newCall } = require('../lib/call');

let stack;
test.before(async () => {
  stack = await startStack({ channel: 'worker' });
});
test.after(() => stack?.stop());

async function pauseIsRefused(plugin, call, task) {
  assert.equal(await plugin.pauseRecording(task), false, 'the plugin reports the pause failed');
  const pause = plugin.env.exchanges.find((e) => e.url.endsWith('/pause-call-recording'));
  assert.ok(pause, 'the plugin sent pause-call-recording');
  assert.ok(pause.status >= 400, `pause-call-recording answered ${pause.status}: ${pause.text}`);
  assert.match(pause.body, new RegExp(`callSid=${call.workerLeg}`),
               'the pause names the worker leg');
  const updates = await stack.twilio.recordingUpdates(call.workerLeg);
  assert.deepEqual(updates.map((u) => u.form.Status), [], 'no recording update reached Twilio');
  assert.deepEqual(plugin.pausedRecordings(), []);
}

test('item 2: the plugin cannot pause a trading line\'s worker leg', async (t) => {
  await t.test('a call that is not a trading line pauses and resumes', async () => {
    const call = await newCall(stack, { queueName: 'Sales' });
    const accepted = await reservationAccepted(stack.recrulesUrl, call);
    assert.equal(accepted.status, 200, accepted.text);
    const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE, { baseUrl: stack.recrulesUrl });
    const task = call.flexTask();
    plugin.accept(task);
    await plugin.recordExternalCall(task);
    assert.equal(await plugin.pauseRecording(task), true, JSON.stringify(plugin.env.exchanges));
    assert.equal(await plugin.resumeRecording(task), true, JSON.stringify(plugin.env.exchanges));
    const updates = await stack.twilio.recordingUpdates(call.workerLeg);
    assert.deepEqual(updates.map((u) => u.form.Status), ['paused', 'in-progress']);
  });

  await t.test('recrules records the worker leg first', async () => {
    const call = await newCall(stack, { queueName: 'Trading Desk' });
    const accepted = await reservationAccepted(stack.recrulesUrl, call);
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.json.decision.action, 'record');
    assert.equal(accepted.json.decision.rule, 'rules/trading_lines.lua');
    await waitFor(async () => (await stack.twilio.recordingPosts(call.workerLeg)).length > 0,
                  'recrules recording the worker leg');
    const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE, { baseUrl: stack.recrulesUrl });
    const task = call.flexTask();
    plugin.accept(task);
    await plugin.recordExternalCall(task);
    await pauseIsRefused(plugin, call, task);
  });

  await t.test('the plugin records the worker leg before TaskRouter\'s callback arrives',
               async () => {
    const call = await newCall(stack, { queueName: 'Trading Desk' });
    const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE, { baseUrl: stack.recrulesUrl });
    const task = call.flexTask();
    plugin.accept(task);
    await plugin.recordExternalCall(task);
    const accepted = await reservationAccepted(stack.recrulesUrl, call);
    assert.equal(accepted.status, 200, accepted.text);
    // Time for recrules' own start, had it made one (it would find the leg at once).
    await new Promise((r) => setTimeout(r, 1000));
    await pauseIsRefused(plugin, call, task);
  });

  await t.test('TaskRouter\'s callback names no conference yet: only the plugin finds the leg',
               async () => {
    // Flex writes the conference into the task's attributes after the accept; here it never
    // does, so recrules cannot find the worker leg itself. The leg the plugin records is the
    // accepted reservation's worker's (the Flex token says who), and the plugin writes its
    // media link onto the task: recrules has what it needs to tie the leg to the task.
    // A worker of its own, who has accepted this one reservation.
    const worker = { sid: newSid('WK'), token: 'trading-agent-token' };
    const call = await newCall(stack, { queueName: 'Trading Desk' });
    call.attributes = { call_sid: call.customerLeg, direction: 'inbound' };
    await stack.twilio.seed({
      tasks: { [call.taskSid]: { workspace_sid: WORKSPACE_SID, attributes: call.attributes } },
      tokens: { [worker.token]: { valid: true, identity: 'bob', worker_sid: worker.sid,
                                  roles: ['agent'] } },
    });
    const accepted = await reservationAccepted(stack.recrulesUrl,
                                               { ...call, workerSid: worker.sid });
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.json.decision.action, 'record');
    const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE,
                              { baseUrl: stack.recrulesUrl, token: worker.token });
    const task = call.flexTask();
    plugin.accept(task);
    await plugin.recordExternalCall(task);
    await pauseIsRefused(plugin, call, task);
  });
});
