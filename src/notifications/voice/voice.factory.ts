import type { Clock } from '../../common/clock';
import type { Scheduler } from '../../storage/timer.port';
import type { CalloutsConfig } from '../callouts.loader';
import { FakeVoiceProvider } from './fake-voice.provider';
import type { VoicePort } from './voice.port';

/** The provider chosen in callouts.yaml (`auto`: fake in demo mode, sip otherwise). */
export function createVoiceProvider(
  config: CalloutsConfig | null,
  dataDir: string,
  clock: Clock,
  scheduler: Scheduler,
): VoicePort {
  const fake = (): VoicePort =>
    new FakeVoiceProvider(
      config?.voice.fake ?? { callMs: 5_000, defaultOutcome: 'ANSWERED_NO_ACK', byNumber: new Map() },
      clock,
      scheduler,
    );
  if (!config || config.voice.provider === 'fake') return fake();
  void dataDir;
  throw new Error('the sip voice provider is not available in this build');
}
