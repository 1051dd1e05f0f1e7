// The Flex template's plugin code, bundled with esbuild from the template folder
// (@twilio/flex-ui stubbed by ./flex_stub.js) and run in node with the browser's fetch rules:
// every request carries the page's Origin, and an answer the page may not read (no matching
// Access-Control-Allow-Origin) or no answer at all is the browser's "TypeError: Failed to
// fetch", the error the template's ApiService retries.
'use strict';

const path = require('node:path');
const Module = require('node:module');
const esbuild = require('esbuild');
const { ACCOUNT_SID, AGENT_TOKEN, FLEX_ORIGIN } = require('./stack');

let bundled = null;

function bundle(templateDir) {
  if (bundled) return bundled;
  const src = path.join(templateDir, 'plugin-flex-ts-template-v2', 'src');
  const result = esbuild.buildSync({
    entryPoints: [path.join(__dirname, 'plugin_entry.js')],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'silent',
    alias: { '@twilio/flex-ui': path.join(__dirname, 'flex_stub.js'), 'flex-template': src },
    nodePaths: [path.join(__dirname, '..', 'node_modules')],
    inject: [path.join(__dirname, 'plugin_globals.js')],
    tsconfigRaw: { compilerOptions: { baseUrl: src, jsx: 'react' } },
  });
  bundled = result.outputFiles[0].text;
  return bundled;
}

// A participant of the task's conference as Flex describes it.
function participant(type, callSid, extra = {}) {
  return { participantType: type, callSid, status: 'joined', isCurrentWorker: type === 'worker',
           ...extra };
}

// A Flex task (ITask) for a conference call.
function flexTask({ taskSid, reservationSid, conferenceSid, customerLeg, workerLeg, queueName,
                    attributes = {} }) {
  return {
    sid: reservationSid,
    taskSid,
    taskChannelUniqueName: 'voice',
    queueName: queueName || 'Sales',
    queueSid: 'WQ' + '3'.repeat(32),
    taskStatus: 'assigned',
    dateUpdated: new Date(),
    attributes: { call_sid: customerLeg, direction: 'inbound', ...attributes },
    conference: {
      conferenceSid,
      participants: [participant('customer', customerLeg), participant('worker', workerLeg)],
    },
  };
}

// One plugin, as one Flex UI page would run it. options: baseUrl (the serverless domain:
// recrules or the reference), origin (the page's), channel, token.
function loadPlugin(templateDir, options) {
  const base = new URL(options.baseUrl);
  const origin = options.origin || FLEX_ORIGIN;
  const exchanges = [];
  const state = {
    flex: {
      worker: { source: { accountSid: ACCOUNT_SID } },
      phone: { activeCall: null },
      conferences: { states: new Map() },
      featureFlags: { features: {}, localOverrides: {} },
    },
  };
  const reducers = [];
  const storage = new Map();
  const env = {
    tasks: new Map(),
    notifications: [],
    logs: [],
    exchanges,
    localStorage: {
      getItem: (k) => (storage.has(k) ? storage.get(k) : null),
      setItem: (k, v) => storage.set(k, String(v)),
      removeItem: (k) => storage.delete(k),
    },
    addReducers: (namespace, map) => {
      state[namespace] = state[namespace] || {};
      for (const [key, reducer] of Object.entries(map)) {
        state[namespace][key] = reducer(undefined, { type: '@@INIT' });
        reducers.push([namespace, key, reducer]);
      }
    },
    manager: {
      configuration: {
        custom_data: {
          serverless_functions_domain: base.hostname,
          serverless_functions_port: base.port,
          serverless_functions_protocol: base.protocol.replace(':', ''),
          common: { log_level: 'debug' },
          features: {
            dual_channel_recording: { enabled: true, channel: options.channel || 'worker',
                                      exclude_attributes: [], exclude_queues: [] },
            pause_recording: { enabled: true, indicator_banner: false, include_silence: false },
          },
        },
      },
      serviceConfiguration: { call_recording_enabled: false,
                              flex_service_instance_sid: 'IS' + '4'.repeat(32) },
      user: { token: options.token === undefined ? AGENT_TOKEN : options.token },
      workerClient: { attributes: {}, reservations: new Map() },
      store: {
        getState: () => state,
        dispatch: (action) => {
          for (const [namespace, key, reducer] of reducers) {
            state[namespace][key] = reducer(state[namespace][key], action);
          }
          return action;
        },
      },
    },
    fetch: async (url, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('Origin', origin);
      const exchange = { url, body: init.body, status: 0, allowOrigin: null, text: null };
      exchanges.push(exchange);
      let res;
      try {
        res = await fetch(url, { ...init, headers });
      } catch (e) {
        throw new TypeError('Failed to fetch');
      }
      exchange.status = res.status;
      exchange.allowOrigin = res.headers.get('access-control-allow-origin');
      exchange.text = await res.clone().text();
      if (exchange.allowOrigin !== '*' && exchange.allowOrigin !== origin) {
        throw new TypeError('Failed to fetch');
      }
      return res;
    },
  };
  const code = bundle(templateDir);
  globalThis.__recrulesPluginEnv = env;
  const m = new Module(path.join(__dirname, 'plugin.bundle.js'));
  m.paths = Module._nodeModulePaths(__dirname);
  m._compile(code, m.id);
  delete globalThis.__recrulesPluginEnv;
  const plugin = m.exports;
  // The task is the worker's current reservation, as after AcceptTask.
  plugin.accept = (task) => {
    env.tasks.set(task.taskSid, task);
    env.manager.workerClient.reservations.set(task.sid, {});
  };
  plugin.env = env;
  plugin.pausedRecordings =
      () => state['plugin-flex-ts-template-v2'].pauseRecording.pausedRecordings;
  return plugin;
}

module.exports = { loadPlugin, flexTask };
