import { connectAsync, type MqttClient } from 'mqtt';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { gasMessage } from '../factories/plant.factory';

/**
 * A paced stream of gas-detector readings for fault-injection suites: message `seq` carries `ts = base + seq` (ms) on
 * device `gd-(seq % devices + 1)`, so every message is one distinct (device, ts) in SQL. `acked(seq)` is true once
 * the broker accepted it (QoS 1: its PUBACK; QoS 0: written to the socket).
 */
export type MessageStream = {
  /** Messages published so far (the next seq). */
  readonly next: number;
  /** Messages the broker accepted (QoS 1: PUBACKed to the publisher). */
  readonly accepted: number;
  /** Stops publishing and waits for outstanding broker acknowledgements. */
  stop(): Promise<void>;
  readonly client: MqttClient;
};

export async function startMessageStream(opts: {
  url: string;
  siteId: string;
  ratePerS: number;
  qos: 0 | 1;
  base: number;
  devices?: number;
  tickMs?: number;
}): Promise<MessageStream> {
  const client = await connectAsync(opts.url, { clean: true, log: () => undefined, reconnectPeriod: 200 });
  const devices = opts.devices ?? 3;
  const tick = opts.tickMs ?? 10;
  const topics = Array.from({ length: devices }, (_, i) => telemetryTopic(opts.siteId, `gd-${i + 1}`));
  let next = 0;
  let accepted = 0;
  let outstanding = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    // Catch up to the schedule (timers on a busy machine fire late), at most 1 s worth per tick.
    const due = Math.min(Math.floor(((Date.now() - started) * opts.ratePerS) / 1000) - next, opts.ratePerS);
    for (let k = 0; k < due; k++) {
      const seq = next++;
      outstanding++;
      client.publish(topics[seq % devices]!, gasMessage(opts.base + seq, seq), { qos: opts.qos }, (err) => {
        outstanding--;
        if (!err) accepted++;
      });
    }
  }, tick);
  return {
    get next() {
      return next;
    },
    get accepted() {
      return accepted;
    },
    client,
    stop: async () => {
      clearInterval(timer);
      const deadline = Date.now() + 30_000;
      while (outstanding > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await client.endAsync();
    },
  };
}
