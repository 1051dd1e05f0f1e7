// The shapes the client reads and writes: the Flex task as the Flex UI shows it (only the fields
// recrules reads), the template's feature configuration, and the decision of recrules.

export type RecrulesEvent = 'accept' | 'update' | 'pause_request' | 'resume_request';
export type Action = 'record' | 'skip' | 'pause';
export type Mode = 'conference' | 'dual-channel';
export type Channel = 'customer' | 'worker';
export type PauseBehavior = 'skip' | 'silence';

/** JSON values as task attributes hold them. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A conference participant as Flex lists it on task.conference.participants. */
export interface FlexParticipant {
  participantType?: string; // "customer" | "worker" | ...
  callSid?: string;
  workerSid?: string;
  status?: string;
}

/** The parts of Flex's ITask that recrules reads. */
export interface FlexTaskLike {
  sid: string; // the reservation SID (WR...)
  taskSid: string; // WT...
  queueName?: string;
  queueSid?: string;
  taskChannelUniqueName?: string;
  workerSid?: string;
  attributes: { [key: string]: Json };
  conference?: { conferenceSid?: string; participants?: FlexParticipant[] };
  /** Flex UI 2.x: merges attributes into the task. Used for the Flex Insights media link. */
  setAttributes?: (attributes: { [key: string]: Json }, options?: { mergeExisting?: boolean }) => Promise<unknown>;
}

export interface WorkerLike {
  sid?: string;
  attributes?: { [key: string]: Json };
}

/** One entry of exclude_attributes: a dot path into the task attributes and a JSON value. */
export interface AttributeExclusion {
  key: string;
  value: Json;
}

export interface ExclusionSettings {
  enabled?: boolean;
  exclude_queues?: string[];
  exclude_attributes?: AttributeExclusion[];
}

/** The Flex template's `features` block (as in policy.json): what the local fallback reads. */
export interface FeatureSettings {
  conditional_recording?: ExclusionSettings;
  dual_channel_recording?: ExclusionSettings & { channel?: Channel };
  pause_recording?: { enabled?: boolean; include_silence?: boolean };
}

/** A decision, as POST /v1/decide answers it. */
export interface Decision {
  id: string;
  event: RecrulesEvent;
  action: Action;
  mode: Mode;
  channel: Channel | null;
  conferenceRecord: boolean;
  pauseBehavior: PauseBehavior | null;
  rule: string;
  reason: string;
  matched: string | null;
  policy: string;
  taskSid?: string | null;
  reservationSid?: string | null;
  callSid?: string | null;
  conferenceSid?: string | null;
  /** Where the decision came from: the adapter, or the local fallback when it was unreachable. */
  source: 'adapter' | 'local';
}

/** The Flex template's serverless response shape, which the recrules adapter keeps. */
export interface RecordingResponse {
  success: boolean;
  recording?: { [key: string]: Json } | null;
  message?: string;
  twilioErrorCode?: number | null;
  twilioDocPage?: string | null;
}
