/** Ingest's side of device clocks and sequence gaps (docs/ingest-time-and-sequence.md), through handleMessage. */
import { BehaviorSubject } from 'rxjs';
import { ManualClock } from '../common/clock';
import type { Reading } from '../common/types';
import { loadAppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import type { DeadLetterInput, DeadLetterRepository } from '../storage/dead-letter.repository';
import type { DeviceStateRepository } from '../storage/device-state.repository';
import type { TelemetryWriter } from '../storage/telemetry-writer.service';
import { makePlantConfigDir, gasMessage } from '../../test/factories/plant.factory';
import type { ClockChange } from './domain/device-tracker';
import type { MqttSecurity } from './mqtt-auth/mqtt-security.service';
import { IngestService } from './ingest.service';

const NOW = Date.parse('2026-11-24T10:00:00Z');
const T = 'hazwatch/v1/s1/gd-1/telemetry';

function setup(env: Record<string, string> = {}) {
  const config = loadAppConfig({ CONFIG_DIR: makePlantConfigDir('s1'), DATA_DIR: '/tmp/unused', ...env });
  const written: Reading[] = [];
  const dead: DeadLetterInput[] = [];
  const writer = {
    enqueue: (r: readonly Reading[]) => written.push(...r),
    pressure$: new BehaviorSubject(false),
  } as unknown as TelemetryWriter;
  const deadLetters = { record: (d: DeadLetterInput) => dead.push(d) } as unknown as DeadLetterRepository;
  const deviceStateRepo = {
    loadAll: async () => [],
    upsertMany: async () => undefined,
  } as unknown as DeviceStateRepository;
  const metrics = new HazwatchMetrics(false);
  const svc = new IngestService(
    config,
    new ManualClock(NOW),
    metrics,
    writer,
    deadLetters,
    deviceStateRepo,
    {} as MqttSecurity,
  );
  const messages: Array<readonly Reading[]> = [];
  const clock: ClockChange[] = [];
  svc.messages$.subscribe((m) => messages.push(m));
  svc.clock$.subscribe((c) => clock.push(c));
  const metric = async (name: string): Promise<number> =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? NaN;
  return { svc, written, dead, messages, clock, metric };
}

describe('IngestService: device clocks', () => {
  it('should store and hand on a reading dated 280 s ahead at its arrival time, and report the clock ahead', async () => {
    const { svc, written, messages, clock, dead, metric } = setup();
    svc.handleMessage(T, Buffer.from(gasMessage(NOW, 1, 0.1)), NOW);
    svc.handleMessage(T, Buffer.from(gasMessage(NOW + 2000 + 280_000, 2, 0.1)), NOW + 2000);
    svc.handleMessage(T, Buffer.from(gasMessage(NOW + 4000, 3, 5)), NOW + 4000);
    expect(dead).toEqual([]);
    expect(written.filter((r) => r.channel === 'conc').map((r) => [r.ts, r.value])).toEqual([
      [NOW, 0.1],
      [NOW + 2000, 0.1], // not NOW + 282 000: history holds no reading from the future
      [NOW + 4000, 5],
    ]);
    expect(messages.map((m) => m[0]!.ts)).toEqual([NOW, NOW + 2000, NOW + 4000]);
    expect(clock.map((c) => [c.state, c.offsetMs, c.ts])).toEqual([
      ['ok', 0, NOW],
      ['ahead', 280_000, NOW + 2000],
    ]);
    expect(await metric('hazwatch_ingest_clock_retimed_total')).toBe(1);
    expect(await metric('hazwatch_ingest_clock_faulty_devices')).toBe(1);
  });

  it('should follow INGEST_FUTURE_TOLERANCE_S', () => {
    const { svc, written } = setup({ INGEST_FUTURE_TOLERANCE_S: '30' });
    svc.handleMessage(T, Buffer.from(gasMessage(NOW + 20_000, 1)), NOW);
    svc.handleMessage(T, Buffer.from(gasMessage(NOW + 40_000, 2)), NOW + 1000);
    expect(written.filter((r) => r.channel === 'conc').map((r) => r.ts)).toEqual([NOW + 20_000, NOW + 1000]);
  });

  it('should count seq gaps in /metrics and per device', async () => {
    const { svc, metric } = setup();
    for (const [i, seq] of [1, 2, 5, 6, 6, 10].entries())
      svc.handleMessage(T, Buffer.from(gasMessage(NOW + i * 1000, seq)), NOW + i * 1000);
    expect(await metric('hazwatch_ingest_seq_gaps_total')).toBe(2);
    expect(await metric('hazwatch_ingest_seq_missing_total')).toBe(5);
    expect(await metric('hazwatch_ingest_seq_gaps_total')).toBe(2); // a second scrape does not add again
    expect(svc.registry.get('s1/gd-1')!.tracker).toMatchObject({
      lastSeq: 10,
      seqGaps: 2,
      seqMissing: 5,
      seqDuplicates: 1,
    });
  });
});
