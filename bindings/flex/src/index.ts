export { RecrulesClient, RecrulesError, findCallSid, taskRequest } from './client.js';
export type { Logger, RecordingActionResult, RecrulesClientOptions } from './client.js';
export { activeExclusions, attributeMatches, decideLocally, findExclusion, jsonEquals, walkPath } from './exclusions.js';
export { registerRecrules } from './flex.js';
export type { FlexActionsLike } from './flex.js';
export type * from './types.js';
