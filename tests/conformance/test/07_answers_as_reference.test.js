// Issue 18, item 7: for the same request against the same fake Twilio, recrules answers as the
// template's serverless functions do: status codes (Twilio's own status on a Twilio error, 403
// for a missing token), the body's shape, the `recording` object's fields (the twilio
// client's camelCase, ISO 8601 dates), the error shape with twilioErrorCode, and parameters
// taken from the query string or a JSON body as Twilio Functions merge them.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  AGENT_TOKEN, FLEX_ORIGIN, WORKSPACE_SID, answer, newSid, startStack,
} = require('../lib/stack');

let stack;
test.before(async () => {
  stack = await startStack();
});
test.after(() => stack?.stop());

// What must agree: value kinds, not the values that differ from run to run (SIDs, times).
function shape(value) {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value).sort()) {
      const s = shape(value[key]);
      if (s !== undefined) out[key] = s;
    }
    return out;
  }
  if (typeof value === 'string') {
    if (/^[A-Z]{2}[0-9a-f]{32}$/.test(value)) return `<${value.slice(0, 2)} sid>`;
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) return '<ISO 8601 date>';
    if (/\/(Calls|Conferences)\/[A-Z]{2}[0-9a-f]{32}\//.test(value)) return '<resource uri>';
    return '<string>';
  }
  return value;
}

// The SIDs of the scenario being run on one side.
let sids = [];

// One side's setup for a scenario: fresh SIDs seeded in the fake Twilio.
async function freshCall({ status = 'in-progress', conference = false } = {}) {
  const s = { callSid: newSid('CA'), conferenceSid: newSid('CF'), recordingSid: newSid('RE') };
  sids.push(...Object.values(s));
  await stack.twilio.seed({ calls: { [s.callSid]: { status } } });
  if (conference) {
    await stack.twilio.seed({ conferences: { [s.conferenceSid]: { status: 'in-progress',
      recordings: [{ sid: s.recordingSid, status: 'in-progress' }] } } });
  }
  return s;
}

// token: null sends none.
async function send(baseUrl, path, { form, query, json, token = AGENT_TOKEN }) {
  const url = new URL(path, baseUrl);
  for (const [k, v] of Object.entries(query || {})) url.searchParams.set(k, v);
  const headers = { Origin: FLEX_ORIGIN };
  let body;
  if (json) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(token === null ? json : { ...json, Token: token });
  } else {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const fields = { ...form };
    if (token !== null) fields.Token = token;
    body = new URLSearchParams(fields).toString();
  }
  return answer(await fetch(url, { method: 'POST', headers, body }));
}

const CREATE = '/features/dual-channel-recording/flex/create-recording';
const PAUSE_CALL = '/features/pause-recording/flex/pause-call-recording';
const RESUME_CALL = '/features/pause-recording/flex/resume-call-recording';
const PAUSE_CONF = '/features/pause-recording/flex/pause-conference-recording';
const RESUME_CONF = '/features/pause-recording/flex/resume-conference-recording';
const UPDATE_TASK = '/common/flex/taskrouter/update-task-attributes';

async function freshTask(attributes) {
  const taskSid = newSid('WT');
  sids.push(taskSid);
  await stack.twilio.seed({ tasks: { [taskSid]: { workspace_sid: WORKSPACE_SID, attributes } } });
  return taskSid;
}

