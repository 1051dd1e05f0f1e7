// TaskRouter event callbacks to `recrules serve`, signed with the real `twilio` package the
// way Twilio signs them: X-Twilio-Signature over the URL and the form parameters, with the
// auth token (HMAC-SHA1), or with a SharedKey secret and the algorithm named in
// X-Twilio-Webhooks-Signature-Settings.
'use strict';

const webhooks = require('twilio/lib/webhooks/webhooks');
const { AUTH_TOKEN, SHARED_KEY_SECRET, WORKSPACE_SID, WORKER_SID, postForm } = require('./stack');

const EVENTS_PATH = '/v1/taskrouter/events';

// The params object the library signs: a name given more than once maps to an array.
function paramsOf(pairs) {
  const params = {};
  for (const [name, value] of pairs) {
    if (name in params) params[name] = [].concat(params[name], value);
    else params[name] = value;
  }
  return params;
}

// pairs: [name, value] in the order sent. signing: {sharedKey: true} or {secret, algorithm}.
async function sendSigned(recrulesUrl, pairs, signing = {}) {
  const url = recrulesUrl + EVENTS_PATH;
  const headers = {};
  let secret = signing.secret || AUTH_TOKEN;
  let algorithm = signing.algorithm;
  if (signing.sharedKey) {
    secret = signing.secret || SHARED_KEY_SECRET;
    algorithm = algorithm || webhooks.HMAC_SHA256;
    headers[webhooks.SIGNATURE_SETTINGS_HEADER] =
        `key=webhooks_sharedkey_conformance,algorithm=${algorithm}`;
  }
  headers[webhooks.SIGNATURE_HEADER] =
      webhooks.getExpectedTwilioSignature(secret, url, paramsOf(pairs), algorithm);
  return postForm(url, pairs, headers);
}

function taskFields({ taskSid, attributes, queueName = 'Sales', timestampMs = Date.now() }) {
  return [
    ['AccountSid', 'AC' + 'a'.repeat(32)],
    ['WorkspaceSid', WORKSPACE_SID],
    ['TaskSid', taskSid],
    ['TaskChannelUniqueName', 'voice'],
    ['TaskQueueName', queueName],
    ['TaskQueueSid', 'WQ' + '3'.repeat(32)],
    ['TaskAttributes', JSON.stringify(attributes)],
    ['TaskAssignmentStatus', 'assigned'],
    ['Timestamp', String(Math.floor(timestampMs / 1000))],
    ['TimestampMs', String(timestampMs)],
  ];
}

function reservationAccepted(recrulesUrl, { reservationSid, ...task }) {
  return sendSigned(recrulesUrl, [
    ['EventType', 'reservation.accepted'],
    ...taskFields(task),
    ['ReservationSid', reservationSid],
    ['WorkerSid', WORKER_SID],
    ['WorkerName', 'alice'],
    ['WorkerAttributes', JSON.stringify({ contact_uri: 'client:alice' })],
  ]);
}

function taskUpdated(recrulesUrl, task) {
  return sendSigned(recrulesUrl, [['EventType', 'task.updated'], ...taskFields(task)]);
}

module.exports = { EVENTS_PATH, paramsOf, sendSigned, reservationAccepted, taskUpdated };
