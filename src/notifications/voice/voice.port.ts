/** The phone behind one port: the escalation and duty-check services place calls; providers (fake, sip) dial. */
import type { CallOutcome } from '../domain/callout.types';

export const VOICE_PORT = Symbol('VOICE_PORT');

export type VoicePrompt = {
  /** What is spoken (Chinese by default). */
  readonly text: string;
  /** Recorded on every attempt so a record says exactly what the callee heard. */
  readonly version: string;
};

export type VoiceCallRequest = {
  readonly attemptId: string;
  /** SIP URI or phone number. */
  readonly number: string;
  readonly calleeName: string;
  readonly prompt: VoicePrompt;
  readonly ringTimeoutMs: number;
  /** After answer: how long to wait for a key while the prompt repeats. */
  readonly keyTimeoutMs: number;
  readonly confirmKey: string;
  readonly promptRepeats: number;
  /** What the call is for (absent: an alarm call-out); the demo phone answers duty checks differently. */
  readonly purpose?: 'callout' | 'duty_check';
};

/** Something the provider saw (a SIP response, a key, a hang-up). `key` makes callbacks idempotent per attempt. */
export type VoiceEvent = {
  readonly key: string;
  readonly at: number;
  readonly kind: string;
  readonly sipCode?: number;
  readonly detail?: string;
};

export type VoiceCallResult = {
  readonly outcome: CallOutcome;
  readonly providerCallId?: string;
  readonly sipCode?: number;
  readonly sipStatus?: string;
  /** Every key pressed, in order. */
  readonly digits: string;
  readonly answeredAt?: number;
  readonly endedAt: number;
  readonly detail?: string;
};

export type VoiceCall = {
  /** Always resolves (a provider failure is the outcome FAILED, never a rejection). */
  readonly result: Promise<VoiceCallResult>;
  /** Ends the call now (CANCEL while ringing, BYE when answered); the result's outcome is then CANCELED. */
  cancel(): void;
};

export type VoicePort = {
  readonly name: string;
  place(req: VoiceCallRequest, onEvent: (e: VoiceEvent) => void): VoiceCall;
  close(): Promise<void>;
};
