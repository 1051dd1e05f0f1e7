// A small Twilio-Functions-like runtime that serves the Flex template's serverless functions
// (read from the template folder at test time) on 127.0.0.1, as the reference recrules is
// compared with. What it provides, as Twilio Functions do:
// - the globals `Runtime` (getFunctions(): every function file by its path) and `Twilio`
//   (Twilio.Response);
// - `context`: ACCOUNT_SID, AUTH_TOKEN, PATH, DOMAIN_NAME, the environment, and
//   getTwilioClient(): the real `twilio` client whose HTTP goes to the fake Twilio;
// - `event`: the query string, the form body and a JSON body merged into one object, plus
//   event.request.headers.
// Stand-ins, because they are not in the template subset or cannot run locally:
// - twilio-flex-token-validator is the real package; only its HTTPS request to
//   iam.twilio.com is sent to the fake Twilio's validation endpoint instead;
// - common/twilio-wrappers/taskrouter (required by update-task-attributes, not in the subset)
//   is ./taskrouter_wrapper.js.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire } = require('node:module');
const twilio = require('twilio');

const ownRequire = createRequire(__filename);

class Response {
  constructor() {
    this.statusCode = 200;
    this.body = undefined;
    this.headers = {};
  }
  setStatusCode(code) {
    this.statusCode = code;
    return this;
  }
  setBody(body) {
    this.body = body;
    return this;
  }
  appendHeader(name, value) {
    this.headers[name] = value;
    return this;
  }
  setHeaders(headers) {
    this.headers = { ...headers };
    return this;
  }
}

// Evaluates a CommonJS file with `requireFn` as its require (so that the template's files,
// outside this package, get this package's node_modules).
function loadModule(file, requireFn) {
  const source = fs.readFileSync(file, 'utf8');
  const wrapper = vm.runInThisContext(
      `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
      { filename: file });
  const module = { exports: {} };
  wrapper(module.exports, requireFn, module, file, path.dirname(file));
  return module.exports;
}

// Sends the HTTPS requests of a module to `baseUrl` over plain HTTP.
function httpsTo(baseUrl) {
  const target = new URL(baseUrl);
  return {
    request(options, callback) {
      return http.request({ ...options, protocol: 'http:', hostname: target.hostname,
                            port: target.port }, callback);
    },
  };
}

// The real twilio client, its REST requests sent to the fake Twilio.
function loopbackTwilioClient(fakeTwilioUrl, accountSid, authToken) {
  class LoopbackRequestClient extends twilio.RequestClient {
    request(opts) {
      const uri = new URL(opts.uri);
      return super.request({ ...opts, uri: fakeTwilioUrl + uri.pathname + uri.search });
    }
  }
  return twilio(accountSid, authToken, { httpClient: new LoopbackRequestClient() });
}

function listFunctions(root) {
  const out = {};
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) {
        const name = path.relative(root, full).replace(/\\/g, '/')
            .replace(/(\.private|\.protected)?\.js$/, '');
        out[name] = { path: full, private: /\.private\.js$/.test(entry.name) };
      }
    }
  };
  walk(root);
  return out;
}

async function startFunctions({ templateDir, fakeTwilioUrl, accountSid, authToken, workspaceSid }) {
  const root = path.join(templateDir, 'serverless-functions', 'src', 'functions');
  const functions = listFunctions(root);
  functions['common/twilio-wrappers/taskrouter'] = {
    path: path.join(__dirname, 'taskrouter_wrapper.js'), private: true };
  const validatorFile = ownRequire.resolve('twilio-flex-token-validator');
  const https = httpsTo(fakeTwilioUrl);
  const cache = new Map();
  const requireFor = (name) => {
    if (name === 'twilio-flex-token-validator') return load(validatorFile);
    if (path.isAbsolute(name)) return load(name);
    return ownRequire(name);
  };
  const load = (file) => {
    if (!cache.has(file)) {
      const req = file === validatorFile ? (n) => (n === 'https' ? https : ownRequire(n))
                                         : requireFor;
      cache.set(file, loadModule(file, req));
    }
    return cache.get(file);
  };

  // The template's functions read these as globals, and its retry handler reads process.env
  // (values of the template's .env example).
  globalThis.Runtime = { getFunctions: () => functions };
  globalThis.Twilio = { Response };
  Object.assign(process.env, {
    TWILIO_SERVICE_RETRY_LIMIT: '5',
    TWILIO_SERVICE_MIN_BACKOFF: '100',
    TWILIO_SERVICE_MAX_BACKOFF: '300',
    TWILIO_FLEX_WORKSPACE_SID: workspaceSid,
  });

  const client = loopbackTwilioClient(fakeTwilioUrl, accountSid, authToken);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      const name = url.pathname.replace(/^\//, '');
      const fn = functions[name];
      const send = (status, headers, body) => {
        const text = typeof body === 'string' ? body
                   : body === undefined ? '' : JSON.stringify(body);
        res.writeHead(status, headers);
        res.end(text);
      };
      if (!fn || fn.private) return send(404, { 'Content-Type': 'text/plain' }, 'Not Found');
      const raw = Buffer.concat(chunks).toString('utf8');
      const type = (req.headers['content-type'] || '').split(';')[0].trim();
      let body = {};
      if (type === 'application/json' && raw) body = JSON.parse(raw);
      else if (type === 'application/x-www-form-urlencoded') {
        body = Object.fromEntries(new URLSearchParams(raw));
      }
      const event = { ...Object.fromEntries(url.searchParams), ...body,
                      request: { headers: req.headers, cookies: {} } };
      const context = {
        ACCOUNT_SID: accountSid,
        AUTH_TOKEN: authToken,
        DOMAIN_NAME: req.headers.host,
        PATH: url.pathname,
        SERVICE_SID: 'ZS' + '0'.repeat(32),
        ENVIRONMENT_SID: 'ZE' + '0'.repeat(32),
        TWILIO_FLEX_WORKSPACE_SID: workspaceSid,
        getTwilioClient: () => client,
      };
      const callback = (error, response) => {
        if (error) return send(500, { 'Content-Type': 'text/plain' }, String(error));
        if (response instanceof Response) {
          return send(response.statusCode, response.headers, response.body);
        }
        return send(200, { 'Content-Type': 'application/json' }, response);
      };
      try {
        await load(fn.path).handler(context, event, callback);
      } catch (e) {
        callback(e);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

module.exports = { startFunctions, loopbackTwilioClient };
