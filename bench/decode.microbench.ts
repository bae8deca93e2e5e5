/** Cost of the ingest hot path's pure part: decodeTelemetry on a typical gas-detector payload, µs per message. */
import { performance } from 'node:perf_hooks';
import { deviceChannels } from '../src/config/device-channels';
import { decodeTelemetry } from '../src/ingest/domain/decode';
import { DeviceTracker } from '../src/ingest/domain/device-tracker';

export type DecodeCost = { usPerMessage: number; messages: number };

export function measureDecodeCost(messages = 300_000): DecodeCost {
  const channels = deviceChannels({ kind: 'gas_detector', ranges: { conc: [0, 100] } });
  const now = Date.now();
  const payloads = Array.from({ length: 1024 }, (_, i) =>
    Buffer.from(`{"ts":${now + i},"seq":${i},"values":{"conc":${(i % 97) / 10},"fault":false}}`),
  );
  // with the device's clock/seq tracker, as ingest decodes (docs/ingest-time-and-sequence.md)
  const ctx = {
    siteId: 'bench-s0',
    deviceId: 'gd-0',
    channels,
    receivedAt: now + 2000,
    maxSkewMs: 300_000,
    tracker: new DeviceTracker('bench-s0', 'gd-0'),
  };
  let readings = 0;
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) readings += decodeTelemetry(payloads[i & 1023]!, ctx).readings.length;
  };
  run(Math.min(50_000, messages)); // warm-up (JIT)
  readings = 0;
  const t0 = performance.now();
  run(messages);
  const ms = performance.now() - t0;
  if (readings !== 2 * messages)
    throw new Error(`decode micro-benchmark: expected ${2 * messages} readings, got ${readings}`);
  return { usPerMessage: (ms * 1000) / messages, messages };
}
