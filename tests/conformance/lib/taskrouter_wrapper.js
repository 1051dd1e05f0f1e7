// Stands in for the template's common/twilio-wrappers/taskrouter, which the subset of the
// template does not include: only updateTaskAttributes, the one update-task-attributes uses.
// Its contract, as the template's function relies on it: merge the JSON object
// attributesUpdate into the task's current attributes (deeply), write them back guarded by
// the task's version, and answer {success, status, data} (or the retry handler's error shape).
'use strict';

const merge = require('lodash/merge');

const { twilioExecute } = require(Runtime.getFunctions()['common/helpers/function-helper'].path);

exports.updateTaskAttributes = async ({ context, taskSid, attributesUpdate }) => {
  const workspace = context.TWILIO_FLEX_WORKSPACE_SID;
  return twilioExecute(context, async (client) => {
    const tasks = client.taskrouter.v1.workspaces(workspace).tasks(taskSid);
    const current = await tasks.fetch();
    const attributes = merge({}, JSON.parse(current.attributes), JSON.parse(attributesUpdate));
    return tasks.update({ attributes: JSON.stringify(attributes) });
  });
};
