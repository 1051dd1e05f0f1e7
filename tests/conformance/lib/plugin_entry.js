// What the tests drive of the template's plugin: its real services and helpers, bundled from
// the template folder ("flex-template/..." is aliased to its src/).
import {
  addLoadedFeature,
  setLoadedFeaturesPopulated,
} from 'flex-template/utils/configuration';
import logger from 'flex-template/utils/logger';
import { reduxNamespace } from 'flex-template/utils/state';
import DualChannelService from 'flex-template/feature-library/dual-channel-recording/helpers/DualChannelService';
import {
  canRecordTask,
  recordExternalCall,
} from 'flex-template/feature-library/dual-channel-recording/helpers/dualChannelHelper';
import PauseRecordingService from 'flex-template/feature-library/pause-recording/helpers/PauseRecordingService';
import {
  pauseRecording,
  resumeRecording,
} from 'flex-template/feature-library/pause-recording/helpers/pauseRecordingHelper';
import { reducerHook } from 'flex-template/feature-library/pause-recording/flex-hooks/states/PauseRecordingSlice';
import TaskRouterService from 'flex-template/utils/serverless/TaskRouter/TaskRouterService';

const env = globalThis.__recrulesPluginEnv;

// As the feature loader does once every feature has loaded.
addLoadedFeature('dual-channel-recording');
addLoadedFeature('pause-recording');
setLoadedFeaturesPopulated(true);
env.addReducers(reduxNamespace, reducerHook());
logger.addDestination({
  log: async (level, message, context) => {
    env.logs.push({ level, message, context });
  },
});

export {
  DualChannelService,
  PauseRecordingService,
  TaskRouterService,
  canRecordTask,
  pauseRecording,
  recordExternalCall,
  resumeRecording,
};
