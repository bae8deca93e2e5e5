import type { Clock } from '../common/clock';
import type { JsonLogger } from '../common/logger';
import type { HazwatchMetrics } from '../metrics/metrics.registry';
import { FencedError } from '../cluster/fence';
import type { AttemptRow, CalloutFence, CalloutStore } from './callout.store';
import type {
  VoiceCall,
  VoiceCallRequest,
  VoiceCallResult,
  VoicePort,
  VoicePrompt,
} from './voice/voice.port';
import type { VoiceHealth } from './voice-health.service';

/**
 * Places one call attempt and records it: the attempt row is written before dialling (write-ahead: a restart then
 * knows the call was placed), every provider event is stored (idempotent on its key), the end is written once.
 * A failing database never stops a call: the call goes out and the error is logged loudly.
 */
export class CallRunner {
  constructor(
    private readonly store: CalloutStore,
    private readonly voice: VoicePort,
    private readonly clock: Clock,
    private readonly metrics: HazwatchMetrics,
    private readonly log: JsonLogger,
    /** Told every outcome (the voice-gateway health alarm). */
    private readonly onResult?: (
      siteId: string,
      outcome: VoiceCallResult['outcome'],
      detail?: string,
    ) => void,
  ) {}

  get provider(): string {
    return this.voice.name;
  }

  /**
   * With a fence (cluster mode) every write of the attempt is made under the site's lease, and a refused attempt row
   * means another node owns the site now: the FencedError is thrown and nobody is dialled.
   */
  async run(
    row: AttemptRow,
    req: VoiceCallRequest,
    onStarted: (call: VoiceCall) => void,
    fence?: CalloutFence,
  ): Promise<VoiceCallResult> {
    try {
      await this.store.insertAttempt(row, fence);
    } catch (err) {
      if (err instanceof FencedError) throw err;
      this.log.error('could not record a call attempt before dialling; calling anyway', {
        attemptId: row.id,
        err,
      });
    }
    // provider events are written one after another, so their order in the table is the order they happened
    let writes: Promise<unknown> = Promise.resolve();
    const write = (what: string, op: () => Promise<unknown>): void => {
      writes = writes.then(() =>
        op().catch((err: unknown) =>
          err instanceof FencedError
            ? this.log.warn(`${what} not recorded: another node owns the site now`, { attemptId: row.id })
            : this.log.error(`could not record ${what}`, { attemptId: row.id, err }),
        ),
      );
    };
    let answered = false;
    let call: VoiceCall;
    try {
      call = this.voice.place(req, (e) => {
        write(`call event '${e.kind}'`, () =>
          this.store.addEvent(
            {
              attemptId: row.id,
              key: e.key,
              at: e.at,
              kind: e.kind,
              ...(e.sipCode !== undefined ? { sipCode: e.sipCode } : {}),
              ...(e.detail !== undefined ? { detail: e.detail } : {}),
            },
            fence,
          ),
        );
        if (e.kind === 'answered' && !answered) {
          answered = true;
          this.metrics.calloutSetup.observe({ answered: 'true' }, Math.max(0, e.at - row.placedAt) / 1000);
          write('the answer time', () => this.store.answerAttempt(row.id, e.at, fence));
        }
      });
    } catch (err) {
      this.log.error('voice provider failed to place a call', { attemptId: row.id, number: req.number, err });
      call = {
        result: Promise.resolve({
          outcome: 'FAILED',
          digits: '',
          endedAt: this.clock.now(),
          detail: `provider error: ${err instanceof Error ? err.message : String(err)}`,
        }),
        cancel: () => undefined,
      };
    }
    onStarted(call);
    const result = await call.result.catch((err: unknown): VoiceCallResult => ({
      outcome: 'FAILED',
      digits: '',
      endedAt: this.clock.now(),
      detail: `provider error: ${err instanceof Error ? err.message : String(err)}`,
    }));
    if (!answered)
      this.metrics.calloutSetup.observe(
        { answered: 'false' },
        Math.max(0, result.endedAt - row.placedAt) / 1000,
      );
    this.metrics.callouts.inc({ outcome: result.outcome });
    try {
      this.onResult?.(row.siteId, result.outcome, result.detail);
    } catch (err) {
      this.log.error('call outcome hook failed', { attemptId: row.id, err });
    }
    await writes;
    try {
      await this.store.finishAttempt(
        row.id,
        {
          outcome: result.outcome,
          endedAt: result.endedAt,
          digits: result.digits,
          ...(result.answeredAt !== undefined ? { answeredAt: result.answeredAt } : {}),
          ...(result.providerCallId !== undefined ? { providerCallId: result.providerCallId } : {}),
          ...(result.sipCode !== undefined ? { sipCode: result.sipCode } : {}),
          ...(result.sipStatus !== undefined ? { sipStatus: result.sipStatus } : {}),
          ...(result.detail !== undefined ? { detail: result.detail } : {}),
        },
        fence,
      );
    } catch (err) {
      this.log.error('could not record the end of a call', {
        attemptId: row.id,
        outcome: result.outcome,
        err,
      });
    }
    return result;
  }
}

/** The runner both call-out and duty-check services use: same store, voice port, metrics and voice-gateway health. */
export function createCallRunner(
  store: CalloutStore,
  voice: VoicePort,
  clock: Clock,
  metrics: HazwatchMetrics,
  log: JsonLogger,
  health: VoiceHealth | undefined,
): CallRunner {
  return new CallRunner(
    store,
    voice,
    clock,
    metrics,
    log.child('notifications.calls'),
    (siteId, outcome, detail) => health?.record(siteId, outcome, detail),
  );
}

/** The voice request for one attempt: who to dial, what to play, and the policy's timeouts and confirm key. */
export function voiceRequest(
  attempt: { readonly id: string; readonly callee: { readonly number: string; readonly name: string } },
  prompt: VoicePrompt,
  policy: Pick<VoiceCallRequest, 'ringTimeoutMs' | 'keyTimeoutMs' | 'confirmKey' | 'promptRepeats'>,
  purpose: NonNullable<VoiceCallRequest['purpose']> = 'callout',
): VoiceCallRequest {
  return {
    attemptId: attempt.id,
    number: attempt.callee.number,
    calleeName: attempt.callee.name,
    prompt,
    ringTimeoutMs: policy.ringTimeoutMs,
    keyTimeoutMs: policy.keyTimeoutMs,
    confirmKey: policy.confirmKey,
    promptRepeats: policy.promptRepeats,
    purpose,
  };
}
