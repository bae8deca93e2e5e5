/**
 * Helpers for the simulator scenario e2e tests (scenarios.e2e-spec.ts): which part of the demo plant a scenario owns,
 * how an alarm event is written in an expected sequence, and a recorder of every `/ws` alarm event.
 */
import { join } from 'node:path';
import { loadPlant, type PlantModel } from '../../src/config/config.loader';
import { pollUntil } from '../setup/poll-until';
import { WsTestClient } from './ws-test-client';

export const CONFIG_DIR = join(__dirname, '..', '..', 'config');

/** The alarm event fields the scenario tests look at (docs/contract.md §4 snapshot + event type). */
export type AlarmEvent = {
  seq: number;
  event: string;
  at: string;
  siteId: string;
  sourceId: string;
  ruleId: string;
  deviceId?: string;
  condition: string;
  priority: string;
  state: string;
  active: boolean;
  value: number | string | boolean | null;
  limit: number | string | boolean | null;
  raisedAt: string;
  clearedAt?: string;
};

/** Event time of an alarm event (epoch ms): the condition's time for a raise or a clear, else when it was journalled. */
export function timeOf(e: AlarmEvent): number {
  if (e.event === 'raised') return Date.parse(e.raisedAt);
  if (e.event === 'cleared' && e.clearedAt !== undefined) return Date.parse(e.clearedAt);
  return Date.parse(e.at);
}

/**
 * One alarm event as a line of an expected sequence: `<event> <ruleId>[<deviceId>] <condition> <priority>`; the device
 * is shown only when the rule id does not already name it (interlocks: one alarm per valve).
 */
export function describeEvent(
  e: Pick<AlarmEvent, 'event' | 'ruleId' | 'deviceId' | 'condition' | 'priority'>,
): string {
  const device = e.deviceId !== undefined && !e.ruleId.includes(e.deviceId) ? `[${e.deviceId}]` : '';
  return `${e.event} ${e.ruleId}${device} ${e.condition} ${e.priority}`;
}

let plant: PlantModel | undefined;
/** The demo plant of config/ (loaded once). */
export function demoPlant(): PlantModel {
  plant ??= loadPlant(CONFIG_DIR);
  return plant;
}

/** `site/device` keys of every device of an area, in plant order. */
export function areaDevices(siteId: string, area: string): string[] {
  return [...demoPlant().deviceByKey.values()]
    .filter((d) => d.siteId === siteId && d.area === area)
    .map((d) => `${d.siteId}/${d.id}`);
}

/**
 * Where an alarm belongs: its device's area, or for area-level alarms without a device (votes, composites) the area of
 * its hazard source (in the demo plant every hazard source is one area).
 */
export function ownerKeyOf(e: Pick<AlarmEvent, 'siteId' | 'sourceId' | 'deviceId'>): {
  device?: string;
  area: string;
} {
  const p = demoPlant();
  if (e.deviceId !== undefined) {
    const d = p.deviceByKey.get(`${e.siteId}/${e.deviceId}`);
    return { device: `${e.siteId}/${e.deviceId}`, area: d ? `${e.siteId}/${d.area}` : '?' };
  }
  const d = [...p.deviceByKey.values()].find((x) => x.siteId === e.siteId && x.sourceId === e.sourceId);
  return { area: d ? `${e.siteId}/${d.area}` : '?' };
}

/** A `/ws` client (operator token) that records every alarm event from `since` on, in seq order. */
export class AlarmEventRecorder {
  private constructor(private readonly client: WsTestClient) {}

  static async open(baseUrl: string, token: string): Promise<AlarmEventRecorder> {
    const client = await WsTestClient.connect(`${baseUrl.replace(/^http/, 'ws')}/ws`, {
      Authorization: `Bearer ${token}`,
    });
    const hello = await client.waitFor('hello');
    client.send('subscribe', { alarms: true, since: hello.data.seq });
    await client.waitFor('subscribed');
    return new AlarmEventRecorder(client);
  }

  /** Every alarm event received so far; throws when the connection closed (events could be missing). */
  events(): AlarmEvent[] {
    if (this.client.closed)
      throw new Error(
        `the /ws connection closed (${this.client.closed.code} ${this.client.closed.reason}): alarm events may be missing`,
      );
    const list = this.client.of('alarm').map((f) => f.data as unknown as AlarmEvent);
    for (let i = 1; i < list.length; i++)
      if (list[i]!.seq !== list[i - 1]!.seq + 1)
        throw new Error(`alarm event seq gap: ${list[i - 1]!.seq} then ${list[i]!.seq}`);
    return list;
  }

  close(): void {
    this.client.close();
  }
}

/**
 * Waits until `select()` holds at least `count` items (or the timeout passes) and returns them; the caller asserts on
 * the exact list, so a missing event shows as a diff rather than a bare timeout.
 */
export async function waitForCount<T>(
  select: () => T[] | Promise<T[]>,
  count: number,
  timeoutMs: number,
  what: string,
): Promise<T[]> {
  try {
    return await pollUntil(
      async () => {
        const items = await select();
        return items.length >= count ? items : undefined;
      },
      { timeoutMs, intervalMs: 100, what },
    );
  } catch {
    return select();
  }
}

/** One stored reading: event time (the device's `ts`) and its value (numbers, booleans as 1/0, or text). */
export type Sample = { t: number; v: number | string | null; quality: number };

type RawPoint = { time: string; value: number | null; textValue: string | null; quality: number };

/** Stored raw history of one channel since `fromMs`, oldest first (GET /api/telemetry). */
export async function storedSamples(
  baseUrl: string,
  token: string,
  key: string,
  channel: string,
  fromMs: number,
): Promise<Sample[]> {
  const q = new URLSearchParams({
    device: key,
    channel,
    from: String(fromMs),
    to: String(Date.now() + 60_000),
    limit: '10000',
  });
  const res = await fetch(`${baseUrl}/api/telemetry?${q.toString()}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200)
    throw new Error(`GET /api/telemetry ${key} ${channel}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { points: RawPoint[]; truncated: boolean };
  if (body.truncated) throw new Error(`GET /api/telemetry ${key} ${channel}: truncated`);
  return body.points
    .map((p) => ({ t: Date.parse(p.time), v: p.value ?? p.textValue, quality: p.quality }))
    .sort((a, b) => a.t - b.t);
}

/** Time of the first sample that matches, or a clear error. */
export function firstSample(
  samples: readonly Sample[],
  pred: (v: Sample['v']) => boolean,
  what: string,
): number {
  const s = samples.find((x) => pred(x.v));
  if (!s) throw new Error(`no stored sample ${what}`);
  return s.t;
}

/** The longest silence in a series: the last sample before it and the first after it. */
export function longestGap(samples: readonly Sample[]): { before: number; after: number } {
  let best = { before: NaN, after: NaN };
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1]!.t;
    const after = samples[i]!.t;
    if (!(after - before <= best.after - best.before)) best = { before, after };
  }
  return best;
}
