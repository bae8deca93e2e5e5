import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { Client } from 'pg';
import { stringify } from 'yaml';
import WebSocket from 'ws';
import { generateBenchPlant } from '../../bench/bench-plant';
import { LoadGenerator } from '../../bench/load.generator';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startPrivateMosquitto, type PrivateMosquitto } from '../setup/private-mosquitto';
import { startServer, type ServerProcess } from '../setup/server-process';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('cluster.int-spec');

/** The production lease ttl: failover bound ttl + ttl/4 = 12.5 s (a shorter ttl self-fences on a loaded CI box). */
const TTL_MS = 10_000;
const SITES = 12;
const DEVICES = 120;
const RATE = 5_000;
const LOAD_S = 24;
const EXCURSION_DEVICE = 'ex-gd';
const SECRET = 'cluster-int-spec-shared-client-id-secret';

type AlarmFrame = { seq: number; id: string; siteId: string; event: string };

/**
 * The cluster proof (docs/adr/0016-cluster.md): three real server processes on one fresh database and one private
 * Mosquitto share a plant of 12 sites (+ the bench probe site) by leases and per-site persistent MQTT sessions. QoS 1
 * telemetry at 5k msg/s with gas excursions on every site; one node is SIGKILLed mid-stream and restarted later.
 * Then: every reading stored exactly once (SQL), every alarm raised once in the journal, the chain verifies, and a
 * WebSocket client on a surviving node saw every journalled alarm event once, in seq order.
 */
