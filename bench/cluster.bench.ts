/**
 * `npm run bench -- --cluster 3 --database-url postgres://…` (bench/README.md "Cluster mode"): N server processes in
 * cluster mode (distinct HAZWATCH_NODE_ID, one database, one private Mosquitto) share a generated plant of ≥ 12 sites
 * by leases; QoS 1 load is spread over every site; one node is SIGKILLed mid-run. Printed: per-node throughput (rows
 * its writer committed) and CPU, the failover time (killed node's sites owned again, and processing again), the rows
 * accounting counted in SQL (sent / stored / lost / duplicated), and one line comparing with a single node under the
 * same load. Like the throughput bench, every figure is only as good as the machine's idle cores: the load average is
 * printed with each phase.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { maskUrl } from '../src/common/logger';
import { parseCli, type CliOption } from '../src/common/cli-args';
import { loadPlant } from '../src/config/config.loader';
import {
  benchPlantYaml,
  benchRulesYaml,
  generateBenchPlant,
  makeRunId,
  type BenchPlant,
} from './bench-plant';
import { BenchUsageError } from './bench.options';
import { LoadGenerator, type LoadResult } from './load.generator';
import { startMosquitto, type MosquittoHandle } from './mosquitto.process';
import { clockTicksPerSecond, cpuCount, readMachineCpu, readProcCpu, readTree } from './proc.stats';
import { parsePrometheus, sample } from './prometheus.parse';
import { startServer, type ServerHandle } from './server.process';

const ROWS_METRIC = 'hazwatch_storage_rows_written_total';
const ROWS_PER_MESSAGE = 2;

export type ClusterBenchOptions = {
  nodes: number;
  databaseUrl: string;
  mosquitto: string;
  rate: number;
  seconds: number;
  devices: number;
  sites: number;
  publishers: number;
  window: number;
  /** Seconds into the load when one node is SIGKILLed. */
  killAtS: number;
  leaseTtlMs: number;
  /** Also run one single node (no HAZWATCH_NODE_ID) under the same load first, for the comparison line. */
  single: boolean;
  drainTimeoutS: number;
  startTimeoutS: number;
  keepRows: boolean;
  serverEntry: string;
};

export const CLUSTER_USAGE = `Usage: npm run bench -- --cluster <n> --database-url <url> [options]

  --cluster <n>           server nodes in cluster mode (2 to 9; default 3)
  --database-url <url>    the PostgreSQL every node shares (default: $DATABASE_URL; required: an embedded database
                          cannot be shared)
  --mosquitto [binary]    the private Mosquitto's binary (default mosquitto; a private one is always started)
  --rate <n>              QoS 1 messages/s over the whole plant (default 3000)
  --seconds <n>           publishing time (default 30)
  --devices <n>           gas detectors (default 1200)
  --sites <n>             sites they are spread over (12 to 100; default 12)
  --publishers <n>        publisher connections (default 4)
  --window <n>            unacknowledged QoS 1 messages per publisher connection (default 2000)
  --kill-at <s>           SIGKILL one node this many seconds into the load (default a third of --seconds)
  --ttl-ms <n>            HAZWATCH_LEASE_TTL_MS of the nodes (default 10000, the production default)
  --no-single             skip the single-node run under the same load (no comparison line)
  --drain-timeout <s>     longest wait after publishing until every row is stored (default 120)
  --start-timeout <s>     longest wait for the nodes to be ready (default 240)
  --keep-rows             keep the run's rows (deleted by default)
  --server <file>         server entry point (default dist/src/main.js)
`;

const OPTIONS = {
  cluster: { type: 'string' },
  'database-url': { type: 'string' },
  mosquitto: { type: 'string' },
  rate: { type: 'string' },
  seconds: { type: 'string' },
  devices: { type: 'string' },
  sites: { type: 'string' },
  publishers: { type: 'string' },
  window: { type: 'string' },
  'kill-at': { type: 'string' },
  'ttl-ms': { type: 'string' },
  'no-single': { type: 'boolean' },
  'drain-timeout': { type: 'string' },
  'start-timeout': { type: 'string' },
  'keep-rows': { type: 'boolean' },
  server: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, CliOption>;

function int(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max)
    throw new BenchUsageError(`${flag} must be an integer from ${min} to ${max}, got '${raw}'`);
  return Number(raw);
}

