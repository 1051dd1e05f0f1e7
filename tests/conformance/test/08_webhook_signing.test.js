// Issue 18, item 8: TaskRouter callbacks as the `twilio` package signs and checks them:
// Twilio's SharedKey scheme (X-Twilio-Webhooks-Signature-Settings, the secret in
// TWILIO_WEBHOOK_SHARED_KEY), and form fields repeated with the same value, which the library
// signs once.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const webhooks = require('twilio/lib/webhooks/webhooks');
const { SHARED_KEY_SECRET, startStack } = require('../lib/stack');
const { EVENTS_PATH, paramsOf, sendSigned } = require('../lib/taskrouter');

let stack;
test.before(async () => {
  stack = await startStack();
});
test.after(() => stack?.stop());

// An event recrules receives and ignores: only the signature check matters.
const fields = (extra = []) => [
  ['EventType', 'worker.activity.update'],
  ['AccountSid', 'AC' + 'a'.repeat(32)],
  ['WorkerSid', 'WK' + '2'.repeat(32)],
  ...extra,
];

test('item 8: SharedKey signatures and repeated form fields, as the twilio library signs them',
     async (t) => {
  await t.test('the auth token (HMAC-SHA1), as before', async () => {
    const r = await sendSigned(stack.recrulesUrl, fields());
    assert.equal(r.status, 200, r.text);
    const forged = await sendSigned(stack.recrulesUrl, fields(), { secret: 'not-the-auth-token' });
    assert.equal(forged.status, 403, forged.text);
  });

  await t.test('SharedKey, HMAC_SHA256', async () => {
    const r = await sendSigned(stack.recrulesUrl, fields(), { sharedKey: true });
    assert.equal(r.status, 200, r.text);
    const forged = await sendSigned(stack.recrulesUrl, fields(),
                                    { sharedKey: true, secret: 'not-the-shared-key' });
    assert.equal(forged.status, 403, forged.text);
    // The SharedKey secret is not the auth token, and the algorithm is the header's.
    const sha1 = await sendSigned(stack.recrulesUrl, fields(),
                                            { sharedKey: true, algorithm: webhooks.HMAC_SHA1,
                                              secret: SHARED_KEY_SECRET });
    assert.equal(sha1.status, 200, `HMAC_SHA1 named in the header: ${sha1.text}`);
  });

  await t.test('a field repeated with the same value', async () => {
    const pairs = fields([['Tag', 'vip'], ['Tag', 'vip'], ['Tag', 'gold']]);
    const url = stack.recrulesUrl + EVENTS_PATH;
    // The library signs the repeated value once ...
    const once = webhooks.getExpectedTwilioSignature(
        'fake-auth-token', url, paramsOf(fields([['Tag', 'vip'], ['Tag', 'gold']])));
    assert.equal(webhooks.getExpectedTwilioSignature('fake-auth-token', url, paramsOf(pairs)),
                 once);
    // ... and recrules checks it the same way.
    const r = await sendSigned(stack.recrulesUrl, pairs);
    assert.equal(r.status, 200, r.text);
    const shared = await sendSigned(stack.recrulesUrl, pairs, { sharedKey: true });
    assert.equal(shared.status, 200, shared.text);
  });
});