// Each scenario: (baseUrl) => answer, run once per side on its own fresh call.
const scenarios = {
  'create-recording': async (base) => {
    const c = await freshCall();
    return send(base, CREATE, { form: { callSid: c.callSid } });
  },
  'create-recording on an ended call (21220)': async (base) => {
    const c = await freshCall({ status: 'completed' });
    return send(base, CREATE, { form: { callSid: c.callSid } });
  },
  'pause-call-recording, then resume-call-recording': async (base) => {
    const c = await freshCall();
    const created = await send(base, CREATE, { form: { callSid: c.callSid } });
    const paused = await send(base, PAUSE_CALL,
                              { form: { callSid: c.callSid, pauseBehavior: 'silence' } });
    const recordingSid =
        paused.json?.recording?.sid || created.json?.recording?.sid || c.recordingSid;
    const resumed = await send(base, RESUME_CALL, { form: { callSid: c.callSid, recordingSid } });
    return { status: [paused.status, resumed.status], json: [paused.json, resumed.json],
             headers: resumed.headers, text: `${paused.text}\n${resumed.text}` };
  },
  'pause-call-recording without pauseBehavior': async (base) => {
    const c = await freshCall();
    await send(base, CREATE, { form: { callSid: c.callSid } });
    return send(base, PAUSE_CALL, { form: { callSid: c.callSid } });
  },
  'pause-call-recording of an unknown recording (20404)': async (base) => {
    const c = await freshCall();
    return send(base, PAUSE_CALL, { form: { callSid: c.callSid, recordingSid: c.recordingSid } });
  },
  'pause-conference-recording, then resume-conference-recording': async (base) => {
    const c = await freshCall({ conference: true });
    const paused = await send(base, PAUSE_CONF, { form: { conferenceSid: c.conferenceSid,
                                                          pauseBehavior: 'skip' } });
    const resumed = await send(base, RESUME_CONF, { form: { conferenceSid: c.conferenceSid,
                                                            recordingSid: c.recordingSid } });
    return { status: [paused.status, resumed.status], json: [paused.json, resumed.json],
             headers: resumed.headers, text: `${paused.text}\n${resumed.text}` };
  },
  'update-task-attributes': async (base) => {
    const taskSid =
        await freshTask({ call_sid: 'CA' + '5'.repeat(32), customer: { tier: 'gold' } });
    const attributesUpdate =
        JSON.stringify({ customer: { name: 'Ada' }, conversations: { media: [] } });
    const r = await send(base, UPDATE_TASK, { form: { taskSid, attributesUpdate } });
    const { attributes } = await stack.twilio.task(taskSid);
    return { ...r, json: { answer: r.json, attributes } };
  },
  'update-task-attributes of an unknown task (20404)': async (base) => {
    const taskSid = newSid('WT');
    sids.push(taskSid);
    return send(base, UPDATE_TASK, { form: { taskSid, attributesUpdate: '{"a":1}' } });
  },
  'update-task-attributes without attributesUpdate': async (base) => {
    const taskSid = await freshTask({});
    return send(base, UPDATE_TASK, { form: { taskSid } });
  },
  'missing callSid': async (base) => send(base, CREATE, { form: {} }),
  'missing Token': async (base) => {
    const c = await freshCall();
    return send(base, CREATE, { form: { callSid: c.callSid }, token: null });
  },
  'invalid Token': async (base) => {
    const c = await freshCall();
    return send(base, CREATE, { form: { callSid: c.callSid }, token: 'not-a-flex-token' });
  },
  'callSid in the query string': async (base) => {
    const c = await freshCall();
    return send(base, CREATE, { query: { callSid: c.callSid }, form: {} });
  },
  'parameters in a JSON body': async (base) => {
    const c = await freshCall();
    return send(base, CREATE, { json: { callSid: c.callSid } });
  },
};

// What Twilio was asked to do (POSTs; reads are each side's business) for the scenario's
// calls and tasks, with Twilio's defaults spelled out (RecordingTrack both, PauseBehavior
// silence) and the SIDs left out.
async function twilioRequests() {
  const mine = (await stack.twilio.requests()).filter(
      (r) => r.method === 'POST' && sids.some((sid) => r.path.includes(sid)));
  return mine.map((r) => {
    const form = { ...r.form };
    if (r.path.endsWith('/Recordings.json')) form.RecordingTrack ??= 'both';
    if (form.Status === 'paused') form.PauseBehavior ??= 'silence';
    const path = r.path.replace(/[A-Z]{2}[0-9a-f]{32}/g, (sid) => sid.slice(0, 2));
    return { method: r.method, path, form };
  });
}

test('item 7: answers, status codes and missing-token behaviour equal the reference\'s',
     async (t) => {
  for (const [name, run] of Object.entries(scenarios)) {
    await t.test(name, async () => {
      sids = [];
      const reference = await run(stack.referenceUrl);
      const referenceAsked = await twilioRequests();
      sids = [];
      const recrules = await run(stack.recrulesUrl);
      const recrulesAsked = await twilioRequests();
      const context = `\nreference: ${reference.status} ${reference.text}\n` +
                      `recrules:  ${recrules.status} ${recrules.text}`;
      assert.deepEqual(recrules.status, reference.status, `status codes${context}`);
      assert.deepEqual(recrulesAsked, referenceAsked, `what Twilio was asked${context}`);
      assert.equal(recrules.headers.get('access-control-allow-origin') !== null,
                   reference.headers.get('access-control-allow-origin') !== null,
                   `Access-Control-Allow-Origin${context}`);
      if (reference.json !== null) {
        assert.deepEqual(shape(recrules.json), shape(reference.json), `body shape${context}`);
      } else {
        assert.ok(recrules.json === null || recrules.json.success !== true,
                  `a refusal${context}`);
      }
    });
  }
});
