// Wiring into a Flex plugin: listeners on Flex's AcceptTask action and custom actions for the
// pause/resume button. Flex's Actions object is typed structurally so that this package needs no
// Flex dependency (and tests can pass a fake).
import type { RecrulesClient } from './client.js';
import type { Decision, FlexTaskLike } from './types.js';

export interface FlexActionsLike {
  addListener(name: string, listener: (payload: any, abort?: () => void) => unknown): void;
  registerAction(name: string, action: (payload: any) => unknown): void;
}

/**
 * Registers: before AcceptTask, decide and set conferenceOptions.conferenceRecord (voice tasks
 * only); after AcceptTask, start the dual-channel recording when the decision says so; the
 * actions PauseCallRecording and ResumeCallRecording (payload { task }), which ask the policy.
 */
export function registerRecrules(actions: FlexActionsLike, client: RecrulesClient): void {
  const decisions = new Map<string, Decision>();
  const isVoice = (task: FlexTaskLike | undefined): task is FlexTaskLike =>
    task !== undefined && (task.taskChannelUniqueName ?? 'voice') === 'voice';

  actions.addListener('beforeAcceptTask', async (payload: { task?: FlexTaskLike; conferenceOptions?: Record<string, unknown> }) => {
    if (!isVoice(payload.task)) return;
    decisions.set(payload.task.taskSid, await client.beforeAcceptTask(payload, payload.task));
  });
  actions.addListener('afterAcceptTask', async (payload: { task?: FlexTaskLike }) => {
    if (!isVoice(payload.task)) return;
    const decision = decisions.get(payload.task.taskSid);
    decisions.delete(payload.task.taskSid);
    if (decision) await client.afterAcceptTask(payload.task, decision);
  });
  actions.addListener('afterCompleteTask', (payload: { task?: FlexTaskLike }) => {
    if (payload.task) client.forget(payload.task.taskSid);
  });
  actions.registerAction('PauseCallRecording', (payload: { task: FlexTaskLike }) => client.pauseRecording(payload.task));
  actions.registerAction('ResumeCallRecording', (payload: { task: FlexTaskLike }) => client.resumeRecording(payload.task));
}
