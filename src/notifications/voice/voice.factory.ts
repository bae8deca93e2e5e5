import type { Clock } from '../../common/clock';
import type { Scheduler } from '../../common/timer.port';
import type { CalloutsConfig } from '../callouts.loader';
import { FakeVoiceProvider } from './fake-voice.provider';
import { SipVoiceProvider } from './sip-voice.provider';
import type { VoicePort } from './voice.port';

/** The provider chosen in callouts.yaml (`auto`: fake in demo mode, sip otherwise). */
export function createVoiceProvider(
  config: CalloutsConfig | null,
  dataDir: string,
  clock: Clock,
  scheduler: Scheduler,
): VoicePort {
  if (config?.voice.provider === 'sip') {
    const sip = config.voice.sip;
    if (!sip)
      throw new Error('voice.sip is required for the sip provider (checked when callouts.yaml loads)');
    return new SipVoiceProvider(sip, dataDir, clock, { scheduler });
  }
  return new FakeVoiceProvider(
    config?.voice.fake ?? { callMs: 5_000, defaultOutcome: 'ANSWERED_NO_ACK', byNumber: new Map() },
    clock,
    scheduler,
  );
}
