#!/usr/bin/env node
// fake_twilio.js: an in-memory stand-in for the parts of Twilio's REST API recrules calls, for
// tests on 127.0.0.1. Plain Node (only the http module); no npm packages.
//
//   node fake_twilio.js --port 0 [--account-sid AC...] [--auth-token T]
//                       [--api-key SK... --api-secret S]
//
// When ready it prints exactly one line on stdout:  fake_twilio listening 127.0.0.1:PORT
// (--port 0 picks a free port). It stops on SIGTERM/SIGINT or POST /__control/shutdown.
// Defaults: account ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, auth token "fake-auth-token", no API key.
//
// One server plays api.twilio.com, iam.twilio.com and taskrouter.twilio.com: point all three
// base URLs at it. Every Twilio route checks HTTP basic auth: account SID + auth token, or API
// key + API secret. Wrong or missing credentials: 401 with code 20003.
//
// Twilio routes (URL and JSON shapes follow Twilio's; errors are {code, message, more_info,
// status}):
//   POST /2010-04-01/Accounts/{AC}/Calls/{CA}/Recordings.json
//        form: RecordingChannels (mono|dual), RecordingTrack (inbound|outbound|both), ...
//        -> 201 recording {sid: "RE...", call_sid, status: "in-progress", channels, track, uri...}
//        Any call SID is taken as a live call unless seeded otherwise; a call seeded with a
//        status other than "in-progress" -> 400 code 21220.
//        With RecordingStatusCallback=<http URL> (RecordingStatusCallbackEvent: the events,
//        space-separated, default "completed"; RecordingStatusCallbackMethod must be POST),
//        the fake posts status callbacks there as Twilio does: a form signed with
//        X-Twilio-Signature (the auth token over the URL and the sorted fields) carrying
//        AccountSid, CallSid, RecordingSid, RecordingUrl, RecordingStatus, RecordingDuration,
//        RecordingChannels, RecordingTrack, RecordingSource, RecordingStartTime, ErrorCode.
//        "in-progress" right after the create; "completed" or "absent" when the test ends the
//        recording (POST /__control/end-recording).
//   POST /2010-04-01/Accounts/{AC}/Calls/{CA}/Recordings/{RE or Twilio.CURRENT}.json
//        form: Status=paused|in-progress|stopped, PauseBehavior=skip|silence (paused only)
//        -> 200 recording. Unknown recording (or no current one) -> 404 code 20404;
//        ended call -> 400 code 21220; bad Status/PauseBehavior -> 400 code 20001.
//   POST /2010-04-01/Accounts/{AC}/Conferences/{CF}/Recordings/{RE or Twilio.CURRENT}.json
//        the same, for recordings seeded on a conference. Unknown conference -> 404 code 20404.
//   GET  /2010-04-01/Accounts/{AC}/Conferences/{CF}/Participants.json
//        -> 200 {participants: [...], page, page_size, uri, ...}. Unknown conference -> 404.
//   GET  /v1/Workspaces/{WS}/Tasks/{WT}   -> 200 task (attributes as a JSON string), ETag header
//   POST /v1/Workspaces/{WS}/Tasks/{WT}   form: Attributes=<json>, AssignmentStatus, Reason,
//        Priority. Honours If-Match: a version other than the task's current one -> 412.
//        Every update bumps the version (the ETag). Attributes not JSON -> 400 code 20001.
//   GET  /2010-04-01/Accounts/{AC}/Recordings.json   the account's recordings, newest first:
//        PageSize (default 50, 1..1000, else 400 code 20001), Page, PageToken; filters
//        DateCreated>= / DateCreated<= / DateCreated (whole GMT days "YYYY-MM-DD"), CallSid,
//        ConferenceSid. -> 200 {recordings, page, page_size, next_page_uri (null on the last
//        page), first_page_uri, previous_page_uri, uri, start, end}. Recordings seeded with
//        "recordings" (see seed) and those created through the API are listed.
//   POST /v1/Accounts/{AC}/Tokens/validate   JSON body {"token": "..."}
//        -> 200 {valid, code, message, expiration, identity, realm_user_value, worker_sid,
//        roles}. Seeded valid token: valid true, code 0. Seeded token whose expiration has
//        passed: valid false, code 20104. Seeded invalid or unknown token: valid false, 20101.
//
// Control API (no auth; never journaled). Bodies and answers are JSON.
//   POST /__control/seed      merge state in; every part optional:
//        { "calls":       { "CA...": { "status": "in-progress" | "completed" | ... } },
//          "conferences": { "CF...": { "status": "in-progress",
//                                      "participants": [ { "call_sid": "CA...",
//                                                          "label": "worker", ... } ],
//                                      "recordings": [ { "sid": "RE...",
//                                                        "status": "in-progress" } ] } },
//          "tasks":       { "WT...": { "workspace_sid": "WS...", "attributes": {...} or "..",
//                                      "assignment_status": "assigned", ... } },
//          "recordings":  [ { "sid": "RE..." (optional), "call_sid": "CA..." or null,
//                             "conference_sid": "CF..." or null,
//                             "start_time": "2026-12-01T10:00:00Z" (ISO 8601; also the
//                             date_created), "duration": 60, "status": "completed" | "absent"
//                             | ..., "error_code": 13617 (with absent),
//                             "source": "StartCallRecordingAPI" | "Conference" | "DialVerb"
//                             | "RecordVerb" | "OutboundAPI" | "Trunking"
//                             | "StartConferenceRecordingAPI", "channels": 2 } ],
//          "tokens":      { "<token>": { "valid": true, "identity": "alice",
//                                        "worker_sid": "WK...", "roles": ["agent"],
//                                        "expiration": "2030-01-01T00:00:00Z" } } }
//        A token with "valid": false is invalid; one with an expiration in the past is expired.
//        A task seeded without workspace_sid is found under any workspace.
//        -> {"ok": true}
//   POST /__control/faults    queue a fault for the next `count` (default 1) matching requests:
//        { "method": "POST", "path": "/Recordings", "count": 2,   // path: substring match
//          "status": 429 | 503 | ..., "retry_after": "1",        // answer with this status
//          "body": {...},                                         // optional answer body
//          "delay_ms": 3000,          // wait before answering (to exceed a client timeout);
//                                     // without status/reset/malformed the request is then
//                                     // served normally (and changes state)
//          "reset": true,             // destroy the socket (TCP reset), no answer
//          "malformed": true }        // answer 200 with a body that is not valid JSON
//        Faults are matched in the order queued; a request consumes at most one.
//        -> {"ok": true, "queued": <faults waiting>}
//   GET  /__control/requests  -> {"requests": [ {seq, time_ms, method, path, query, headers,
//        auth_user, content_type, form, json, body, fault} ]}: every Twilio request received,
//        in order (headers with lowercase names; form is {key: value} for form bodies, json
//        the parsed JSON body, body the raw text; fault says which fault was applied, or null).
//   DELETE /__control/requests  clear the journal.
//   POST /__control/end-recording  {"sid": "RE...", "status": "completed" | "absent",
//        "error_code": 13617 (absent), "duration": 42}: the recording ends so; when its
//        create asked for that event, the status callback is posted and awaited.
//        -> {"ok": true, "callback": {http_status, error} or null (none asked for)}
//        Unknown recording -> 404.
//   GET  /__control/callbacks -> {"callbacks": [ {recording_sid, status, url, form,
//        signature, http_status, error} ]}: every status callback posted, in order.
//   GET  /__control/state     -> {calls, conferences, recordings, tasks, tokens}: the fake's state.
//   POST /__control/reset     clear state, faults and journal.
//   POST /__control/shutdown  answer, then exit 0.
'use strict';

