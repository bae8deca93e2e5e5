/**
 * `npm run bench [-- --rates 10000,25000,50000,75000 --seconds 60 --devices 1000]`
 *
 * Starts the server as a child process on a generated plant of N gas detectors (fresh site ids), publishes
 * gas-detector telemetry at increasing rates, waits until every row is stored, counts the rows with SQL and
 * reports per step: achieved and stored rates, loss, ingest-to-commit latency (from /metrics histogram deltas),
 * server CPU and RSS (from /proc), and the decode cost per message.
 */
import 'reflect-metadata';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect as mqttConnect } from 'mqtt';
import { Client } from 'pg';
import { maskUrl } from '../src/common/logger';
import { loadPlant } from '../src/config/config.loader';
import { loadRules } from '../src/rules/rules.loader';
import { alarmVerdictOk, formatAlarmTable } from './alarm-latency';
import { runAlarmLatency, type AlarmPhaseReport } from './alarm-latency.run';
import {
  benchPlantYaml,
  benchRulesYaml,
  noRulesYaml,
  generateBenchPlant,
  makeRunId,
  type BenchPlant,
} from './bench-plant';
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, type BenchOptions } from './bench.options';
import { bestZeroLossRate, formatTable, highestSustained, verdict, type StepResult } from './bench.report';
import { measureDecodeCost } from './decode.microbench';
import { runSparkplugBench } from './sparkplug.bench';
import { runClusterBench } from './cluster.bench';
import { LoadGenerator } from './load.generator';
import { startMosquitto, type MosquittoHandle } from './mosquitto.process';
import { clockTicksPerSecond, cpuCount, readMachineCpu, readProcCpu, readRss, readTree } from './proc.stats';
import {
  histogram,
  histogramDelta,
  parsePrometheus,
  quantile,
  sample,
  type Samples,
} from './prometheus.parse';
import { ServerStartError, startServer, type ServerHandle } from './server.process';

const ROWS_METRIC = 'hazwatch_storage_rows_written_total';
const LAG_METRIC = 'hazwatch_ingest_commit_lag_seconds';
const QUEUE_METRIC = 'hazwatch_storage_queue_depth';
const ROWS_PER_MESSAGE = 2;
/** Where the server announces itself (as in src/ingest/ingest.service.ts; not imported, to keep Nest out of the bench). */
const serverStatusTopic = (clientId: string): string => `hazwatch/server/${clientId}/status`;

const out = (line = ''): void => {
  process.stdout.write(line + '\n');
};
const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');

async function scrape(server: ServerHandle): Promise<Samples> {
  const res = await fetch(`${server.httpUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /metrics answered HTTP ${res.status}`);
  return parsePrometheus(await res.text());
}

const COUNT_ROWS = `SELECT count(*)::bigint AS n FROM telemetry WHERE site_id = ANY($1::text[]) AND time BETWEEN $2 AND $3`;
/** Every bench message has a distinct (device, ts), so distinct (device, channel, time) counts readings stored at least once. */
const COUNT_UNIQUE_ROWS = `SELECT count(DISTINCT (site_id, device_id, channel, time))::bigint AS n FROM telemetry WHERE site_id = ANY($1::text[]) AND time BETWEEN $2 AND $3`;

async function countRows(
  db: Client,
  plant: BenchPlant,
  fromTs: number,
  toTs: number,
  unique = false,
): Promise<number> {
  const r = await db.query<{ n: string }>(unique ? COUNT_UNIQUE_ROWS : COUNT_ROWS, [
    plant.siteIds,
    new Date(fromTs),
    new Date(toTs),
  ]);
  return Number(r.rows[0]?.n ?? 0);
}

type Cleanup = () => Promise<void>;

