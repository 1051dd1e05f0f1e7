// Injected into the plugin bundle in place of the browser globals it uses.
const env = globalThis.__recrulesPluginEnv;

// The browser's fetch, with its CORS rule (lib/plugin.js).
export const fetch = (url, init) => env.fetch(url, init);

// dualChannelHelper arms 60 s give-up timers it never clears; they must not keep node alive.
export const setTimeout = (fn, ms, ...args) => {
  const timer = globalThis.setTimeout(fn, ms, ...args);
  if (ms >= 10000) timer.unref();
  return timer;
};

export const localStorage = env.localStorage;
