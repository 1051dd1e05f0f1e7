// The recrules client for a Flex plugin: asks POST /v1/decide before a call is accepted, starts
// the dual-channel recording after accept when the decision says so, and pauses and resumes
// recordings through the adapter after asking the policy. When the adapter cannot be reached in
// time, the built-in exclusions are evaluated locally (exclusions.ts) and a log line says so.
import { decideLocally } from './exclusions.js';
import type {
  Channel,
  Decision,
  FeatureSettings,
  FlexTaskLike,
  Json,
  PauseBehavior,
  RecordingResponse,
  RecrulesEvent,
  WorkerLike,
} from './types.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface RecrulesClientOptions {
  /** The recrules adapter, e.g. "https://recrules.example.com" (no trailing path). */
  baseUrl: string;
  /** Where the template's serverless paths live; defaults to baseUrl (recrules serves them). */
  featuresBaseUrl?: string;
  /** The Flex user token (manager.user.token); sent as Bearer and as the form field Token. */
  getToken?: () => string | undefined;
  /** The template's `features` block, for the local fallback. */
  features: FeatureSettings;
  /** How long to wait for /v1/decide before deciding locally. Default 1500 ms. */
  decideTimeoutMs?: number;
  /** How long to wait for a recording action (it calls Twilio). Default 10000 ms. */
  actionTimeoutMs?: number;
  /** How long to wait for the recorded leg's call SID to appear on the conference. Default 10 s. */
  callSidWaitMs?: number;
  callSidPollMs?: number;
  /** Twilio's REST base, for the Flex Insights media link. Default https://api.twilio.com. */
  twilioApiBase?: string;
  fetch?: typeof fetch;
  log?: Logger;
}

/** An error from the adapter that was reached: its HTTP status and its words. */
export class RecrulesError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
    this.name = 'RecrulesError';
  }
}

/** The outcome of a pause or resume: whether the policy allowed it and what Twilio said. */
export interface RecordingActionResult {
  allowed: boolean;
  decision: Decision;
  response?: RecordingResponse;
}

/** What the client remembers about each task's recording, for pause and resume. */
interface RecordingState {
  mode: 'call' | 'conference';
  callSid?: string;
  conferenceSid?: string;
  recordingSid?: string;
}

