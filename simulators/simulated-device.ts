/**
 * One simulated device: its value model, the active scenario and its message sequence. Pure: time comes in
 * as arguments (model time for the values, wall time for the `ts` field).
 */
import type { TelemetryPayload } from '../src/ingest/domain/telemetry-contract';
import { createDeviceModel, deviceKey, type DeviceModel, type SimDevice } from './device.model';
import type { ScenarioRun } from './scenario.types';

export type TickResult =
  /** Publish this telemetry payload. */
  | { action: 'publish'; payload: TelemetryPayload }
  /** Connected but sends nothing this period (stale). */
  | { action: 'silent' }
  /** The device is off the network this period (connection dropped; the broker published its last will). */
  | { action: 'offline' };

export class SimulatedDevice {
  readonly key: string;
  private readonly model: DeviceModel;
  /** Counts samples, so a gap in `seq` at the server shows samples that never arrived. */
  private seq = 0;

  constructor(
    readonly device: SimDevice,
    readonly periodMs: number,
    seed: number,
    private readonly scenario?: ScenarioRun,
  ) {
    this.key = deviceKey(device);
    this.model = createDeviceModel(device, seed);
  }

  /** Samples at model time `tMs` (ms since the simulator started) and stamps the message with `wallMs`. */
  tick(tMs: number, wallMs: number): TickResult {
    const sample = this.model.sample(tMs);
    const seq = this.seq++;
    const o = this.scenario?.override(this.device, tMs, sample.values);
    if (o?.offline) return { action: 'offline' };
    if (o?.silent) return { action: 'silent' };
    const values = o?.values ? { ...sample.values, ...o.values } : sample.values;
    return { action: 'publish', payload: { ts: wallMs, seq, values, quality: o?.quality ?? sample.quality } };
  }
}
