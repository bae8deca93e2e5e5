/** Test helpers for the simulator specs: the demo plant from config/ and the real ingest decoder. */
import { join } from 'node:path';
import { loadPlant, type PlantModel } from '../src/config/config.loader';
import { decodeTelemetry, type DecodeResult } from '../src/ingest/domain/decode';
import type { TelemetryPayload } from '../src/ingest/domain/telemetry-contract';
import type { SimDevice } from './device.model';

let cached: PlantModel | null = null;

/** The demo plant (config/plant.yaml), loaded once. */
export function demoPlant(): PlantModel {
  cached ??= loadPlant(join(__dirname, '..', 'config'));
  return cached;
}

export function demoDevices(): SimDevice[] {
  return [...demoPlant().deviceByKey.values()];
}

/** Runs a payload through the server's decoder exactly as ingest would (serialised to JSON first). */
export function decodeAsIngest(
  device: SimDevice,
  payload: TelemetryPayload,
  receivedAt = Number(payload.ts),
): DecodeResult {
  return decodeTelemetry(Buffer.from(JSON.stringify(payload)), {
    siteId: device.siteId,
    deviceId: device.id,
    channels: device.channels,
    receivedAt,
    maxSkewMs: 300_000,
  });
}
