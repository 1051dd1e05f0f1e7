// Issue 18, item 3: a page whose Origin recrules does not allow (a plugin in local development
// on http://localhost:3000) is refused before anything is done: the browser cannot read the
// answer, so the template's ApiService retries, and no retry may start a recording.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { AGENT_TOKEN, startStack, postForm } = require('../lib/stack');
const { loadPlugin } = require('../lib/plugin');
const { newCall } = require('../lib/call');

const LOCAL_PLUGIN = 'http://localhost:3000';

let stack;
test.before(async () => {
  stack = await startStack();
});
test.after(() => stack?.stop());

test('item 3: a disallowed Origin gets 403 and no recording, retries included', async () => {
  // The unchanged plugin from that origin: an answer it may not read is a network error to it,
  // so it tries up to 11 times.
  const call = await newCall(stack);
  const plugin = loadPlugin(process.env.RECRULES_FLEX_TEMPLATE,
                            { baseUrl: stack.recrulesUrl, origin: LOCAL_PLUGIN });
  await assert.rejects(plugin.DualChannelService.startDualChannelRecording(call.workerLeg));
  const sent = plugin.env.exchanges.filter((e) => e.url.endsWith('/create-recording'));
  const posts = await stack.twilio.recordingPosts(call.workerLeg);
  assert.ok(posts.length <= 1, `${sent.length} attempts started ${posts.length} recordings`);
  assert.equal(posts.length, 0, 'refused before any action');

  const direct = await postForm(
      `${stack.recrulesUrl}/features/dual-channel-recording/flex/create-recording`,
      { callSid: call.customerLeg, Token: AGENT_TOKEN }, { Origin: LOCAL_PLUGIN });
  assert.equal(direct.status, 403, `answered ${direct.status}: ${direct.text}`);
  assert.equal((await stack.twilio.recordingPosts(call.customerLeg)).length, 0,
               'no recording for a request from a disallowed origin');
});