/** Parses the cluster bench's argv (pure; null when --help was asked for). */
export function parseClusterArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ClusterBenchOptions | null {
  const values = parseCli(argv, OPTIONS, (m) => new BenchUsageError(m), CLUSTER_USAGE, {
    mosquitto: 'mosquitto',
  });
  if (values === null) return null;
  const str = (k: keyof typeof OPTIONS): string | undefined => values[k] as string | undefined;
  const databaseUrl = str('database-url') ?? env.DATABASE_URL;
  if (!databaseUrl || !/^postgres(ql)?:\/\/.+/.test(databaseUrl))
    throw new BenchUsageError(
      '--cluster needs --database-url postgres://… (or DATABASE_URL): the nodes share it',
    );
  const seconds = int('--seconds', str('seconds'), 6, 86_400) ?? 30;
  const devices = int('--devices', str('devices'), 1, 100_000) ?? 1200;
  const sites = int('--sites', str('sites'), 12, 100) ?? 12;
  if (sites > devices) throw new BenchUsageError(`--sites (${sites}) cannot exceed --devices (${devices})`);
  const killAtS = int('--kill-at', str('kill-at'), 1, seconds - 1) ?? Math.max(1, Math.floor(seconds / 3));
  return {
    nodes: int('--cluster', str('cluster'), 2, 9) ?? 3,
    databaseUrl,
    mosquitto: str('mosquitto') ?? 'mosquitto',
    rate: int('--rate', str('rate'), 1, 1_000_000) ?? 3000,
    seconds,
    devices,
    sites,
    publishers: Math.min(devices, int('--publishers', str('publishers'), 1, 64) ?? 4),
    window: int('--window', str('window'), 1, 60_000) ?? 2000,
    killAtS,
    leaseTtlMs: int('--ttl-ms', str('ttl-ms'), 2000, 600_000) ?? 10_000,
    single: values['no-single'] !== true,
    drainTimeoutS: int('--drain-timeout', str('drain-timeout'), 1, 3600) ?? 120,
    startTimeoutS: int('--start-timeout', str('start-timeout'), 1, 3600) ?? 240,
    keepRows: values['keep-rows'] === true,
    serverEntry: str('server') ?? 'dist/src/main.js',
  };
}

/** What the SQL says about one run's rows: every bench message has its own (device, ts), i.e. two distinct rows. */
export type RowsAccount = {
  sent: number;
  expected: number;
  stored: number;
  unique: number;
  lost: number;
  duplicated: number;
};

export function rowsAccount(sent: number, stored: number, unique: number): RowsAccount {
  const expected = sent * ROWS_PER_MESSAGE;
  return {
    sent,
    expected,
    stored,
    unique,
    lost: Math.max(0, expected - unique),
    duplicated: stored - unique,
  };
}

const out = (line = ''): void => {
  process.stdout.write(line + '\n');
};
const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const load1 = (): string => loadavg()[0]!.toFixed(1);

type Node = {
  id: string;
  server: ServerHandle;
  ticks0: number;
  ticksLast: number;
  rows0: number;
  rowsLast: number;
  killed: boolean;
  /** Seconds from the start of the load to the SIGKILL (the killed node's rates are over this time). */
  killedAfterS?: number;
};