async function main(): Promise<number> {
  // The Sparkplug B path has its own, smaller run (docs/sparkplug.md).
  if (process.argv.includes('--sparkplug')) return runSparkplugBench(process.argv.slice(2));
  // N nodes in cluster mode, one SIGKILLed mid-run (bench/README.md "Cluster mode").
  if (process.argv.includes('--cluster')) return runClusterBench(process.argv.slice(2));
  const opts = parseBenchArgs(process.argv.slice(2), process.env);
  if (!opts) {
    out(BENCH_USAGE);
    return 0;
  }
  const cleanups: Cleanup[] = [];
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch (err) {
          process.stderr.write(`bench: cleanup step failed: ${(err as Error).message}\n`);
        }
      }
    })();
    return cleaning;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${sig}: stopping the server and cleaning up…\n`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await runBench(opts, cleanups);
  } finally {
    await cleanup();
  }
}

async function runBench(opts: BenchOptions, cleanups: Cleanup[]): Promise<number> {
  const runId = makeRunId(Date.now(), Math.random);
  const loadAvgAtStart = loadavg()[0]!;
  const cores = cpuCount();
  const runSteps = opts.alarm.mode !== 'only';
  const alarmPhase = opts.alarm.mode !== 'off';
  out(
    `hazwatch bench — run ${runId}: ${opts.devices} gas detectors on ${opts.sites} sites, ${runSteps ? `steps ${opts.rates.map(n0).join(', ')} msg/s × ${opts.seconds} s` : 'no throughput steps'}${alarmPhase ? `, alarm latency with ${opts.alarm.clients} WebSocket clients at ${n0(opts.alarm.background)} msg/s × ${opts.alarm.seconds} s` : ''}, ${opts.publishers} publisher connections, ${cores} CPU cores`,
  );

  // 1. Decode cost, measured before anything else runs on the machine.
  const decode = measureDecodeCost();
  out(
    `decodeTelemetry: ${decode.usPerMessage.toFixed(2)} µs/message (gas-detector payload, ${n0(decode.messages)} messages in-process)`,
  );

  // 2. A fresh CONFIG_DIR with the generated plant, validated before the server sees it; a fresh DATA_DIR.
  const work = mkdtempSync(join(tmpdir(), `hazwatch-bench-${runId}-`));
  chmodSync(work, 0o755); // embedded PostgreSQL runs as the postgres user when we are root
  if (!opts.keepTmp) cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  const configDir = join(work, 'config');
  const dataDir = join(work, 'data');
  mkdirSync(configDir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755);
  const plant = generateBenchPlant(runId, opts.devices, opts.sites);
  writeFileSync(join(configDir, 'plant.yaml'), benchPlantYaml(plant));
  writeFileSync(join(configDir, 'rules.yaml'), benchRulesYaml(plant));
  const loadedRules = loadRules(configDir, loadPlant(configDir)).rules;
  if (!opts.rules) {
    writeFileSync(join(configDir, 'rules.yaml'), noRulesYaml(plant, loadedRules.producible));
    const left = loadRules(configDir, loadPlant(configDir)).rules.ruleCount;
    if (left !== 0) throw new Error(`--no-rules: ${left} rules still enabled`);
  }
  out(
    `rules: ${opts.rules ? `${n0(loadedRules.ruleCount)} rules active (the defaults for every device)` : 'every rule disabled (--no-rules baseline)'}`,
  );

  // 3. Broker: external, a private Mosquitto with the repo's settings, or the server's embedded Aedes.
  let mqttUrl = opts.mqttUrl;
  let brokerKind = mqttUrl ? 'external' : 'embedded Aedes (in the server process)';
  let mosquitto: MosquittoHandle | null = null;
  if (opts.mosquitto) {
    mosquitto = await startMosquitto(
      opts.mosquitto,
      resolve('docker/mosquitto.conf'),
      work,
      opts.mosquittoConf,
    );
    cleanups.push(() => mosquitto!.stop());
    mqttUrl = mosquitto.url;
    brokerKind = `private Mosquitto (${opts.mosquittoConf === 'stock' ? 'stock defaults' : mosquitto.settings.join('; ')})`;
  }
  const serverClientId = `hazwatch-bench-${runId}`;
  if (opts.mqttUrl) cleanups.push(() => forgetServerSession(opts.mqttUrl!, serverClientId));

  // 4. The server.
  out(
    `starting the server (${opts.serverEntry}); broker: ${brokerKind}; database: ${opts.databaseUrl ? maskUrl(opts.databaseUrl) : 'embedded PostgreSQL'}…`,
  );
  const t0 = Date.now();
  const server = await startServer({
    entry: opts.serverEntry,
    configDir,
    dataDir,
    mqttClientId: serverClientId,
    startTimeoutMs: opts.startTimeoutS * 1000,
    ...(mqttUrl ? { mqttUrl } : {}),
    ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
  });
  cleanups.push(() => server.stop());
  out(
    `server ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${server.pid}, ${server.httpUrl}, MQTT ${server.mqttUrl})`,
  );

  const db = new Client({ connectionString: server.databaseUrl });
  db.on('error', (err) => process.stderr.write(`bench: database connection: ${err.message}\n`));
  await db.connect();
  cleanups.push(() => db.end());
  if (!server.embeddedDatabase && !opts.keepRows) {
    cleanups.push(async () => {
      // The server first: it may still be writing a backlog, and rows written after the DELETE would stay behind.
      await server.stop();
      const r = await db.query('DELETE FROM telemetry WHERE site_id = ANY($1::text[])', [plant.siteIds]);
      out(
        `deleted the run's ${n0(r.rowCount ?? 0)} bench rows from the external database (--keep-rows keeps them)`,
      );
    });
  }

  // 5. Publishers.
  const broker = new URL(server.mqttUrl);
  const load = new LoadGenerator(plant.devices, {
    host: broker.hostname,
    port: Number(broker.port || 1883),
    connections: opts.publishers,
    window: opts.window,
    qos: opts.qos,
    clientIdPrefix: `hzbench-${runId}`,
    seed: 42,
    ...(process.env.MQTT_USERNAME && opts.mqttUrl ? { username: process.env.MQTT_USERNAME } : {}),
    ...(process.env.MQTT_PASSWORD && opts.mqttUrl ? { password: process.env.MQTT_PASSWORD } : {}),
    ...(server.publisherAuth ?? {}),
  });
  await load.connect();
  cleanups.push(() => load.close());

  // 6. Steps.
  const steps: StepResult[] = [];
  const hz = clockTicksPerSecond();
  // A local external PostgreSQL's CPU is counted from its postmaster's process tree (every backend, the WAL writer,
  // the checkpointer); the embedded one is a child of the server and counted in srv+db already.
  const externalDbPid = opts.databaseUrl ? await postmasterPid(db) : null;
  for (const rate of runSteps ? opts.rates : []) {
    out('');
    out(
      `step ${n0(rate)} msg/s (${n0(rate * ROWS_PER_MESSAGE)} rows/s) for ${opts.seconds} s (machine load average ${loadavg()[0]!.toFixed(2)})…`,
    );
    const load1 = loadavg()[0]!;
    const sysUrl = mosquitto?.url;
    const dropped0 = sysUrl ? await brokerDroppedCount(sysUrl) : null;
    const warn0 = mosquitto?.dropWarnings() ?? 0;
    const ran = await runStep(rate, opts, server, db, plant, load, hz, {
      brokerPid: mosquitto?.pid ?? null,
      dbRootPid: externalDbPid,
    });
    const dropped1 = sysUrl ? await brokerDroppedCount(sysUrl) : null;
    const step = {
      ...ran,
      qos: opts.qos,
      brokerDropped: dropped0 !== null && dropped1 !== null ? dropped1 - dropped0 : null,
      brokerDropWarnings: (mosquitto?.dropWarnings() ?? 0) - warn0,
      loadAvgBefore: load1,
    };
    if (mosquitto)
      out(
        `  broker: ${step.brokerDropped === null ? 'dropped count not reported' : `${n0(step.brokerDropped)} messages dropped`} ($SYS/broker/publish/messages/dropped), ${step.brokerDropWarnings} "Outgoing messages are being dropped" log lines`,
      );
    steps.push(step);
    out(
      `  → sent ${n0(step.sent)} at ${n0(step.achievedRate)} msg/s; stored ${n0(step.storedRows)}/${n0(step.expectedRows)} rows (${step.countMethod}; lost ${n0(step.lostRows)}, duplicates ${n0(step.duplicateRows)}); server received ${n0(step.receivedMessages ?? NaN)} msgs${step.receivedMessages !== undefined && step.receivedMessages < step.sent ? ` (${n0(step.sent - step.receivedMessages)} acknowledged by the broker but not delivered to the server by the end of the drain)` : ''}; stored rate ${n0(step.storedRate)} msg/s; drain ${step.drainS.toFixed(1)} s; p50/p99 ${step.latencyP50Ms?.toFixed(1) ?? '–'}/${step.latencyP99Ms?.toFixed(1) ?? '–'} ms; server CPU ${n0(step.serverCpuPct)} %, RSS ${n0(step.serverRssMaxMb)} MB; ${n0(step.copies ?? NaN)} COPYs of ${n0(step.meanRowsPerCopy ?? NaN)} rows on average; ${step.verdict}`,
    );
    if (step.drainTimedOut) {
      out('  the server did not catch up within the drain timeout; skipping the higher steps');
      break;
    }
  }

  // 7. Alarm latency: 100 WebSocket clients, background load, a probe detector raising and clearing a level-2 alarm.
  let alarm: AlarmPhaseReport | null = null;
  if (alarmPhase) {
    out('');
    out(
      `alarm latency: ${opts.alarm.clients} WebSocket clients, background ${n0(opts.alarm.background)} msg/s, ${opts.alarm.seconds} s (machine load average ${loadavg()[0]!.toFixed(2)})…`,
    );
    alarm = await runAlarmLatency(
      { ...opts.alarm, abusive: 0, receiptTimeoutMs: 10_000 },
      server,
      plant,
      load,
      runId,
      cleanups,
      out,
      async (name) => sample(await scrape(server), name),
      () => {
        const c = readProcCpu(server.pid);
        return (c.utime + c.stime) / hz;
      },
    );
    out(
      `  → ${alarm.events} alarm events × ${alarm.clients} clients; p50/p99/max ${alarm.all.p50Ms?.toFixed(1) ?? '–'}/${alarm.all.p99Ms?.toFixed(1) ?? '–'}/${alarm.all.maxMs?.toFixed(1) ?? '–'} ms; missing ${alarm.missingPairs}; background ${n0(alarm.background.achievedRate)} msg/s; server CPU ${n0(alarm.serverCpuPct)} %; bench event-loop delay p99 ${alarm.benchLoopDelayP99Ms.toFixed(1)} ms`,
    );
    if (opts.alarm.abusive) {
      // Same phase again, with hostile HTTP clients: alarm latency must not move (docs/threat-model.md).
      out(`alarm latency with ${opts.alarm.abusive} abusive HTTP clients posting hostile bodies…`);
      const abused = await runAlarmLatency(
        { ...opts.alarm, receiptTimeoutMs: 10_000 },
        server,
        plant,
        load,
        `${runId}a`,
        cleanups,
        out,
        async (name) => sample(await scrape(server), name),
        () => {
          const c = readProcCpu(server.pid);
          return (c.utime + c.stime) / hz;
        },
      );
      out(`  abusive requests answered: ${JSON.stringify(abused.abusiveResponses ?? {})}`);
      out(
        `  → alarm latency p50/p99 without abusive clients ${alarm.all.p50Ms?.toFixed(1) ?? '–'}/${alarm.all.p99Ms?.toFixed(1) ?? '–'} ms, with ${opts.alarm.abusive}: ${abused.all.p50Ms?.toFixed(1) ?? '–'}/${abused.all.p99Ms?.toFixed(1) ?? '–'} ms (max ${alarm.all.maxMs?.toFixed(1) ?? '–'} / ${abused.all.maxMs?.toFixed(1) ?? '–'} ms; missing ${alarm.missingPairs} / ${abused.missingPairs})`,
      );
    }
  }

  // 8. Report.
  const best = highestSustained(steps);
  const capacity = bestZeroLossRate(steps);
  out('');
  if (runSteps) {
    out(formatTable(steps));
    out('');
  }
  if (alarm) {
    out(formatAlarmTable(alarm, alarm.background));
    out(
      `bench process event-loop delay during the phase (included in the receipt times): p99 ${alarm.benchLoopDelayP99Ms.toFixed(1)} ms, max ${alarm.benchLoopDelayMaxMs.toFixed(1)} ms`,
    );
    out('');
  }
  if (runSteps)
    out(
      best
        ? `highest step sustained with zero loss: ${n0(best.targetRate)} msg/s target → ${n0(best.storedRate)} readings/s stored (${n0(best.rowsPerS)} rows/s) for ${opts.seconds} s`
        : 'no step was sustained with zero loss',
    );
  if (runSteps && capacity && capacity !== best)
    out(
      `highest stored rate with zero loss in any step: ${n0(capacity.storedRate)} readings/s (${n0(capacity.rowsPerS)} rows/s) at the ${n0(capacity.targetRate)} msg/s step (${capacity.verdict})`,
    );
  out(`decode cost: ${decode.usPerMessage.toFixed(2)} µs/message`);
  const report = {
    runId,
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cores,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadAvgAtStart: loadAvgAtStart,
    },
    options: { ...opts, databaseUrl: opts.databaseUrl ? maskUrl(opts.databaseUrl) : undefined },
    broker: { kind: brokerKind, url: maskUrl(server.mqttUrl) },
    database: {
      kind: server.embeddedDatabase ? 'embedded PostgreSQL' : 'external PostgreSQL',
      url: maskUrl(server.databaseUrl),
    },
    definitions: {
      message:
        'one gas-detector telemetry message {ts, seq, values: {conc, fault}} = one reading = two telemetry rows',
      storedRate: 'messages stored per second over publishing + drain (what the server sustained)',
      sustained:
        'zero rows lost, no rejects, publisher ≥ 95 % of target, backlog drained within max(2 s, 5 % of the step) after publishing stopped',
      latency:
        'hazwatch_ingest_commit_lag_seconds histogram delta over the step (message arrival → COPY commit), interpolated in buckets',
      cpu: "% of one core; srv = the node server process, srv+db = with its child processes (embedded PostgreSQL); broker = the private Mosquitto; ext db = the local external PostgreSQL's whole process tree (every client's backends: meaningful on an otherwise idle machine)",
      alarmLatency:
        'probe detector (own site and area, level-2 limit with zero on/off delay, level 1 disabled) alternately published above (raise) and below (clear) its set point over its own raw MQTT QoS 1 connection; latency = receipt of the matching alarm event (raised/cleared, matched by raisedAt/clearedAt = the reading ts) at each WebSocket client − the moment before the PUBLISH frame was written, both on this process clock; percentiles nearest-rank over all (event, client) pairs',
    },
    decodeUsPerMessage: decode.usPerMessage,
    steps,
    alarmLatency: alarm,
    highestSustained: best
      ? {
          targetRate: best.targetRate,
          readingsPerS: best.storedRate,
          rowsPerS: best.rowsPerS,
          seconds: best.seconds,
        }
      : null,
    bestZeroLossStoredRate: capacity
      ? {
          targetRate: capacity.targetRate,
          readingsPerS: capacity.storedRate,
          rowsPerS: capacity.rowsPerS,
          verdict: capacity.verdict,
        }
      : null,
  };
  mkdirSync(dirname(resolve(opts.out)), { recursive: true });
  writeFileSync(resolve(opts.out), JSON.stringify(report, null, 2) + '\n');
  out(`JSON report: ${opts.out}`);
  if (alarm && !alarmVerdictOk(alarm))
    out(
      `alarm latency: ${alarm.missingPairs > 0 ? `${alarm.missingPairs} (event, client) pairs MISSING` : 'p99 over the 50 ms target'}`,
    );
  return steps.some((s) => s.lostRows > 0) || (alarm !== null && alarm.missingPairs > 0) ? 3 : 0;
}

