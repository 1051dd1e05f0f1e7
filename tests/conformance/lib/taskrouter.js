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

// The task's fields of a TaskRouter event, as TaskRouter sends them (times in epoch seconds,
// TimestampMs in milliseconds).
function taskFields({ taskSid, attributes, queueName = 'Sales', timestampMs = Date.now() }) {
  const created = Math.floor(timestampMs / 1000) - 20;
  return [
    ['AccountSid', 'AC' + 'a'.repeat(32)],
    ['WorkspaceSid', WORKSPACE_SID],
    ['WorkspaceName', 'Flex Task Assignment'],
    ['TaskSid', taskSid],
    ['TaskChannelSid', 'TC' + '6'.repeat(32)],
    ['TaskChannelUniqueName', 'voice'],
    ['TaskQueueName', queueName],
    ['TaskQueueSid', 'WQ' + '3'.repeat(32)],
    ['TaskQueueEnteredDate', String(created)],
    ['TaskAttributes', JSON.stringify(attributes)],
    ['TaskAssignmentStatus', 'assigned'],
    ['TaskPriority', '0'],
    ['TaskAge', '20'],
    ['TaskDateCreated', String(created)],
    ['Timestamp', String(Math.floor(timestampMs / 1000))],
    ['TimestampMs', String(timestampMs)],
  ];
}

function reservationAccepted(recrulesUrl, { reservationSid, workerSid = WORKER_SID, ...task }) {
  return sendSigned(recrulesUrl, [
    ['EventType', 'reservation.accepted'],
    ['EventDescription', `Reservation ${reservationSid} was accepted`],
    ['ResourceType', 'reservation'],
    ['ResourceSid', reservationSid],
    ...taskFields(task),
    ['ReservationSid', reservationSid],
    ['WorkerSid', workerSid],
    ['WorkerName', 'alice'],
    ['WorkerAttributes', JSON.stringify({ contact_uri: 'client:alice' })],
  ]);
}

function taskUpdated(recrulesUrl, task) {
  return sendSigned(recrulesUrl, [
    ['EventType', 'task.updated'],
    ['EventDescription', `Task ${task.taskSid} updated`],
    ['ResourceType', 'task'],
    ['ResourceSid', task.taskSid],
    ...taskFields(task),
  ]);
}

module.exports = { EVENTS_PATH, paramsOf, sendSigned, reservationAccepted, taskUpdated };