const http = require('http');
const crypto = require('crypto');

function parseArgs(argv) {
  const opts = {
    port: 0,
    accountSid: 'AC' + 'a'.repeat(32),
    authToken: 'fake-auth-token',
    apiKey: '',
    apiSecret: '',
  };
  for (let i = 2; i < argv.length; i++) {
    const next = () => {
      if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--port': opts.port = Number(next()); break;
      case '--account-sid': opts.accountSid = next(); break;
      case '--auth-token': opts.authToken = next(); break;
      case '--api-key': opts.apiKey = next(); break;
      case '--api-secret': opts.apiSecret = next(); break;
      default: fail(`unknown argument ${argv[i]}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) fail('bad --port');
  return opts;
}

function fail(msg) {
  process.stderr.write(`fake_twilio: ${msg}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv);

// ---- state ---------------------------------------------------------------------------------

let state;
let faults;
let journal;
let callbacks;  // recording status callbacks posted: {recording_sid, status, url, ...}
let seq;

function resetAll() {
  state = {
    calls: {},        // CA -> {status}
    conferences: {},  // CF -> {status, participants: [...]}
    recordings: {},   // RE -> recording object (call or conference)
    tasks: {},        // WT -> {task fields..., version}
    tokens: {},       // token -> seed
    statusCallbacks: {},  // RE -> {url, events}: what its create asked for
  };
  faults = [];
  journal = [];
  callbacks = [];
  seq = 0;
}
resetAll();

function newSid(prefix) {
  return prefix + crypto.randomBytes(16).toString('hex');
}

function rfc2822(d = new Date()) {
  return d.toUTCString().replace('GMT', '+0000');
}

function iso(d = new Date()) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function errorBody(status, code, message) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

function accountBase() {
  return `/2010-04-01/Accounts/${opts.accountSid}`;
}

function newRecording({ callSid = null, conferenceSid = null, channels = 1, track = 'both' }) {
  const sid = newSid('RE');
  const now = rfc2822();
  const parent = callSid ? `Calls/${callSid}` : `Conferences/${conferenceSid}`;
  const rec = {
    account_sid: opts.accountSid,
    api_version: '2010-04-01',
    call_sid: callSid,
    conference_sid: conferenceSid,
    date_created: now,
    date_updated: now,
    start_time: now,
    duration: null,
    sid,
    price: null,
    price_unit: 'USD',
    status: 'in-progress',
    channels,
    source: callSid ? 'StartCallRecordingAPI' : 'StartConferenceRecordingAPI',
    error_code: null,
    track,
    encryption_details: null,
    uri: `${accountBase()}/${parent}/Recordings/${sid}.json`,
  };
  state.recordings[sid] = rec;
  return rec;
}

function callStatus(callSid) {
  return (state.calls[callSid] && state.calls[callSid].status) || 'in-progress';
}

function currentRecording(field, parentSid) {
  // The newest recording of the call/conference that has not stopped.
  const live = Object.values(state.recordings).filter(
    (r) => r[field] === parentSid && r.status !== 'stopped');
  return live.length ? live[live.length - 1] : null;
}

function taskJson(task, ws) {
  const copy = { ...task };
  delete copy.version;
  if (!copy.workspace_sid && ws) {
    copy.workspace_sid = ws;
    copy.url = `https://taskrouter.twilio.com/v1/Workspaces/${ws}/Tasks/${task.sid}`;
  }
  return copy;
}

function seedTask(sid, t) {
  const now = iso();
  const ws = t.workspace_sid || null;
  const attributes =
    typeof t.attributes === 'string' ? t.attributes : JSON.stringify(t.attributes || {});
  const wsPath = ws || 'WS' + '0'.repeat(32);
  state.tasks[sid] = {
    account_sid: opts.accountSid,
    age: 0,
    assignment_status: t.assignment_status || 'assigned',
    attributes,
    addons: '{}',
    date_created: now,
    date_updated: now,
    task_queue_entered_date: now,
    priority: t.priority ?? 0,
    reason: null,
    sid,
    task_queue_sid: t.task_queue_sid || newSid('WQ'),
    task_queue_friendly_name: t.task_queue_friendly_name || 'Everyone',
    task_channel_sid: t.task_channel_sid || newSid('TC'),
    task_channel_unique_name: t.task_channel_unique_name || 'voice',
    timeout: t.timeout ?? 86400,
    workflow_sid: t.workflow_sid || newSid('WW'),
    workflow_friendly_name: t.workflow_friendly_name || 'Assign to Anyone',
    workspace_sid: ws,
    url: `https://taskrouter.twilio.com/v1/Workspaces/${wsPath}/Tasks/${sid}`,
    links: {},
    version: 1,
  };
}

function seed(body) {
  for (const [sid, c] of Object.entries(body.calls || {})) {
    state.calls[sid] = { status: (c && c.status) || 'in-progress' };
  }
  for (const [sid, c] of Object.entries(body.conferences || {})) {
    const conf = { status: (c && c.status) || 'in-progress', participants: [] };
    const now = rfc2822();
    for (const p of (c && c.participants) || []) {
      const callSid = p.call_sid || newSid('CA');
      conf.participants.push({
        account_sid: opts.accountSid,
        call_sid: callSid,
        label: p.label ?? null,
        call_sid_to_coach: null,
        coaching: false,
        conference_sid: sid,
        date_created: now,
        date_updated: now,
        end_conference_on_exit: p.end_conference_on_exit ?? false,
        muted: p.muted ?? false,
        hold: p.hold ?? false,
        start_conference_on_enter: p.start_conference_on_enter ?? true,
        status: p.status || 'connected',
        queue_time: '0',
        uri: `${accountBase()}/Conferences/${sid}/Participants/${callSid}.json`,
      });
    }
    state.conferences[sid] = conf;
    for (const r of (c && c.recordings) || []) {
      const rec = newRecording({ conferenceSid: sid });
      if (r.sid) {
        delete state.recordings[rec.sid];
        rec.sid = r.sid;
        rec.uri = `${accountBase()}/Conferences/${sid}/Recordings/${r.sid}.json`;
        state.recordings[r.sid] = rec;
      }
      if (r.status) rec.status = r.status;
    }
  }
  for (const [sid, t] of Object.entries(body.tasks || {})) seedTask(sid, t || {});
  for (const [token, t] of Object.entries(body.tokens || {})) state.tokens[token] = t || {};
  seedListedRecordings(body.recordings);
}

// ---- HTTP plumbing -------------------------------------------------------------------------

function send(req, res, status, body, headers = {}) {
  if (res.destroyed || req.socket.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function parseForm(text) {
  const out = {};
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

function checkAuth(req) {
  const h = req.headers.authorization || '';
  const m = /^Basic (.+)$/i.exec(h);
  if (!m) return { ok: false, user: null };
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return { ok: false, user: decoded };
  const user = decoded.slice(0, i);
  const pass = decoded.slice(i + 1);
  const ok = (user === opts.accountSid && pass === opts.authToken) ||
      (opts.apiKey !== '' && user === opts.apiKey && pass === opts.apiSecret);
  return { ok, user };
}

function takeFault(method, path) {
  for (const f of faults) {
    if (f.remaining <= 0) continue;
    if (f.method && f.method.toUpperCase() !== method) continue;
    if (f.path && !path.includes(f.path)) continue;
    f.remaining--;
    faults = faults.filter((x) => x.remaining > 0);
    return f;
  }
  return null;
}

function describeFault(f) {
  if (!f) return null;
  const d = {};
  for (const k of ['status', 'retry_after', 'delay_ms', 'reset', 'malformed']) {
    if (f[k] !== undefined) d[k] = f[k];
  }
  return d;
}

// ---- Twilio routes ------------------------------------------------------------------------

const SID = '([A-Za-z0-9._-]+)';
const routes = [
  ['POST', new RegExp(`^/2010-04-01/Accounts/${SID}/Calls/${SID}/Recordings\\.json$`),
    createCallRecording],
  ['POST', new RegExp(`^/2010-04-01/Accounts/${SID}/Calls/${SID}/Recordings/${SID}\\.json$`),
    updateCallRecording],
  ['POST',
    new RegExp(`^/2010-04-01/Accounts/${SID}/Conferences/${SID}/Recordings/${SID}\\.json$`),
    updateConferenceRecording],
  ['GET', new RegExp(`^/2010-04-01/Accounts/${SID}/Conferences/${SID}/Participants\\.json$`),
    listParticipants],
  ['GET', new RegExp(`^/v1/Workspaces/${SID}/Tasks/${SID}$`), fetchTask],
  ['POST', new RegExp(`^/v1/Workspaces/${SID}/Tasks/${SID}$`), updateTask],
  ['POST', new RegExp(`^/v1/Accounts/${SID}/Tokens/validate$`), validateToken],
  ['GET', new RegExp(`^/2010-04-01/Accounts/${SID}/Recordings\\.json$`), listRecordings],
];

function notFound(path) {
  return [404, errorBody(404, 20404, `The requested resource ${path} was not found`)];
}

function wrongAccount(ac, path) {
  return ac !== opts.accountSid ? notFound(path) : null;
}

function callNotInProgress() {
  return [400, errorBody(400, 21220, 'Call is not in-progress. Cannot redirect.')];
}

function invalidParam(message) {
  return [400, errorBody(400, 20001, message)];
}

// ---- recording status callbacks --------------------------------------------------------------

// X-Twilio-Signature: HMAC-SHA1 with the auth token over the URL and the fields sorted by name,
// each name followed by its value; base64.
function twilioSignature(url, form) {
  const data = Object.keys(form).sort().reduce((acc, k) => acc + k + form[k], url);
  return crypto.createHmac('sha1', opts.authToken).update(data, 'utf8').digest('base64');
}

// The callback a recording asked for in its create form, or null; an error message when the
// request is wrong.
function statusCallbackOf(form) {
  if (!form.RecordingStatusCallback) return null;
  const events = (form.RecordingStatusCallbackEvent || 'completed').split(/[ ,]+/).filter(Boolean);
  for (const e of events) {
    if (!['in-progress', 'completed', 'absent'].includes(e)) {
      return `RecordingStatusCallbackEvent: unknown event ${e}`;
    }
  }
  const method = form.RecordingStatusCallbackMethod || 'POST';
  if (method !== 'POST') return 'RecordingStatusCallbackMethod: only POST is faked';
  return { url: form.RecordingStatusCallback, events };
}

// Posts `status` for `rec` when its create asked for that event; resolves to the callback
// entry (also kept in `callbacks`), or null when none was asked for.
function postStatusCallback(rec, status) {
  const cb = state.statusCallbacks[rec.sid];
  if (!cb || !cb.events.includes(status)) return Promise.resolve(null);
  const form = {
    AccountSid: opts.accountSid,
    CallSid: rec.call_sid || '',
    RecordingSid: rec.sid,
    RecordingUrl: `https://api.twilio.com${accountBase()}/Recordings/${rec.sid}`,
    RecordingStatus: status,
    RecordingDuration: String(status === 'in-progress' ? 0 : (rec.duration || 0)),
    RecordingChannels: String(rec.channels),
    RecordingTrack: rec.track || 'both',
    RecordingSource: rec.source,
    RecordingStartTime: rec.start_time,
    ErrorCode: String(rec.error_code || 0),
  };
  if (rec.conference_sid) form.ConferenceSid = rec.conference_sid;
  const signature = twilioSignature(cb.url, form);
  const entry = { recording_sid: rec.sid, status, url: cb.url, form, signature,
                  http_status: null, error: null };
  callbacks.push(entry);
  return new Promise((resolve) => {
    let target;
    try {
      target = new URL(cb.url);
    } catch (e) {
      entry.error = `bad URL: ${e.message}`;
      return resolve(entry);
    }
    if (target.protocol !== 'http:' || target.hostname !== '127.0.0.1') {
      entry.error = 'not posted: the fake posts to http://127.0.0.1 only';
      return resolve(entry);
    }
    const body = new URLSearchParams(form).toString();
    const req = http.request(target, {
      method: 'POST',
      timeout: 5000,
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': Buffer.byteLength(body),
        'X-Twilio-Signature': signature,
      },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        entry.http_status = res.statusCode;
        resolve(entry);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => {
      entry.error = e.message;
      resolve(entry);
    });
    req.end(body);
  });
}

function createCallRecording(m, ctx) {
  const [, ac, callSid] = m;
  const bad = wrongAccount(ac, ctx.path);
  if (bad) return bad;
  if (callStatus(callSid) !== 'in-progress') return callNotInProgress();
  const channels = ctx.form.RecordingChannels === 'dual' ? 2 : 1;
  const track = ctx.form.RecordingTrack || 'both';
  if (!['inbound', 'outbound', 'both'].includes(track)) {
    return invalidParam(`RecordingTrack must be inbound, outbound or both`);
  }
  const callback = statusCallbackOf(ctx.form);
  if (typeof callback === 'string') return invalidParam(callback);
  state.calls[callSid] = { status: 'in-progress' };
  const rec = newRecording({ callSid, channels, track });
  if (callback) {
    state.statusCallbacks[rec.sid] = callback;
    // After the create's answer, as Twilio does.
    setTimeout(() => postStatusCallback(rec, 'in-progress'), 20);
  }
  return [201, rec];
}

function applyRecordingUpdate(rec, form) {
  const status = form.Status;
  if (!['paused', 'in-progress', 'stopped'].includes(status)) {
    return invalidParam('Status must be paused, in-progress or stopped');
  }
  const pb = form.PauseBehavior;
  if (pb !== undefined && !['skip', 'silence'].includes(pb)) {
    return invalidParam('PauseBehavior must be skip or silence');
  }
  if (rec.status === 'stopped') {
    return invalidParam(`Recording ${rec.sid} is stopped and cannot be updated`);
  }
  rec.status = status;
  rec.date_updated = rfc2822();
  if (status === 'paused') rec.pause_behavior = pb || 'silence';
  else delete rec.pause_behavior;
  return [200, rec];
}

function updateCallRecording(m, ctx) {
  const [, ac, callSid, recSid] = m;
  const bad = wrongAccount(ac, ctx.path);
  if (bad) return bad;
  if (callStatus(callSid) !== 'in-progress') return callNotInProgress();
  const rec = recSid === 'Twilio.CURRENT' ? currentRecording('call_sid', callSid)
                                          : state.recordings[recSid];
  if (!rec || rec.call_sid !== callSid) return notFound(ctx.path);
  return applyRecordingUpdate(rec, ctx.form);
}

function updateConferenceRecording(m, ctx) {
  const [, ac, confSid, recSid] = m;
  const bad = wrongAccount(ac, ctx.path);
  if (bad) return bad;
  const conf = state.conferences[confSid];
  if (!conf) return notFound(ctx.path);
  if (conf.status !== 'in-progress') {
    return [400, errorBody(400, 20001, `Conference ${confSid} is not in-progress`)];
  }
  const rec = recSid === 'Twilio.CURRENT' ? currentRecording('conference_sid', confSid)
                                          : state.recordings[recSid];
  if (!rec || rec.conference_sid !== confSid) return notFound(ctx.path);
  return applyRecordingUpdate(rec, ctx.form);
}

function listParticipants(m, ctx) {
  const [, ac, confSid] = m;
  const bad = wrongAccount(ac, ctx.path);
  if (bad) return bad;
  const conf = state.conferences[confSid];
  if (!conf) return notFound(ctx.path);
  const uri = `${accountBase()}/Conferences/${confSid}/Participants.json?PageSize=50&Page=0`;
  return [200, {
    participants: conf.participants,
    first_page_uri: uri,
    previous_page_uri: null,
    next_page_uri: null,
    uri,
    page: 0,
    page_size: 50,
    start: 0,
    end: Math.max(conf.participants.length - 1, 0),
  }];
}

function findTask(ws, sid) {
  const t = state.tasks[sid];
  if (!t) return null;
  if (t.workspace_sid && t.workspace_sid !== ws) return null;
  return t;
}

function etag(task) {
  return { ETag: String(task.version) };
}

function fetchTask(m, ctx) {
  const [, ws, sid] = m;
  const t = findTask(ws, sid);
  if (!t) return notFound(ctx.path);
  return [200, taskJson(t, ws), etag(t)];
}

function updateTask(m, ctx) {
  const [, ws, sid] = m;
  const t = findTask(ws, sid);
  if (!t) return notFound(ctx.path);
  const ifMatch = ctx.headers['if-match'];
  if (ifMatch !== undefined && ifMatch.replace(/"/g, '') !== String(t.version)) {
    return [412, errorBody(412, 20001,
        `Task ${sid} has version ${t.version}; If-Match asked for ${ifMatch}`), etag(t)];
  }
  const f = ctx.form;
  if (f.Attributes !== undefined) {
    try {
      JSON.parse(f.Attributes);
    } catch (e) {
      return invalidParam('Attributes must be a valid JSON string');
    }
    t.attributes = f.Attributes;
  }
  if (f.AssignmentStatus !== undefined) t.assignment_status = f.AssignmentStatus;
  if (f.Reason !== undefined) t.reason = f.Reason;
  if (f.Priority !== undefined) t.priority = Number(f.Priority);
  t.version++;
  t.date_updated = iso();
  return [200, taskJson(t, ws), etag(t)];
}

function validateToken(m, ctx) {
  const [, ac] = m;
  const bad = wrongAccount(ac, ctx.path);
  if (bad) return bad;
  if (!ctx.json || typeof ctx.json.token !== 'string') {
    return [400, errorBody(400, 20001, 'token is required in the JSON body')];
  }
  const seeded = state.tokens[ctx.json.token];
  const invalid = (code, message) => [200, {
    valid: false, code, message, expiration: null, identity: null, realm_user_value: null,
    worker_sid: null, roles: null,
  }];
  if (!seeded || seeded.valid === false) return invalid(20101, 'Invalid Access Token');
  const expiration = seeded.expiration || iso(new Date(Date.now() + 3600 * 1000));
  if (Date.parse(expiration) <= Date.now()) {
    return invalid(20104, 'Access Token expired or expiration date invalid');
  }
  return [200, {
    valid: true,
    code: 0,
    message: null,
    expiration,
    identity: seeded.identity ?? null,
    realm_user_value: seeded.realm_user_value ?? seeded.identity ?? null,
    worker_sid: seeded.worker_sid ?? null,
    roles: seeded.roles ?? [],
  }];
}

// ---- the Recordings list (recrules audit) ---------------------------------------------------

function seedListedRecordings(list) {
  for (const r of list || []) {
    const callSid = r.call_sid ?? null;
    const conferenceSid = r.conference_sid ?? null;
    const rec = newRecording({ callSid: callSid || 'CA' + '0'.repeat(32), channels: r.channels ?? 2 });
    delete state.recordings[rec.sid];
    if (r.sid) rec.sid = r.sid;
    const start = r.start_time ? new Date(r.start_time) : new Date();
    rec.call_sid = callSid;
    rec.conference_sid = conferenceSid;
    rec.start_time = rfc2822(start);
    rec.date_created = rfc2822(r.date_created ? new Date(r.date_created) : start);
    rec.date_updated = rec.date_created;
    rec.duration = r.duration === undefined ? '60' : r.duration === null ? null : String(r.duration);
    rec.status = r.status || 'completed';
    rec.source = r.source || (conferenceSid && !callSid ? 'StartConferenceRecordingAPI'
                                                        : 'StartCallRecordingAPI');
    rec.error_code = r.error_code ?? null;
    const parent = conferenceSid && !callSid ? `Conferences/${conferenceSid}` : `Calls/${callSid}`;
    rec.uri = `${accountBase()}/${parent}/Recordings/${rec.sid}.json`;
    state.recordings[rec.sid] = rec;
  }
}

// "YYYY-MM-DD" of an RFC 2822 date, in GMT.
function gmtDay(rfc) {
  return new Date(rfc).toISOString().slice(0, 10);
}

function listRecordings(m, ctx) {
  const [, ac] = m;
  const bad = wrongAccount(ac, ctx.path);
  if (bad) return bad;
  const q = ctx.query;
  const pageSize = q.PageSize === undefined ? 50 : Number(q.PageSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    return invalidParam('PageSize must be a whole number from 1 to 1000');
  }
  const page = q.Page === undefined ? 0 : Number(q.Page);
  if (!Number.isInteger(page) || page < 0) return invalidParam('Page must be >= 0');
  for (const k of ['DateCreated>', 'DateCreated<', 'DateCreated']) {
    if (q[k] !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(q[k])) {
      return invalidParam(`${k}${k === 'DateCreated' ? '' : '='} must be a date YYYY-MM-DD`);
    }
  }
  const all = Object.values(state.recordings).filter((r) => {
    const day = gmtDay(r.date_created);
    if (q['DateCreated>'] !== undefined && day < q['DateCreated>']) return false;
    if (q['DateCreated<'] !== undefined && day > q['DateCreated<']) return false;
    if (q.DateCreated !== undefined && day !== q.DateCreated) return false;
    if (q.CallSid !== undefined && r.call_sid !== q.CallSid) return false;
    if (q.ConferenceSid !== undefined && r.conference_sid !== q.ConferenceSid) return false;
    return true;
  });
  all.sort((a, b) => Date.parse(b.date_created) - Date.parse(a.date_created) ||
                     (a.sid < b.sid ? -1 : 1));
  const start = page * pageSize;
  const items = all.slice(start, start + pageSize);
  const base = `${accountBase()}/Recordings.json`;
  const pageUri = (n) => {
    const p = new URLSearchParams();
    for (const k of ['DateCreated>', 'DateCreated<', 'DateCreated', 'CallSid', 'ConferenceSid']) {
      if (q[k] !== undefined) p.set(k, q[k]);
    }
    p.set('PageSize', String(pageSize));
    p.set('Page', String(n));
    if (n > 0) p.set('PageToken', `PA${(all[n * pageSize - 1] || { sid: n }).sid}`);
    return `${base}?${p.toString()}`;
  };
  return [200, {
    recordings: items,
    page,
    page_size: pageSize,
    start,
    end: start + Math.max(items.length - 1, 0),
    uri: pageUri(page),
    first_page_uri: pageUri(0),
    previous_page_uri: page > 0 ? pageUri(page - 1) : null,
    next_page_uri: start + pageSize < all.length ? pageUri(page + 1) : null,
  }];
}

function serveTwilio(req, res, ctx) {
  const fault = takeFault(req.method, ctx.path);
  journal.push({
    seq: ++seq,
    time_ms: Date.now(),
    method: req.method,
    path: ctx.path,
    query: ctx.query,
    headers: req.headers,
    auth_user: checkAuth(req).user,
    content_type: req.headers['content-type'] || null,
    form: ctx.form,
    json: ctx.json,
    body: ctx.body,
    fault: describeFault(fault),
  });

  const answer = () => {
    if (fault && fault.reset) {
      if (typeof req.socket.resetAndDestroy === 'function') req.socket.resetAndDestroy();
      else req.socket.destroy();
      return;
    }
    if (fault && fault.malformed) {
      send(req, res, fault.status || 200, '{"sid": "RE0123", "status": "in-pro');
      return;
    }
    if (fault && fault.status) {
      const headers = fault.retry_after !== undefined ? { 'Retry-After': String(fault.retry_after) }
                                                      : {};
      const message = fault.status === 429 ? 'Too Many Requests' : 'Service Unavailable';
      const code = fault.status === 429 ? 20429 : 20503;
      send(req, res, fault.status, fault.body || errorBody(fault.status, code, message), headers);
      return;
    }
    if (!checkAuth(req).ok) {
      send(req, res, 401, errorBody(401, 20003, 'Authenticate'));
      return;
    }
    for (const [method, re, handler] of routes) {
      const m = re.exec(ctx.path);
      if (!m) continue;
      if (method !== req.method) continue;
      const [status, body, headers] = handler(m, ctx);
      send(req, res, status, body, headers || {});
      return;
    }
    const [status, body] = notFound(ctx.path);
    send(req, res, status, body);
  };
  if (fault && fault.delay_ms) setTimeout(answer, fault.delay_ms);
  else answer();
}

// ---- control routes -----------------------------------------------------------------------

function serveControl(req, res, ctx) {
  const key = `${req.method} ${ctx.path}`;
  switch (key) {
    case 'POST /__control/seed':
      if (!ctx.json || typeof ctx.json !== 'object') {
        return send(req, res, 400, { ok: false, error: 'seed needs a JSON object body' });
      }
      seed(ctx.json);
      return send(req, res, 200, { ok: true });
    case 'POST /__control/faults': {
      const f = ctx.json;
      if (!f || typeof f !== 'object') {
        return send(req, res, 400, { ok: false, error: 'faults needs a JSON object body' });
      }
      if (!f.status && !f.delay_ms && !f.reset && !f.malformed) {
        return send(req, res, 400,
            { ok: false, error: 'a fault needs status, delay_ms, reset or malformed' });
      }
      const count = f.count === undefined ? 1 : Number(f.count);
      if (!Number.isInteger(count) || count < 1) {
        return send(req, res, 400, { ok: false, error: 'count must be a whole number >= 1' });
      }
      faults.push({ ...f, remaining: count });
      return send(req, res, 200, { ok: true, queued: faults.length });
    }
    case 'GET /__control/requests':
      return send(req, res, 200, { requests: journal });
    case 'DELETE /__control/requests':
      journal = [];
      return send(req, res, 200, { ok: true });
    case 'GET /__control/state':
      return send(req, res, 200, {
        calls: state.calls,
        conferences: state.conferences,
        recordings: state.recordings,
        tasks: Object.fromEntries(
            Object.entries(state.tasks).map(([k, t]) => [k, { ...taskJson(t), version: t.version }])),
        tokens: state.tokens,
      });
    case 'POST /__control/end-recording': {
      const b = ctx.json || {};
      const rec = state.recordings[b.sid];
      if (!rec) return send(req, res, 404, { ok: false, error: `no recording ${b.sid}` });
      const status = b.status || 'completed';
      if (!['completed', 'absent'].includes(status)) {
        return send(req, res, 400, { ok: false, error: 'status must be completed or absent' });
      }
      rec.status = status;
      rec.duration = status === 'absent' ? '0' : String(b.duration ?? 1);
      rec.error_code = status === 'absent' ? (b.error_code ?? 13617) : null;
      postStatusCallback(rec, status).then((entry) => send(req, res, 200, {
        ok: true,
        callback: entry && { http_status: entry.http_status, error: entry.error },
      }));
      return undefined;
    }
    case 'GET /__control/callbacks':
      return send(req, res, 200, { callbacks });
    case 'POST /__control/reset':
      resetAll();
      return send(req, res, 200, { ok: true });
    case 'POST /__control/shutdown':
      send(req, res, 200, { ok: true });
      setImmediate(() => process.exit(0));
      return undefined;
    default:
      return send(req, res, 404, { ok: false, error: `no control route ${key}` });
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const body = Buffer.concat(chunks).toString('utf8');
    const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    const ctx = {
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      form: type === 'application/x-www-form-urlencoded' ? parseForm(body) : {},
      json: null,
    };
    // Control bodies are JSON whatever their Content-Type says.
    const isControl = url.pathname.startsWith('/__control/');
    if ((type === 'application/json' || isControl) && body !== '') {
      try {
        ctx.json = JSON.parse(body);
      } catch (e) {
        ctx.json = null;
      }
    }
    try {
      if (isControl) serveControl(req, res, ctx);
      else serveTwilio(req, res, ctx);
    } catch (e) {
      send(req, res, 500, errorBody(500, 20500, `fake_twilio bug: ${e.message}`));
    }
  });
});
server.keepAliveTimeout = 30000;
server.on('clientError', (err, socket) => socket.destroy());

server.listen(opts.port, '127.0.0.1', () => {
  process.stdout.write(`fake_twilio listening 127.0.0.1:${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