async function rowsWritten(server: ServerHandle): Promise<number | undefined> {
  try {
    const res = await fetch(`${server.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return undefined;
    return sample(parsePrometheus(await res.text()), ROWS_METRIC);
  } catch {
    return undefined;
  }
}

const COUNT = `SELECT count(*)::bigint AS n, count(DISTINCT (site_id, device_id, channel, time))::bigint AS u
  FROM telemetry WHERE site_id = ANY($1::text[]) AND time BETWEEN $2 AND $3`;

async function countRows(
  db: Client,
  plant: BenchPlant,
  r: LoadResult,
): Promise<{ stored: number; unique: number }> {
  const q = await db.query<{ n: string; u: string }>(COUNT, [
    plant.siteIds,
    new Date(r.firstTs),
    new Date(r.lastTs),
  ]);
  return { stored: Number(q.rows[0]?.n ?? 0), unique: Number(q.rows[0]?.u ?? 0) };
}

/** Valid site leases by owner (the database's view of who processes what). */
async function owners(db: Client, sites: readonly string[]): Promise<Map<string, string>> {
  const q = await db.query<{ site_id: string; owner: string }>(
    `SELECT site_id, owner FROM site_lease WHERE site_id = ANY($1::text[]) AND owner IS NOT NULL AND expires_at > now()`,
    [sites],
  );
  return new Map(q.rows.map((r) => [r.site_id, r.owner]));
}

type Phase = {
  label: string;
  nodes: number;
  load: LoadResult;
  rows: RowsAccount;
  drainS: number;
  /** Server CPU of every node over publishing + drain, % of one core (sum over the nodes). */
  serverCpuPct: number;
  brokerCpuPct: number;
  machineCpuPct: number;
  loadAvg: string;
  perNode: Array<{ id: string; rowsPerS: number; cpuPct: number; killed: boolean }>;
  failover?: { victim: string; sites: number; ownedMs: number; processingMs: number };
};

async function runPhase(
  o: ClusterBenchOptions,
  label: string,
  nodeCount: number,
  clustered: boolean,
  ctx: {
    work: string;
    configDir: string;
    plant: BenchPlant;
    broker: MosquittoHandle;
    db: Client;
    runId: string;
  },
  cleanups: Array<() => Promise<void>>,
): Promise<Phase> {
  const { plant, broker, db } = ctx;
  const loadBefore = load1();
  out(`\n[${label}] starting ${nodeCount} node(s) (load average ${loadBefore})…`);
  const secret = `bench-cluster-${ctx.runId}-secret`;
  const start = async (i: number): Promise<Node> => {
    const id = `${ctx.runId}-${label}-n${i + 1}`;
    const dataDir = join(ctx.work, `data-${label}-${i + 1}`);
    mkdirSync(dataDir, { recursive: true });
    chmodSync(dataDir, 0o755);
    const server = await startServer({
      entry: o.serverEntry,
      configDir: ctx.configDir,
      dataDir,
      // every node names a site's MQTT session the same way: one base client id for the whole cluster
      mqttClientId: `hazwatch-bench-${ctx.runId}-${label}`,
      startTimeoutMs: o.startTimeoutS * 1000,
      mqttUrl: broker.url,
      databaseUrl: o.databaseUrl,
      env: clustered
        ? {
            HAZWATCH_NODE_ID: id,
            HAZWATCH_LEASE_TTL_MS: String(o.leaseTtlMs),
            MQTT_CLIENT_ID_SECRET: secret,
          }
        : {},
    });
    cleanups.push(() => server.stop());
    return { id, server, ticks0: 0, ticksLast: 0, rows0: 0, rowsLast: 0, killed: false };
  };
  const nodes = await Promise.all(Array.from({ length: nodeCount }, (_, i) => start(i)));
  if (clustered) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const held = await owners(db, plant.siteIds);
      const per = new Set(held.values());
      if (held.size === plant.siteIds.length && nodes.every((n) => per.has(n.id))) {
        out(
          `[${label}] sites shared: ${nodes.map((n) => `${n.id.split('-').pop()} ${[...held.values()].filter((x) => x === n.id).length}`).join(', ')}`,
        );
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`[${label}] the sites were not shared by every node within 60 s`);
      await sleep(250);
    }
  }
  const host = new URL(broker.url);
  const gen = new LoadGenerator(plant.devices, {
    host: host.hostname,
    port: Number(host.port),
    connections: o.publishers,
    window: o.window,
    clientIdPrefix: `bench-${ctx.runId}-${label}`,
    seed: 11,
  });
  await gen.connect();
  const hz = clockTicksPerSecond();
  const cpuOf = (n: Node): number => {
    try {
      return readTree(n.server.pid).ticks;
    } catch {
      return n.ticksLast;
    }
  };
  for (const n of nodes) {
    n.ticks0 = n.ticksLast = cpuOf(n);
    n.rows0 = n.rowsLast = (await rowsWritten(n.server)) ?? 0;
  }
  const broker0 = readProcCpu(broker.pid);
  const machine0 = readMachineCpu();
  const sampler = setInterval(() => {
    for (const n of nodes) {
      if (n.killed) continue;
      n.ticksLast = cpuOf(n);
      void rowsWritten(n.server).then((v) => {
        if (v !== undefined && !n.killed) n.rowsLast = v;
      });
    }
  }, 1000);
  const t0 = Date.now();
  const running = gen.run(o.rate, o.seconds, 180_000);
  let failover: Phase['failover'];
  if (clustered) {
    await sleep(o.killAtS * 1000);
    const victim = nodes[nodes.length - 1]!;
    const before = await owners(db, plant.siteIds);
    const victimSites = [...before].filter(([, owner]) => owner === victim.id).map(([s]) => s);
    victim.ticksLast = cpuOf(victim);
    victim.rowsLast = (await rowsWritten(victim.server)) ?? victim.rowsLast;
    victim.killed = true;
    const killAt = Date.now();
    victim.killedAfterS = (killAt - t0) / 1000;
    try {
      process.kill(-victim.server.pid, 'SIGKILL');
    } catch {
      process.kill(victim.server.pid, 'SIGKILL');
    }
    out(
      `[${label}] t=${Math.round((killAt - t0) / 1000)} s: SIGKILL ${victim.id} (${victimSites.length} sites)`,
    );
    let ownedMs = -1;
    let processingMs = -1;
    const deadline = killAt + 60_000;
    while (Date.now() < deadline && (ownedMs < 0 || processingMs < 0)) {
      if (ownedMs < 0) {
        const now = await owners(db, victimSites);
        if (victimSites.every((s) => now.has(s) && now.get(s) !== victim.id)) ownedMs = Date.now() - killAt;
      }
      if (ownedMs >= 0 && processingMs < 0) {
        const r = await db.query<{ n: string }>(
          `SELECT count(DISTINCT site_id) AS n FROM telemetry WHERE site_id = ANY($1::text[]) AND time > $2`,
          [victimSites, new Date(killAt + 500)],
        );
        if (Number(r.rows[0]?.n ?? 0) === victimSites.length) processingMs = Date.now() - killAt;
      }
      await sleep(100);
    }
    failover = { victim: victim.id, sites: victimSites.length, ownedMs, processingMs };
    out(
      `[${label}] failover: ${victimSites.length} sites owned again after ${ownedMs < 0 ? '> 60 000' : n0(ownedMs)} ms, processing (a reading stamped after the kill stored) after ${processingMs < 0 ? '> 60 000' : n0(processingMs)} ms`,
    );
  }
  const result = await running;
  const publishEnd = Date.now();
  // drain: until every distinct row is there (SQL), bounded
  let counted = await countRows(db, plant, result);
  const expected = result.sent * ROWS_PER_MESSAGE;
  const drainDeadline = publishEnd + o.drainTimeoutS * 1000;
  let drainEnd = Date.now();
  while (counted.unique < expected && Date.now() < drainDeadline) {
    await sleep(500);
    drainEnd = Date.now();
    counted = await countRows(db, plant, result);
  }
  if (counted.unique >= expected) drainEnd = Math.min(drainEnd, Date.now());
  clearInterval(sampler);
  for (const n of nodes)
    if (!n.killed) {
      n.ticksLast = cpuOf(n);
      n.rowsLast = (await rowsWritten(n.server)) ?? n.rowsLast;
    }
  const wallS = Math.max(0.001, (drainEnd - t0) / 1000);
  const broker1 = readProcCpu(broker.pid);
  const machine1 = readMachineCpu();
  await gen.close();
  const perNode = nodes.map((n) => {
    const s = n.killedAfterS ?? wallS;
    return {
      id: n.id,
      rowsPerS: (n.rowsLast - n.rows0) / s,
      cpuPct: (100 * (n.ticksLast - n.ticks0)) / hz / s,
      killed: n.killed,
    };
  });
  const phase: Phase = {
    label,
    nodes: nodeCount,
    load: result,
    rows: rowsAccount(result.sent, counted.stored, counted.unique),
    drainS: (drainEnd - publishEnd) / 1000,
    serverCpuPct: nodes.reduce((s, n) => s + (100 * (n.ticksLast - n.ticks0)) / hz / wallS, 0),
    brokerCpuPct: (100 * (broker1.utime + broker1.stime - broker0.utime - broker0.stime)) / hz / wallS,
    machineCpuPct: (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total),
    loadAvg: `${loadBefore} → ${load1()}`,
    perNode,
    ...(failover ? { failover } : {}),
  };
  for (const n of perNode)
    out(
      `[${label}] ${n.id}${n.killed ? ' (SIGKILLed; until the kill)' : ''}: ${n0(n.rowsPerS / ROWS_PER_MESSAGE)} msg/s committed by its writer (${n0(n.rowsPerS)} rows/s), CPU ${n.cpuPct.toFixed(0)} % of a core`,
    );
  const r = phase.rows;
  out(
    `[${label}] rows (SQL): sent ${n0(r.sent)} msgs → expected ${n0(r.expected)} rows, stored ${n0(r.stored)}, lost ${n0(r.lost)}, duplicated ${n0(r.duplicated)}; acked ${n0(result.acked)}; publish ${n0(result.achievedRate)} msg/s (target ${n0(o.rate)}), drain ${phase.drainS.toFixed(1)} s; servers ${phase.serverCpuPct.toFixed(0)} % + broker ${phase.brokerCpuPct.toFixed(0)} % of a core, machine ${phase.machineCpuPct.toFixed(0)} % busy; load average ${phase.loadAvg}`,
  );
  // stop the phase's nodes before the next one (their sessions and leases must not linger)
  await Promise.all(nodes.map((n) => n.server.stop()));
  return phase;
}

/** µs of server CPU per stored reading (one reading = one message here). */
const cpuPerReadingUs = (p: Phase): number =>
  p.rows.unique > 0
    ? ((p.serverCpuPct / 100) * ((p.drainS + p.load.publishS) * 1e6)) / (p.rows.unique / ROWS_PER_MESSAGE)
    : NaN;

export async function runClusterBench(argv: readonly string[]): Promise<number> {
  const o = parseClusterArgs(argv, process.env);
  if (!o) {
    out(CLUSTER_USAGE);
    return 0;
  }
  const cleanups: Array<() => Promise<void>> = [];
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${sig}: stopping the nodes and cleaning up…\n`);
    void (async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      process.exit(130);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const runId = makeRunId(Date.now(), Math.random);
  const work = mkdtempSync(join(tmpdir(), `hazwatch-bench-cluster-${runId}-`));
  chmodSync(work, 0o755);
  const db = new Client({ connectionString: o.databaseUrl });
  let plant: BenchPlant | undefined;
  try {
    out(
      `hazwatch cluster bench — run ${runId}: ${o.nodes} nodes on ${maskUrl(o.databaseUrl)}, ${o.devices} gas detectors on ${o.sites} sites, ${n0(o.rate)} msg/s QoS 1 × ${o.seconds} s, SIGKILL at ${o.killAtS} s, lease ttl ${o.leaseTtlMs} ms, ${cpuCount()} CPU cores, load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' / ')}`,
    );
    const configDir = join(work, 'config');
    mkdirSync(configDir, { recursive: true });
    plant = generateBenchPlant(runId, o.devices, o.sites);
    writeFileSync(join(configDir, 'plant.yaml'), benchPlantYaml(plant));
    writeFileSync(join(configDir, 'rules.yaml'), benchRulesYaml(plant));
    loadPlant(configDir); // the plant is checked before any node sees it
    const broker = await startMosquitto(o.mosquitto, resolve('docker/mosquitto.conf'), work, 'repo');
    cleanups.push(() => broker.stop());
    await db.connect();
    const ctx = { work, configDir, plant, broker, db, runId };
    const phases: Phase[] = [];
    if (o.single) phases.push(await runPhase(o, 'single', 1, false, ctx, cleanups));
    phases.push(await runPhase(o, 'cluster', o.nodes, true, ctx, cleanups));
    const single = phases.find((p) => p.label === 'single');
    const cluster = phases.find((p) => p.label === 'cluster')!;
    out('');
    out(
      `cluster of ${o.nodes}: failover ${cluster.failover ? `${n0(cluster.failover.ownedMs)} ms owned / ${n0(cluster.failover.processingMs)} ms processing` : '–'}; rows sent ${n0(cluster.rows.sent)} msgs, stored ${n0(cluster.rows.stored)} rows, lost ${n0(cluster.rows.lost)}, duplicated ${n0(cluster.rows.duplicated)}`,
    );
    if (single)
      out(
        `single node vs ${o.nodes} nodes at ${n0(o.rate)} msg/s: stored ${n0(single.rows.unique / ROWS_PER_MESSAGE / (single.load.publishS + single.drainS))} vs ${n0(cluster.rows.unique / ROWS_PER_MESSAGE / (cluster.load.publishS + cluster.drainS))} msg/s, drain ${single.drainS.toFixed(1)} vs ${cluster.drainS.toFixed(1)} s, server CPU ${single.serverCpuPct.toFixed(0)} % vs ${cluster.serverCpuPct.toFixed(0)} % of a core (${cpuPerReadingUs(single).toFixed(0)} vs ${cpuPerReadingUs(cluster).toFixed(0)} µs per reading), broker ${single.brokerCpuPct.toFixed(0)} % vs ${cluster.brokerCpuPct.toFixed(0)} %; load average ${single.loadAvg} / ${cluster.loadAvg}`,
      );
    const lost = phases.some((p) => p.rows.lost > 0);
    return lost ? 3 : 0;
  } finally {
    for (const c of cleanups.reverse())
      await c().catch((err: unknown) => process.stderr.write(`bench: cleanup: ${String(err)}\n`));
    if (plant && !o.keepRows) {
      await db
        .query(`DELETE FROM telemetry WHERE site_id = ANY($1::text[])`, [plant.siteIds])
        .catch((err: unknown) =>
          process.stderr.write(`bench: deleting the run's rows failed: ${String(err)}\n`),
        );
    }
    await db.end().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}
