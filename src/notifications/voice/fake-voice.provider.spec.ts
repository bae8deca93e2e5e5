import { ManualClock } from '../../common/clock';
import { ManualScheduler } from '../../common/testing/manual.scheduler';
import type { FakeVoiceSettings } from '../callouts.loader';
import type { CallOutcome } from '../domain/callout.types';
import { FakeVoiceProvider } from './fake-voice.provider';
import type { VoiceCallRequest } from './voice.port';

const ROOM = 'sip:8001@127.0.0.1:5062';
const request = (n: number, purpose: VoiceCallRequest['purpose']): VoiceCallRequest => ({
  attemptId: `a-${n}`,
  number: ROOM,
  calleeName: 'control room',
  prompt: { text: '值班抽查', version: 'v1' },
  ringTimeoutMs: 40_000,
  keyTimeoutMs: 30_000,
  confirmKey: '1',
  promptRepeats: 3,
  ...(purpose ? { purpose } : {}),
});

async function outcomes(
  settings: FakeVoiceSettings,
  purpose: VoiceCallRequest['purpose'],
  n: number,
  prepare?: (p: FakeVoiceProvider) => void,
): Promise<{ outcome: CallOutcome; digits: string }[]> {
  const clock = new ManualClock(0);
  const scheduler = new ManualScheduler(clock);
  const phone = new FakeVoiceProvider(settings, clock, scheduler);
  prepare?.(phone);
  const out: { outcome: CallOutcome; digits: string }[] = [];
  for (let i = 0; i < n; i++) {
    const call = phone.place(request(i, purpose), () => undefined);
    await scheduler.advance(settings.callMs);
    const r = await call.result;
    out.push({ outcome: r.outcome, digits: r.digits });
  }
  return out;
}

const base: FakeVoiceSettings = {
  callMs: 1000,
  defaultOutcome: 'ANSWERED_NO_ACK',
  byNumber: new Map<string, readonly CallOutcome[]>([[ROOM, ['BUSY', 'ANSWERED_NO_ACK']]]),
};
const demo: FakeVoiceSettings = { ...base, dutyChecks: { answerRate: 0.9, seed: 2026 } };

describe('FakeVoiceProvider: demo duty checks', () => {
  it('answers most duty-check calls with the confirm key and misses a few, reproducibly for a seed', async () => {
    const a = await outcomes(demo, 'duty_check', 200);
    const acked = a.filter((x) => x.outcome === 'ACKED');
    expect(acked.length).toBeGreaterThan(160);
    expect(acked.length).toBeLessThan(200);
    expect(acked.every((x) => x.digits === '1')).toBe(true);
    expect(new Set(a.filter((x) => x.outcome !== 'ACKED').map((x) => x.outcome))).toEqual(
      new Set(['NO_ANSWER']),
    );
    expect(await outcomes(demo, 'duty_check', 200)).toEqual(a);
  });

  it('leaves alarm call-outs to the per-number script', async () => {
    expect((await outcomes(demo, 'callout', 3)).map((x) => x.outcome)).toEqual([
      'BUSY',
      'ANSWERED_NO_ACK',
      'ANSWERED_NO_ACK',
    ]);
  });

  it('without dutyChecks, duty-check calls follow the script like any call', async () => {
    expect((await outcomes(base, 'duty_check', 2)).map((x) => x.outcome)).toEqual([
      'BUSY',
      'ANSWERED_NO_ACK',
    ]);
  });

  it('a number scripted at run time follows its script for duty checks too', async () => {
    const r = await outcomes(demo, 'duty_check', 3, (p) => p.script(ROOM, ['NO_ANSWER']));
    expect(r.map((x) => x.outcome)).toEqual(['NO_ANSWER', 'NO_ANSWER', 'NO_ANSWER']);
  });
});
