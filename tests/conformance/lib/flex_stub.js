// Bundled in place of @twilio/flex-ui: only what the template's recording features touch.
// The state behind it (manager, tasks, notifications) is made by lib/plugin.js for each
// plugin instance and read here when the bundle is evaluated.
const env = globalThis.__recrulesPluginEnv;

export const VERSION = '2.17.1';
export const Manager = { getInstance: () => env.manager };
export const TaskHelper = {
  isCallTask: (task) => task.taskChannelUniqueName === 'voice',
  isOutboundCallTask: (task) => task.attributes?.direction === 'outbound',
  getTaskByTaskSid: (taskSid) => env.tasks.get(taskSid),
};
export const Notifications = {
  showNotification: (id) => env.notifications.push(id),
  registerNotification: () => {},
};
export const NotificationType = {
  info: 'info', success: 'success', warning: 'warning', error: 'error',
};
export const Actions = {
  addListener: () => {}, registerAction: () => {}, invokeAction: async () => {},
};