async function runStep(
  rate: number,
  opts: BenchOptions,
  server: ServerHandle,
  db: Client,
  plant: BenchPlant,
  load: LoadGenerator,
  hz: number,
  others: { brokerPid: number | null; dbRootPid: number | null },
): Promise<StepResult> {
  const before = await scrape(server);
  const rowsBefore = sample(before, ROWS_METRIC);
  const rejectedBefore = sample(before, 'hazwatch_ingest_messages_total', { result: 'rejected' }) ?? 0;
  const acceptedBefore = sample(before, 'hazwatch_ingest_messages_total', { result: 'accepted' }) ?? 0;
  const cpu0 = readProcCpu(server.pid);
  const tree0 = readTree(server.pid);
  const machine0 = readMachineCpu();
  const others0 = otherTicks(others);
  const wall0 = Date.now();
  let rssMax = readRss(server.pid);
  let treeRssMax = tree0.rss;
  let queueMax: number | null = null;
  let rowsNow = rowsBefore ?? 0;
  const pub0 = load.totals();

  // Once a second: RSS, queue depth and progress (one scrape at a time; a busy server may answer slowly).
  let tick = 0;
  let scraping = false;
  let lastPrint = Date.now();
  const sampler = setInterval(() => {
    const t = ++tick;
    try {
      rssMax = Math.max(rssMax, readRss(server.pid));
      treeRssMax = Math.max(treeRssMax, readTree(server.pid).rss);
    } catch {
      // the server ended; the step fails below
    }
    if (scraping) return;
    scraping = true;
    scrape(server)
      .then(
        (s) => {
          const q = sample(s, QUEUE_METRIC);
          if (q !== undefined) queueMax = Math.max(queueMax ?? 0, q);
          rowsNow = sample(s, ROWS_METRIC) ?? rowsNow;
          if (t % 10 === 0 || Date.now() - lastPrint > 10_000) {
            lastPrint = Date.now();
            const p = load.totals();
            out(
              `  t=${Math.round((Date.now() - wall0) / 1000)}s published ${n0(p.sent - pub0.sent)} (acked ${n0(p.acked - pub0.acked)}), rows written ${n0(rowsNow - (rowsBefore ?? 0))}, writer queue ${q === undefined ? '–' : n0(q)}`,
            );
          }
        },
        () => undefined,
      )
      .finally(() => (scraping = false));
  }, 1000);

  try {
    const result = await load.run(rate, opts.seconds);
    const expectedRows = result.sent * ROWS_PER_MESSAGE;
    const publishEnd = Date.now();

    // Drain: until the rows-written counter (cheap) reaches the target, then confirm with SQL (exact). Rows stored
    // twice (a QoS 1 redelivery, a retried batch) must not hide missing ones, so "done" means every distinct
    // (device, channel, time) is there: each bench message has its own (device, ts).
    const deadline = publishEnd + opts.drainTimeoutS * 1000;
    const from = result.firstTs;
    const to = result.lastTs;
    let stored = 0;
    let unique = 0;
    let countMethod: 'sql' | 'metric' = 'sql';
    let drainTimedOut = false;
    let drainEnd = 0;
    let qos0Received = -1;
    let qos0StableSince = Date.now();
    // The drain ends where the confirming SQL count starts (its snapshot already holds every row), not where it
    // returns: counting millions of rows takes seconds and is not the server's backlog.
    for (;;) {
      const written =
        rowsBefore !== undefined ? (sample(await scrape(server), ROWS_METRIC) ?? 0) - rowsBefore : Infinity;
      if (written >= expectedRows) {
        const checkStart = Date.now();
        stored = await countRows(db, plant, from, to);
        if (stored >= expectedRows) {
          unique = stored === expectedRows ? stored : await countRows(db, plant, from, to, true);
          if (unique >= expectedRows) {
            drainEnd = checkStart;
            out(
              `  rows confirmed by SQL count (${((Date.now() - checkStart) / 1000).toFixed(1)} s of counting, not part of the drain)`,
            );
            break;
          }
        }
      }
      // QoS 0: what the broker dropped never comes; done once the server's received count stood still for 3 s and every
      // reading it received is written.
      if (opts.qos === 0 && rowsBefore !== undefined) {
        const s = await scrape(server);
        const received =
          (sample(s, 'hazwatch_ingest_messages_total', { result: 'accepted' }) ?? 0) - acceptedBefore;
        if (received !== qos0Received) {
          qos0Received = received;
          qos0StableSince = Date.now();
        } else if (Date.now() - qos0StableSince >= 3000 && written >= received * ROWS_PER_MESSAGE) {
          drainEnd = Date.now();
          stored = await countRows(db, plant, from, to);
          unique = await countRows(db, plant, from, to, true);
          break;
        }
      }
      if (Date.now() > deadline) {
        drainTimedOut = true;
        drainEnd = Date.now();
        try {
          stored = await countRows(db, plant, from, to);
          unique = await countRows(db, plant, from, to, true);
        } catch {
          countMethod = 'metric';
          stored = unique = (sample(await scrape(server), ROWS_METRIC) ?? 0) - (rowsBefore ?? 0);
        }
        break;
      }
      await new Promise((r) => setTimeout(r, stored >= expectedRows ? 1000 : 250));
    }
    const drainS = (drainEnd - publishEnd) / 1000 + result.ackWaitS;
    const after = await scrape(server);
    const cpu1 = readProcCpu(server.pid);
    const tree1 = readTree(server.pid);
    const machine1 = readMachineCpu();
    const others1 = otherTicks(others);
    const wallS = (Date.now() - wall0) / 1000;
    // A process tree shrinks when its members end (another client's backend closing): no figure rather than a wrong one.
    const pctOf = (a: number | null, b: number | null): number | null =>
      a === null || b === null || b < a ? null : ((b - a) / hz / wallS) * 100;

    const lagAfter = histogram(after, LAG_METRIC);
    const lag = lagAfter ? histogramDelta(histogram(before, LAG_METRIC), lagAfter) : null;
    const p50 = lag ? quantile(lag, 0.5) : null;
    const p99 = lag ? quantile(lag, 0.99) : null;
    const activeS = result.publishS + drainS;
    const delta = (name: string): number | undefined => {
      const a = sample(after, name);
      return a === undefined ? undefined : a - (sample(before, name) ?? 0);
    };
    const copies = delta('hazwatch_storage_batch_size_rows_count');
    const copyRows = delta('hazwatch_storage_batch_size_rows_sum');
    const storedRate = Math.min(stored, expectedRows) / ROWS_PER_MESSAGE / activeS;
    const partial = {
      targetRate: rate,
      seconds: opts.seconds,
      sent: result.sent,
      achievedRate: result.achievedRate,
      publisherCpuPct: result.publisherCpuPct,
      publisherBlockedPct: result.blockedFraction * 100,
      expectedRows,
      receivedMessages:
        (sample(after, 'hazwatch_ingest_messages_total', { result: 'accepted' }) ?? 0) -
        acceptedBefore +
        (sample(after, 'hazwatch_ingest_messages_total', { result: 'rejected' }) ?? 0) -
        rejectedBefore,
      storedRows: stored,
      lostRows: Math.max(0, expectedRows - unique),
      duplicateRows: stored - unique,
      countMethod,
      drainS,
      drainTimedOut,
      storedRate,
      rowsPerS: storedRate * ROWS_PER_MESSAGE,
      latencyP50Ms: p50 ? p50.value * 1000 : null,
      latencyP99Ms: p99 ? p99.value * 1000 : null,
      latencyP99Overflow: p99?.overflow ?? false,
      serverCpuPct: ((cpu1.utime + cpu1.stime - cpu0.utime - cpu0.stime) / hz / wallS) * 100,
      serverTreeCpuPct: ((tree1.ticks - tree0.ticks) / hz / wallS) * 100,
      serverRssMaxMb: rssMax / 1024 / 1024,
      serverTreeRssMaxMb: treeRssMax / 1024 / 1024,
      machineCpuPct: ((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * 100,
      brokerCpuPct: pctOf(others0.broker, others1.broker),
      dbCpuPct: pctOf(others0.db, others1.db),
      maxQueueDepth: queueMax,
      copies: copies ?? 0,
      meanRowsPerCopy: copies ? copyRows! / copies : null,
      rejectedMessages:
        (sample(after, 'hazwatch_ingest_messages_total', { result: 'rejected' }) ?? 0) - rejectedBefore,
    };
    return { ...partial, ...verdict(partial) };
  } finally {
    clearInterval(sampler);
  }
}

/** CPU ticks of the private broker and of the external database's process tree, where they run on this machine. */
function otherTicks(o: { brokerPid: number | null; dbRootPid: number | null }): {
  broker: number | null;
  db: number | null;
} {
  const ticksOf = (read: () => number): number | null => {
    try {
      return read();
    } catch {
      return null; // gone, or not ours to read
    }
  };
  return {
    broker:
      o.brokerPid === null
        ? null
        : ticksOf(() => {
            const c = readProcCpu(o.brokerPid!);
            return c.utime + c.stime;
          }),
    db: o.dbRootPid === null ? null : ticksOf(() => readTree(o.dbRootPid!).ticks),
  };
}

/** The postmaster of the database the bench talks to, when it runs on this machine (the parent of our backend). */
async function postmasterPid(db: Client): Promise<number | null> {
  try {
    const r = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const parent = readProcCpu(r.rows[0]!.pid).ppid;
    return parent > 1 ? parent : null;
  } catch {
    return null; // a remote database: its CPU is not visible here
  }
}

/** Mosquitto's $SYS/broker/publish/messages/dropped (retained, refreshed every sys_interval), or null within 3 s. */
async function brokerDroppedCount(url: string): Promise<number | null> {
  const client = mqttConnect(url, {
    clientId: `hzbench-sys-${Date.now().toString(36)}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
  try {
    return await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => resolve(null), 3000);
      client.on('message', (_topic, payload) => {
        clearTimeout(t);
        const n = Number(payload.toString());
        resolve(Number.isFinite(n) ? n : null);
      });
      client.on('connect', () => client.subscribe('$SYS/broker/publish/messages/dropped'));
      client.on('error', () => resolve(null));
    });
  } finally {
    client.end(true);
  }
}

/** After a run against a shared broker: drop the server's persistent session and its retained status message. */
async function forgetServerSession(url: string, clientId: string): Promise<void> {
  const client = mqttConnect(url, { clientId, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.publishAsync(serverStatusTopic(clientId), '', { qos: 1, retain: true });
  } finally {
    await client.endAsync();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof BenchUsageError) {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof ServerStartError) {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