const consoleLogger: Logger = {
  info: (m) => console.info(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

function errorText(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'timed out';
    const cause = (e as { cause?: { code?: string } }).cause;
    return cause?.code ? `${e.message} (${cause.code})` : e.message;
  }
  return String(e);
}

function str(v: Json | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export class RecrulesClient {
  private readonly baseUrl: string;
  private readonly featuresBaseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly log: Logger;
  private readonly recordings = new Map<string, RecordingState>();

  constructor(private readonly options: RecrulesClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.featuresBaseUrl = (options.featuresBaseUrl ?? options.baseUrl).replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? fetch;
    this.log = options.log ?? consoleLogger;
  }

  /**
   * Asks the policy. Falls back to the local built-in exclusions (and logs it) when the adapter
   * does not answer within decideTimeoutMs, cannot be connected to, or answers 5xx. A 4xx answer
   * (the adapter rejected the request) is thrown as RecrulesError.
   */
  async decide(event: RecrulesEvent, task: FlexTaskLike, worker?: WorkerLike): Promise<Decision> {
    const body: { [key: string]: unknown } = { event, task: taskRequest(task) };
    if (worker) body['worker'] = worker;
    const token = this.options.getToken?.();
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (token) headers['Authorization'] = `Bearer ${token}`;
    const timeoutMs = this.options.decideTimeoutMs ?? 1500;
    let why: string;
    try {
      const res = await this.fetchFn(`${this.baseUrl}/v1/decide`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.ok) {
        const decision = JSON.parse(text) as Decision;
        decision.source = 'adapter';
        return decision;
      }
      if (res.status < 500) {
        throw new RecrulesError(`recrules: /v1/decide answered ${res.status}: ${text}`, res.status, text);
      }
      why = `answered ${res.status}`;
    } catch (e) {
      if (e instanceof RecrulesError) throw e;
      why = errorText(e) === 'timed out' ? `timed out after ${timeoutMs} ms` : `unreachable: ${errorText(e)}`;
    }
    const decision = decideLocally(this.options.features, event, task);
    this.log.warn(
      `recrules: /v1/decide ${why}; decided ${event} for task ${task.taskSid} locally with the built-in exclusions: ` +
        `${decision.action} (${decision.rule}: ${decision.reason})`,
    );
    return decision;
  }

  /**
   * For Flex's beforeAcceptTask: decides and sets payload.conferenceOptions.conferenceRecord.
   * Never throws: when the adapter rejects the request, the local decision is used.
   */
  async beforeAcceptTask(payload: { conferenceOptions?: { [key: string]: unknown } }, task: FlexTaskLike): Promise<Decision> {
    let decision: Decision;
    try {
      decision = await this.decide('accept', task);
    } catch (e) {
      decision = decideLocally(this.options.features, 'accept', task);
      this.log.error(`recrules: ${errorText(e)}; decided accept for task ${task.taskSid} locally: ${decision.action}`);
    }
    payload.conferenceOptions = payload.conferenceOptions ?? {};
    payload.conferenceOptions['conferenceRecord'] = decision.conferenceRecord;
    if (decision.mode === 'conference' && decision.action === 'record' && task.conference?.conferenceSid) {
      this.recordings.set(task.taskSid, { mode: 'conference', conferenceSid: task.conference.conferenceSid });
    }
    this.log.info(`recrules: task ${task.taskSid}: ${decision.action} (${decision.rule}: ${decision.reason}) [policy ${decision.policy}]`);
    return decision;
  }

  /**
   * For Flex's afterAcceptTask: when the decision is a dual-channel recording, finds the leg
   * (customer or worker) and starts the recording through the adapter, then writes the Flex
   * Insights media link onto the task. Returns the adapter's answer, or undefined when there was
   * nothing to start.
   */
  async afterAcceptTask(task: FlexTaskLike, decision: Decision): Promise<RecordingResponse | undefined> {
    if (decision.conferenceRecord && task.conference?.conferenceSid) {
      this.recordings.set(task.taskSid, { mode: 'conference', conferenceSid: task.conference.conferenceSid });
    }
    if (decision.action !== 'record' || decision.mode !== 'dual-channel') return undefined;
    const channel: Channel = decision.channel ?? 'customer';
    const callSid = await this.waitForCallSid(task, channel);
    if (!callSid) {
      this.log.error(`recrules: task ${task.taskSid}: no ${channel} call SID found; the dual-channel recording was not started`);
      return { success: false, message: `no ${channel} call SID found` };
    }
    const response = await this.postForm('/features/dual-channel-recording/flex/create-recording', { callSid });
    if (!response.success) {
      this.log.error(`recrules: task ${task.taskSid}: starting the recording failed: ${response.message ?? 'unknown error'}`);
      return response;
    }
    const recordingSid = str(response.recording?.['sid']);
    this.recordings.set(task.taskSid, { mode: 'call', callSid, ...(recordingSid ? { recordingSid } : {}) });
    await this.writeMediaLink(task, channel, response);
    return response;
  }

  /** Asks the policy (pause_request); when it grants the pause, pauses the active recording. */
  async pauseRecording(task: FlexTaskLike): Promise<RecordingActionResult> {
    const decision = await this.decide('pause_request', task);
    if (decision.action !== 'pause') {
      this.log.info(`recrules: pause refused for task ${task.taskSid}: ${decision.reason} (${decision.rule})`);
      return { allowed: false, decision };
    }
    const state = this.recordingFor(task, decision);
    const pauseBehavior: PauseBehavior = decision.pauseBehavior ?? 'skip';
    const fields: Record<string, string> = { pauseBehavior };
    if (state.recordingSid) fields['recordingSid'] = state.recordingSid;
    const response =
      state.mode === 'call'
        ? await this.postForm('/features/pause-recording/flex/pause-call-recording', { ...fields, callSid: state.callSid ?? '' })
        : await this.postForm('/features/pause-recording/flex/pause-conference-recording', {
            ...fields,
            conferenceSid: state.conferenceSid ?? '',
          });
    const sid = str(response.recording?.['sid']);
    if (response.success && sid) state.recordingSid = sid;
    return { allowed: true, decision, response };
  }

  /** Asks the policy (resume_request); when it grants it, resumes the paused recording. */
  async resumeRecording(task: FlexTaskLike): Promise<RecordingActionResult> {
    const decision = await this.decide('resume_request', task);
    if (decision.action !== 'record') {
      this.log.info(`recrules: resume refused for task ${task.taskSid}: ${decision.reason} (${decision.rule})`);
      return { allowed: false, decision };
    }
    const state = this.recordingFor(task, decision);
    const fields: Record<string, string> = { recordingSid: state.recordingSid ?? '' };
    const response =
      state.mode === 'call'
        ? await this.postForm('/features/pause-recording/flex/resume-call-recording', { ...fields, callSid: state.callSid ?? '' })
        : await this.postForm('/features/pause-recording/flex/resume-conference-recording', {
            ...fields,
            conferenceSid: state.conferenceSid ?? '',
          });
    return { allowed: true, decision, response };
  }

  /** Forgets a task (call on task completion). */
  forget(taskSid: string): void {
    this.recordings.delete(taskSid);
  }

  private recordingFor(task: FlexTaskLike, decision: Decision): RecordingState {
    let state = this.recordings.get(task.taskSid);
    if (!state) {
      state =
        decision.mode === 'dual-channel'
          ? { mode: 'call', ...optional('callSid', str(task.attributes['call_sid'])) }
          : { mode: 'conference', ...optional('conferenceSid', task.conference?.conferenceSid) };
      this.recordings.set(task.taskSid, state);
    }
    return state;
  }

  private async waitForCallSid(task: FlexTaskLike, channel: Channel): Promise<string | undefined> {
    const deadline = Date.now() + (this.options.callSidWaitMs ?? 10000);
    const poll = this.options.callSidPollMs ?? 500;
    for (;;) {
      const sid = findCallSid(task, channel);
      if (sid || Date.now() >= deadline) return sid;
      await new Promise((resolve) => setTimeout(resolve, poll));
    }
  }

  private async postForm(path: string, fields: Record<string, string>): Promise<RecordingResponse> {
    const form = new URLSearchParams(fields);
    const token = this.options.getToken?.();
    if (token) form.set('Token', token);
    try {
      const res = await this.fetchFn(`${this.featuresBaseUrl}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        signal: AbortSignal.timeout(this.options.actionTimeoutMs ?? 10000),
      });
      const text = await res.text();
      try {
        const parsed = JSON.parse(text) as RecordingResponse;
        if (!res.ok) parsed.success = false;
        return parsed;
      } catch {
        return { success: false, message: `${path} answered ${res.status}: ${text.slice(0, 200)}` };
      }
    } catch (e) {
      this.log.error(`recrules: ${path} failed: ${errorText(e)}`);
      return { success: false, message: errorText(e) };
    }
  }

  private async writeMediaLink(task: FlexTaskLike, channel: Channel, response: RecordingResponse): Promise<void> {
    if (!task.setAttributes || !response.recording) return;
    const rec = response.recording;
    const sid = str(rec['sid']);
    const account = str(rec['accountSid']) ?? str(rec['account_sid']);
    if (!sid || !account) return;
    const base = (this.options.twilioApiBase ?? 'https://api.twilio.com').replace(/\/+$/, '');
    const media: Json = [
      {
        url: `${base}/2010-04-01/Accounts/${account}/Recordings/${sid}`,
        type: 'VoiceRecording',
        start_time: str(rec['startTime']) ?? str(rec['start_time']) ?? new Date().toISOString(),
        channels: ['customer', 'others'],
      },
    ];
    const attributes: { [key: string]: Json } =
      channel === 'customer'
        ? { conversations: { ...asObject(task.attributes['conversations']), media } }
        : {
            reservation_attributes: {
              ...asObject(task.attributes['reservation_attributes']),
              [task.sid]: { media },
            },
          };
    try {
      await task.setAttributes(attributes, { mergeExisting: true });
    } catch (e) {
      this.log.error(`recrules: task ${task.taskSid}: writing the media link failed: ${errorText(e)}`);
    }
  }
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value ? { [key]: value } : {}) as { [P in K]?: string };
}

function asObject(v: Json | undefined): { [key: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/** The request's task: only the fields recrules reads (an ITask holds much more, and cycles). */
export function taskRequest(task: FlexTaskLike): { [key: string]: unknown } {
  const out: { [key: string]: unknown } = {
    sid: task.sid,
    taskSid: task.taskSid,
    attributes: task.attributes,
  };
  if (task.queueName !== undefined) out['queueName'] = task.queueName;
  if (task.queueSid !== undefined) out['queueSid'] = task.queueSid;
  if (task.taskChannelUniqueName !== undefined) out['taskChannelUniqueName'] = task.taskChannelUniqueName;
  return out;
}

/**
 * The call SID of the leg to record. Customer: the customer participant of the conference, else
 * attributes.call_sid (inbound calls). Worker: this worker's participant, else any worker's.
 */
export function findCallSid(task: FlexTaskLike, channel: Channel): string | undefined {
  const participants = task.conference?.participants ?? [];
  if (channel === 'customer') {
    const customer = participants.find((p) => p.participantType === 'customer' && p.callSid);
    return customer?.callSid ?? str(task.attributes['call_sid']);
  }
  const workers = participants.filter((p) => p.participantType === 'worker' && p.callSid);
  const mine = workers.find((p) => task.workerSid !== undefined && p.workerSid === task.workerSid);
  return (mine ?? workers[0])?.callSid;
}