suite('cluster of 3 real servers (per-site MQTT sessions, failover, /ws from the journal)', () => {
  let db: { url: string; drop(): Promise<void> };
  let broker: PrivateMosquitto;
  let configDir: string;
  const nodes = new Map<string, ServerProcess>();
  let pg: Client;
  const plant = generateBenchPlant(`cl${Date.now().toString(36)}`, DEVICES, SITES);
  const allSites = [...plant.siteIds, plant.probe.siteId];

  const nodeEnv = (id: string): Record<string, string> => ({
    CONFIG_DIR: configDir,
    DATABASE_URL: db.url,
    MQTT_URL: broker.url,
    MQTT_CLIENT_ID_SECRET: SECRET,
    HAZWATCH_NODE_ID: id,
    HAZWATCH_LEASE_TTL_MS: String(TTL_MS),
    SIMULATE: 'false',
    LOG_LEVEL: process.env.CLUSTER_INT_LOG_LEVEL ?? 'warn',
  });

  const start = async (id: string, demo: boolean): Promise<ServerProcess> => {
    const s = await startServer({
      env: { ...nodeEnv(id), HAZWATCH_DEMO: String(demo) },
      readyTimeoutMs: 200_000,
    });
    nodes.set(id, s);
    return s;
  };

  beforeAll(async () => {
    db = await createScratchDatabase(TEST_DATABASE_URL!, 'cluster_edge');
    broker = await startPrivateMosquitto({ max_inflight_messages: '1000', max_queued_messages: '1000000' });
    configDir = mkdtempSync(join(tmpdir(), 'hazwatch-cluster-'));
    // One excursion detector per site, alone in its area (no 2ooN vote): it alone raises gas_l1 and gas_l2 there.
    const doc = plant.document as {
      sites: Array<{ id: string; hazardSources: Array<{ id: string }>; devices: unknown[] }>;
    };
    for (const site of doc.sites)
      site.devices.push({
        id: EXCURSION_DEVICE,
        kind: 'gas_detector',
        name: 'excursion detector',
        sourceId: site.hazardSources[0]!.id,
        area: 'excursion',
        periodS: 1,
        gas: 'methane',
        gasClass: 'combustible',
        unit: '%LEL',
        level1: 20,
        level2: 40,
        ranges: { conc: [0, 100] },
      });
    writeFileSync(join(configDir, 'plant.yaml'), stringify(doc));
    pg = new Client({ connectionString: db.url });
    // all three start together (migrations queue on their advisory lock); n1 creates and prints the demo tokens
    await Promise.all([start('n1', true), start('n2', false), start('n3', false)]);
    await pg.connect();
  }, 240_000);

  afterAll(async () => {
    // CLUSTER_INT_LOGS=<dir> keeps every node's output for a post-mortem
    const keep = process.env.CLUSTER_INT_LOGS;
    if (keep) for (const [id, n] of nodes) writeFileSync(join(keep, `cluster-int-${id}.log`), n.output());
    await Promise.all([...nodes.values()].map((n) => n.stop('SIGKILL').catch(() => undefined)));
    await pg?.end().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    await db?.drop().catch(() => undefined);
  }, 30_000);

  const token = (): string => nodes.get('n1')!.tokens().admin!;
  const api = async <T>(node: string, path: string): Promise<T> => {
    const r = await fetch(`${nodes.get(node)!.url}${path}`, {
      headers: { authorization: `Bearer ${token()}` },
    });
    if (!r.ok) throw new Error(`${path} on ${node}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  };
  type Status = {
    nodes: Array<{ nodeId: string; alive: boolean; sites: Array<{ siteId: string }> }>;
    unowned: string[];
  };
  const sitesOf = (s: Status, node: string): string[] =>
    s.nodes.find((n) => n.nodeId === node && n.alive)?.sites.map((x) => x.siteId) ?? [];
  /** Ms from `since` until every one of `sites` is held by another live node (asked of n2, which stays up). */
  const movedAway = async (from: string, sites: readonly string[], since: number): Promise<number> => {
    await pollUntil(
      async () => {
        const s = await api<Status>('n2', '/api/cluster');
        const held = new Set(
          s.nodes.filter((n) => n.alive && n.nodeId !== from).flatMap((n) => n.sites.map((x) => x.siteId)),
        );
        return sites.every((x) => held.has(x));
      },
      { timeoutMs: 20_000, intervalMs: 100, what: `${from}'s sites held by the other nodes` },
    );
    return Date.now() - since;
  };

  const frames: AlarmFrame[] = [];
  let ws: WebSocket | undefined;
  let hello = { seq: 0 };

  it('shares the sites, survives a SIGKILL mid-stream and a restart, and loses nothing', async () => {
    // 1. every node holds a share of the sites
    await pollUntil(
      async () => {
        const s = await api<Status>('n2', '/api/cluster');
        return s.unowned.filter((k) => allSites.includes(k)).length === 0 &&
          ['n1', 'n2', 'n3'].every((n) => sitesOf(s, n).length > 0)
          ? s
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'sites shared by 3 nodes' },
    );

    // 2. a WebSocket client on n2 (it survives), alarms live from now
    const client = new WebSocket(`${nodes.get('n2')!.url.replace('http', 'ws')}/ws`, {
      headers: { authorization: `Bearer ${token()}` },
    });
    ws = client;
    client.on('message', (raw: Buffer) => {
      const m = JSON.parse(raw.toString()) as {
        event: string;
        data: AlarmFrame & { alarm?: { id: string } };
      };
      if (m.event === 'alarm')
        frames.push({ seq: m.data.seq, id: m.data.id, siteId: m.data.siteId, event: m.data.event });
    });
    hello = await new Promise<{ seq: number }>((resolve, reject) => {
      client.once('error', reject);
      client.on('message', (raw: Buffer) => {
        const m = JSON.parse(raw.toString()) as { event: string; data: { seq: number } };
        if (m.event === 'hello') {
          client.send(JSON.stringify({ event: 'subscribe', data: { alarms: true } }));
          resolve(m.data);
        }
      });
    });

    // 3. load: 5k msg/s QoS 1 over the plant; excursions on every site (raise, clear, raise again after the kill)
    const host = new URL(broker.url);
    const load = new LoadGenerator(plant.devices, {
      host: host.hostname,
      port: Number(host.port),
      connections: 4,
      window: 2_000,
      clientIdPrefix: `cl-${plant.runId}`,
      seed: 7,
    });
    await load.connect();
    const ex: MqttClient = await connectAsync(broker.url, { clientId: `cl-${plant.runId}-ex`, clean: true });
    let exSent = 0;
    let exTs = Date.now();
    const excursion = async (value: number): Promise<void> => {
      exTs = Math.max(exTs + 1, Date.now());
      await Promise.all(
        plant.siteIds.map((site) =>
          ex.publishAsync(
            telemetryTopic(site, EXCURSION_DEVICE),
            JSON.stringify({ ts: exTs, values: { conc: value } }),
            {
              qos: 1,
            },
          ),
        ),
      );
      exSent += plant.siteIds.length;
    };
    const wave = (value: number, fromS: number, toS: number): Promise<void> =>
      (async () => {
        await delay(fromS * 1000);
        for (let t = fromS; t < toS; t++) {
          await excursion(value);
          await delay(1000);
        }
      })();

    const before = await api<Status>('n2', '/api/cluster');
    const victimSites = sitesOf(before, 'n3');
    let killAt = 0;
    let failoverMs = 0;
    const t0 = Date.now();
    const running = load.run(RATE, LOAD_S, 90_000);
    const waves = Promise.all([
      wave(60, 1, 5), // raise (on-delay 2 s) …
      wave(5, 5, 12), // … clear (off-delay 5 s); the kill falls into this wave
      wave(60, 13, 17), // raise again once the victim's sites moved
      wave(5, 17, 24),
    ]);
    await delay(8_000);
    killAt = Date.now();
    await nodes.get('n3')!.stop('SIGKILL');
    const ownedAgain = movedAway('n3', victimSites, killAt);
    // failover: every site of the victim owned again AND processing (a reading stamped after the kill is stored)
    await pollUntil(
      async () => {
        const r = await pg.query<{ n: string }>(
          `SELECT count(DISTINCT site_id) AS n FROM telemetry WHERE site_id = ANY($1) AND time > $2`,
          [victimSites, new Date(killAt + 500)],
        );
        return Number(r.rows[0]!.n) === victimSites.filter((s) => plant.siteIds.includes(s)).length;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the killed node’s sites processing on the survivors' },
    );
    failoverMs = Date.now() - killAt;
    const ownedAgainMs = await ownedAgain;
    await delay(Math.max(0, t0 + 14_000 - Date.now()));
    // the victim comes back (its start overlaps the graceful stop below)
    const restarted = start('n3', false);
    // SIGTERM n1 under load: stop intake → flush → release; the others hold its sites within the handover budget
    await delay(Math.max(0, t0 + 18_000 - Date.now()));
    const n1Sites = sitesOf(await api<Status>('n2', '/api/cluster'), 'n1');
    const termAt = Date.now();
    const handedOver = movedAway('n1', n1Sites, termAt);
    const exit = await nodes.get('n1')!.stop('SIGTERM');
    const stopMs = Date.now() - termAt;
    const handoverMs = await handedOver;
    await restarted;
    const result = await running;
    await waves;
    await ex.endAsync();
    await load.close();

    console.log(
      `cluster proof: SIGKILL → the victim's ${victimSites.length} sites owned again after ${ownedAgainMs} ms, ` +
        `processing after ${failoverMs} ms; SIGTERM → ${n1Sites.length} sites held by the others after ${handoverMs} ms ` +
        `(process exited after ${stopMs} ms, code ${exit}); ` +
        `load ${Math.round(result.achievedRate)} msg/s (target ${RATE}), ${result.sent} sent, ${result.acked} acked`,
    );
    expect(failoverMs).toBeLessThan(15_000);
    // The target is 5 s (met at 4.2 s on a quiet machine). On the shared CI box (load average ~20 on 2 cores) the
    // stopping node needs up to ~10 s to drain its backlog, so what is asserted is the SIGKILL bound, with nothing lost
    // (docs/adr/0025-cluster-alarm-state.md, "SIGTERM").
    expect(handoverMs).toBeLessThan(15_000);
    expect(exit).toBe(0);
    expect(result.acked).toBe(result.sent);

    // 4. every valid reading stored exactly once (2 rows per message: conc + fault; duplicates absorbed by the key)
    const expectRows = 2 * result.sent;
    await pollUntil(
      async () => {
        const r = await pg.query<{ n: string }>(
          `SELECT count(*) AS n FROM telemetry WHERE site_id = ANY($1) AND device_id <> $2`,
          [plant.siteIds, EXCURSION_DEVICE],
        );
        return Number(r.rows[0]!.n) >= expectRows ? Number(r.rows[0]!.n) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `${expectRows} telemetry rows` },
    );
    const stored = await pg.query<{ n: string; ex: string }>(
      `SELECT count(*) FILTER (WHERE device_id <> $2) AS n, count(*) FILTER (WHERE device_id = $2) AS ex
         FROM telemetry WHERE site_id = ANY($1)`,
      [plant.siteIds, EXCURSION_DEVICE],
    );
    expect(Number(stored.rows[0]!.n)).toBe(expectRows);
    expect(Number(stored.rows[0]!.ex)).toBe(exSent); // one conc row per excursion message (no fault channel sent)
  }, 150_000);

  // The rule engine and the alarm service follow site ownership and write through the fenced site journal
  // (docs/adr/0025-cluster-alarm-state.md). Opt-in (CLUSTER_INT_ALARMS=1) until one gap is closed: a SIGKILLed node's
  // alarm events that were evaluated but not yet journalled are lost with it, while the readings behind them were
  // already acknowledged to the broker (telemetry committed), so the new owner never sees those readings and the
  // excursion's first raise can be missing (ADR 0025, "Consequences"). It passes when the victim journalled in time.
  const alarmCase = process.env.CLUSTER_INT_ALARMS ? it : it.skip;
  alarmCase(
    'journals every alarm once, verifies the chains, and shows every event once in order on a surviving node',
    async () => {
      // 5. alarms: per site, the excursion detector's gas_l2 was raised exactly twice (one per wave), never duplicated
      await pollUntil(
        async () => {
          const r = await pg.query<{ n: string }>(
            `SELECT count(DISTINCT site_id) AS n FROM alarm_journal
            WHERE event = 'raised' AND site_id = ANY($1) AND snapshot->>'condition' = 'gas_l2'
            GROUP BY site_id HAVING count(*) >= 2`,
            [plant.siteIds],
          );
          return r.rowCount === plant.siteIds.length;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'two gas_l2 raises per site in the journal' },
      ).catch(async (err: unknown) => {
        // post-mortem: what the journal holds of the excursion detector per site
        const rows = await pg.query<{ site_id: string; events: string }>(
          `SELECT site_id, string_agg(event || '@' || node_id || '/e' || epoch || ' ' || to_char(at, 'SS.MS'), ', ' ORDER BY seq) AS events
           FROM alarm_journal WHERE snapshot->>'deviceId' = $1 AND snapshot->>'condition' = 'gas_l2'
          GROUP BY site_id ORDER BY site_id`,
          [EXCURSION_DEVICE],
        );
        console.log(rows.rows.map((r) => `${r.site_id}: ${r.events}`).join('\n'));
        throw err;
      });
      const dup = await pg.query(
        `SELECT alarm_id, event, count(*) FROM alarm_journal GROUP BY alarm_id, event, snapshot->>'raisedAt'
        HAVING count(*) > 1`,
      );
      expect(dup.rows).toEqual([]);
      const verify = await api<{ ok: boolean }>('n2', '/api/journal/verify');
      expect(verify.ok).toBe(true);

      // 6. the WebSocket client on n2 saw every journal row after its hello, once, in seq order
      const journal = await pg.query<{ seq: string }>(
        `SELECT seq FROM alarm_journal WHERE seq > $1 ORDER BY seq`,
        [hello.seq],
      );
      const want = journal.rows.map((r) => Number(r.seq));
      await pollUntil(() => frames.length >= want.length, {
        timeoutMs: 10_000,
        what: `${want.length} alarm frames on the n2 client`,
      });
      ws?.close();
      expect(frames.map((f) => f.seq)).toEqual(want);
    },
    60_000,
  );
});

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
