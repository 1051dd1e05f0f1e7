// One inbound call as Flex sets it up: a task in a conference with the customer's leg and the
// worker's leg, seeded in the fake Twilio, and the same call as the plugin's Flex task sees it.
'use strict';

const { WORKSPACE_SID, newSid } = require('./stack');
const { flexTask } = require('./plugin');

async function newCall(stack, { queueName = 'Sales', attributes = {} } = {}) {
  const call = {
    taskSid: newSid('WT'),
    reservationSid: newSid('WR'),
    conferenceSid: newSid('CF'),
    customerLeg: newSid('CA'),
    workerLeg: newSid('CA'),
    queueName,
  };
  // The task's attributes once Flex has put the call in its conference.
  call.attributes = {
    call_sid: call.customerLeg,
    direction: 'inbound',
    conference: { sid: call.conferenceSid,
                  participants: { customer: call.customerLeg, worker: call.workerLeg } },
    ...attributes,
  };
  await stack.twilio.seed({
    calls: { [call.customerLeg]: { status: 'in-progress' },
             [call.workerLeg]: { status: 'in-progress' } },
    conferences: { [call.conferenceSid]: { status: 'in-progress', participants: [
      { call_sid: call.customerLeg, label: 'customer' },
      { call_sid: call.workerLeg, label: 'worker' },
    ] } },
    tasks: { [call.taskSid]: { workspace_sid: WORKSPACE_SID, attributes: call.attributes } },
  });
  call.flexTask = () => flexTask({ ...call, attributes: call.attributes });
  return call;
}

module.exports = { newCall };
