import type { Clock } from '../../common/clock';
import { mulberry32 } from '../../common/prng';
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
 * (the last one repeats), or the default, `callMs` after the call is placed. With `dutyChecks` set, a duty-check call
 * is answered with the confirm key with probability `answerRate` (seeded dice; otherwise NO_ANSWER), so the demo's
 * duty-check panel shows on-duty control rooms and the odd missed check. Run-time scripts (`script()`) still win.
 * Every call is logged.
 */
export class FakeVoiceProvider implements VoicePort {
  readonly name = 'fake';
  private readonly log = new JsonLogger('notifications.voice.fake');
  private readonly calls = new Map<string, number>();
  private readonly scripts: Map<string, readonly CallOutcome[]>;
  private seq = 0;
  private readonly dice: () => number;
  /** Numbers scripted at run time (tests): their script applies to duty checks too. */
  private readonly scriptedAtRunTime = new Set<string>();
  /** Every request placed (tests). */
  readonly placed: VoiceCallRequest[] = [];

  constructor(
    private readonly settings: FakeVoiceSettings,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
  ) {
    this.scripts = new Map(settings.byNumber);
    this.dice = mulberry32(settings.dutyChecks?.seed ?? 1);
  }

  /** Sets the script of a number at run time (tests). */
  script(number: string, outcomes: CallOutcome[]): void {
    this.scripts.set(number, outcomes);
    this.calls.set(number, 0);
    this.scriptedAtRunTime.add(number);
  }

  private next(req: VoiceCallRequest): CallOutcome {
    const duty = this.settings.dutyChecks;
    if (duty && req.purpose === 'duty_check' && !this.scriptedAtRunTime.has(req.number))
      return this.dice() < duty.answerRate ? 'ACKED' : 'NO_ANSWER';
    const number = req.number;
    const script = this.scripts.get(number);
    if (!script || script.length === 0) return this.settings.defaultOutcome;
    const n = this.calls.get(number) ?? 0;
    this.calls.set(number, n + 1);
    return script[Math.min(n, script.length - 1)] ?? this.settings.defaultOutcome;
  }

  place(req: VoiceCallRequest, onEvent: (e: VoiceEvent) => void): VoiceCall {
    this.placed.push(req);
    const callId = `fake-${++this.seq}`;
    const outcome = this.next(req);
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
