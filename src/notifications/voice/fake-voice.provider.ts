import type { Clock } from '../../common/clock';
import { JsonLogger } from '../../common/logger';
import type { Scheduler } from '../../common/timer.port';
import type { FakeVoiceSettings } from '../callouts.loader';
import type { CallOutcome } from '../domain/callout.types';
import type { VoiceCall, VoiceCallRequest, VoiceCallResult, VoiceEvent, VoicePort } from './voice.port';

const ANSWERING: ReadonlySet<CallOutcome> = new Set(['ACKED', 'ANSWERED_NO_ACK', 'WRONG_KEY']);
const SIP_CODE: Record<CallOutcome, number | undefined> = {
  ACKED: 200,
  ANSWERED_NO_ACK: 200,
  WRONG_KEY: 200,
  NO_ANSWER: 487,
  BUSY: 486,
  REJECTED: 603,
  UNREACHABLE: 404,
  FAILED: 503,
  CANCELED: 487,
};

/**
 * Scripted phone for unit tests and `npm start` demo mode: each number answers with its scripted outcomes in order
 * (the last one repeats), or the default, `callMs` after the call is placed. Every call is logged.
 */
export class FakeVoiceProvider implements VoicePort {
  readonly name = 'fake';
  private readonly log = new JsonLogger('notifications.voice.fake');
  private readonly calls = new Map<string, number>();
  private readonly scripts: Map<string, readonly CallOutcome[]>;
  private seq = 0;
  /** Every request placed (tests). */
  readonly placed: VoiceCallRequest[] = [];

  constructor(
    private readonly settings: FakeVoiceSettings,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
  ) {
    this.scripts = new Map(settings.byNumber);
  }

  /** Sets the script of a number at run time (tests). */
  script(number: string, outcomes: CallOutcome[]): void {
    this.scripts.set(number, outcomes);
    this.calls.set(number, 0);
  }

  private next(number: string): CallOutcome {
    const script = this.scripts.get(number);
    if (!script || script.length === 0) return this.settings.defaultOutcome;
    const n = this.calls.get(number) ?? 0;
    this.calls.set(number, n + 1);
    return script[Math.min(n, script.length - 1)] ?? this.settings.defaultOutcome;
  }

  place(req: VoiceCallRequest, onEvent: (e: VoiceEvent) => void): VoiceCall {
    this.placed.push(req);
    const callId = `fake-${++this.seq}`;
    const outcome = this.next(req.number);
    const placedAt = this.clock.now();
    this.log.info('fake call placed (no phone is dialled)', {
      attemptId: req.attemptId,
      number: req.number,
      callee: req.calleeName,
      prompt: req.prompt.text,
      scripted: outcome,
    });
    onEvent({ key: 'placed', at: placedAt, kind: 'placed', detail: `fake call ${callId}` });
    let settle!: (r: VoiceCallResult) => void;
    const result = new Promise<VoiceCallResult>((r) => (settle = r));
    let done = false;
    const finish = (o: CallOutcome): void => {
      if (done) return;
      done = true;
      const at = this.clock.now();
      const answered = ANSWERING.has(o);
      if (answered) onEvent({ key: 'answered', at, kind: 'answered', sipCode: 200 });
      const digits =
        o === 'ACKED' ? req.confirmKey : o === 'WRONG_KEY' ? (req.confirmKey === '9' ? '8' : '9') : '';
      if (digits) onEvent({ key: `dtmf:${at}`, at, kind: 'dtmf', detail: digits });
      onEvent({
        key: 'ended',
        at,
        kind: 'ended',
        ...(SIP_CODE[o] !== undefined ? { sipCode: SIP_CODE[o] } : {}),
        detail: o,
      });
      this.log.info('fake call ended', { attemptId: req.attemptId, number: req.number, outcome: o });
      settle({
        outcome: o,
        providerCallId: callId,
        ...(SIP_CODE[o] !== undefined ? { sipCode: SIP_CODE[o] } : {}),
        sipStatus: o === 'CANCELED' ? 'canceled by hazwatch' : 'scripted',
        digits,
        ...(answered ? { answeredAt: at } : {}),
        endedAt: at,
      });
    };
    const timer = this.scheduler.after(this.settings.callMs, () => finish(outcome));
    return {
      result,
      cancel: () => {
        timer.cancel();
        finish('CANCELED');
      },
    };
  }

  async close(): Promise<void> {}
}
