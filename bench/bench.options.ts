/** Command-line options of `npm run bench -- [opts]` (pure parsing, unit-tested). */
import { parseCli, type CliOption } from '../src/common/cli-args';

export type BenchOptions = {
  /** Target messages/s per step (one message = one gas-detector reading = two rows). */
  rates: number[];
  /** Publishing time per step. */
  seconds: number;
  devices: number;
  sites: number;
  /** Publisher connections. */
  publishers: number;
  /** External broker; unset → the server's embedded broker (or a private Mosquitto with --mosquitto). */
  mqttUrl?: string;
  /** Start a private Mosquitto (this binary) with the repo's docker/mosquitto.conf settings on a free port. */
  mosquitto?: string;
  /** External PostgreSQL; unset → the server's embedded PostgreSQL. */
  databaseUrl?: string;
  /** Longest wait after a step for every row to be stored. */
  drainTimeoutS: number;
  /** Longest wait for the server to become ready. */
  startTimeoutS: number;
  /** Unacknowledged QoS 1 messages allowed per publisher connection. */
  window: number;
  /** QoS of the bench publishes (QoS 0: stored vs sent, broker-side drops reported; nothing to acknowledge). */
  qos: 0 | 1;
  /** Settings of the private Mosquitto: the repo's docker/mosquitto.conf, or Mosquitto's stock defaults. */
  mosquittoConf: 'repo' | 'stock';
  out: string;
  /** Keep the bench rows in an external database (they are deleted by default). */
  keepRows: boolean;
  /** Keep the temporary CONFIG_DIR / DATA_DIR. */
  keepTmp: boolean;
  quick: boolean;
  /** Run the server with its rule engine (default) or with every rule disabled through rules.yaml (baseline). */
  rules: boolean;
  serverEntry: string;
  /** Alarm latency (bench/README.md, step 7): `also` after the throughput steps (default), `only` instead of them, `off`. */
  alarm: {
    mode: 'also' | 'only' | 'off';
    clients: number;
    background: number;
    seconds: number;
    intervalMs: number;
    abusive?: number;
  };
};

export class BenchUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchUsageError';
  }
}

export const DEFAULT_RATES = [10_000, 25_000, 50_000, 75_000];

export const BENCH_USAGE = `Usage: npm run bench -- [options]

  --rates <a,b,...>       target messages/s per step (default ${DEFAULT_RATES.join(',')}); a message is one
                          gas-detector reading {conc, fault} = two telemetry rows
  --seconds <n>           publishing time per step (default 60)
  --devices <n>           simulated gas detectors (default 1000)
  --sites <n>             sites they are spread over (default 4)
  --publishers <n>        publisher connections (default 4)
  --mqtt-url <url>        use this broker (default: $MQTT_URL; unset = the server's embedded broker)
  --mosquitto [binary]    start a private Mosquitto with docker/mosquitto.conf settings (default binary: mosquitto)
  --database-url <url>    use this PostgreSQL (default: $DATABASE_URL; unset = the server's embedded PostgreSQL)
  --drain-timeout <s>     longest wait after a step until every row is stored (default 120)
  --start-timeout <s>     longest wait for the server to be ready (default 180)
  --window <n>            unacknowledged QoS 1 messages per publisher connection (default 5000)
  --qos <0|1>             QoS of the publishes (default 1); with 0 the step reports stored vs sent and the broker's
                          dropped messages ($SYS/broker/publish/messages/dropped, "Outgoing messages are being dropped")
  --mosquitto-conf <repo|stock>  settings of the private Mosquitto (default repo: docker/mosquitto.conf; stock: its
                          defaults, max_inflight_messages 20, max_queued_messages 1000)
  --out <file>            JSON report (default bench/results/latest.json)
  --keep-rows             keep the bench rows in an external database (deleted by default)
  --keep-tmp              keep the temporary CONFIG_DIR and DATA_DIR
  --quick                 smoke test: one 5 s step at 500 messages/s, 50 devices
  --server <file>         server entry point (default dist/src/main.js)

  Alarm latency (MQTT publish → WebSocket receipt of the alarm event; runs after the steps by default):
  --alarm-latency         run only the alarm-latency phase (no throughput steps); --seconds then sets its length
  --no-alarm-latency      skip the alarm-latency phase
  --no-rules              baseline: rules.yaml disables every rule (implies --no-alarm-latency); compare with a
                          default run to see what the rule engine costs
  --clients <n>           WebSocket clients subscribed to alarms (default 100)
  --background <n>        background telemetry, messages/s, during the phase (default 10000)
  --alarm-seconds <n>     length of the phase (default 30)
  --alarm-interval <ms>   time between probe publishes, alternately raising and clearing a level-2 alarm (default 500)
  --abusive-clients <n>   run the alarm phase twice: without, then with n concurrent HTTP clients that post hostile
                          bodies (deeply nested JSON, oversized, NUL) with a valid token; prints p99 for both
  --help                  this text
`;

function posInt(flag: string, raw: string, max = 10_000_000): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > max)
    throw new BenchUsageError(`${flag} must be an integer from 1 to ${max}, got '${raw}'`);
  return Number(raw);
}

const OPTIONS = {
  rates: { type: 'string' },
  seconds: { type: 'string' },
  devices: { type: 'string' },
  sites: { type: 'string' },
  publishers: { type: 'string' },
  'mqtt-url': { type: 'string' },
  mosquitto: { type: 'string' },
  'database-url': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'start-timeout': { type: 'string' },
  window: { type: 'string' },
  out: { type: 'string' },
  qos: { type: 'string' },
  'mosquitto-conf': { type: 'string' },
  'keep-rows': { type: 'boolean' },
  'keep-tmp': { type: 'boolean' },
  quick: { type: 'boolean' },
  'no-rules': { type: 'boolean' },
  server: { type: 'string' },
  'alarm-latency': { type: 'boolean' },
  'no-alarm-latency': { type: 'boolean' },
  clients: { type: 'string' },
  background: { type: 'string' },
  'alarm-seconds': { type: 'string' },
  'alarm-interval': { type: 'string' },
  'abusive-clients': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, CliOption>;

/** Parses argv (without node and script) with node:util parseArgs. Returns null when --help was asked for. */
export function parseBenchArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): BenchOptions | null {
  // `--mosquitto` alone means the `mosquitto` on PATH
  const values = parseCli(argv, OPTIONS, (m) => new BenchUsageError(m), BENCH_USAGE, {
    mosquitto: 'mosquitto',
  });
  if (values === null) return null;
  const opts: BenchOptions = {
    rates: DEFAULT_RATES,
    seconds: 60,
    devices: 1000,
    sites: 4,
    publishers: 4,
    ...(env.MQTT_URL ? { mqttUrl: env.MQTT_URL } : {}),
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    drainTimeoutS: 120,
    startTimeoutS: 180,
    window: 5000,
    qos: 1,
    mosquittoConf: 'repo',
    out: 'bench/results/latest.json',
    keepRows: false,
    keepTmp: false,
    quick: false,
    rules: true,
    serverEntry: 'dist/src/main.js',
    alarm: { mode: 'also', clients: 100, background: 10_000, seconds: 30, intervalMs: 500 },
  };
  const explicit = new Set(Object.keys(values).map((name) => `--${name}`));
  const str = (name: keyof typeof OPTIONS): string | undefined => values[name] as string | undefined;
  const int = (name: keyof typeof OPTIONS, max?: number): number | undefined => {
    const raw = str(name);
    return raw === undefined ? undefined : posInt(`--${name}`, raw, max);
  };
  const rates = str('rates');
  if (rates !== undefined) opts.rates = rates.split(',').map((s) => posInt('--rates', s));
  opts.seconds = int('seconds', 86_400) ?? opts.seconds;
  opts.devices = int('devices', 100_000) ?? opts.devices;
  opts.sites = int('sites', 100) ?? opts.sites;
  opts.publishers = int('publishers', 64) ?? opts.publishers;
  const mqttUrl = str('mqtt-url');
  if (mqttUrl !== undefined) {
    if (!/^mqtt:\/\/[^/]+$/.test(mqttUrl))
      throw new BenchUsageError(`--mqtt-url must be mqtt://host:port (plain TCP), got '${mqttUrl}'`);
    opts.mqttUrl = mqttUrl;
  }
  const mosquitto = str('mosquitto');
  if (mosquitto !== undefined) opts.mosquitto = mosquitto;
  const databaseUrl = str('database-url');
  if (databaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\/.+/.test(databaseUrl))
      throw new BenchUsageError(`--database-url must be postgres://…, got '${databaseUrl}'`);
    opts.databaseUrl = databaseUrl;
  }
  opts.drainTimeoutS = int('drain-timeout', 3600) ?? opts.drainTimeoutS;
  opts.startTimeoutS = int('start-timeout', 3600) ?? opts.startTimeoutS;
  opts.window = int('window', 60_000) ?? opts.window;
  opts.out = str('out') ?? opts.out;
  const qos = str('qos');
  if (qos !== undefined) {
    if (qos !== '0' && qos !== '1') throw new BenchUsageError(`--qos must be 0 or 1, got '${qos}'`);
    opts.qos = qos === '0' ? 0 : 1;
  }
  const conf = str('mosquitto-conf');
  if (conf !== undefined) {
    if (conf !== 'repo' && conf !== 'stock')
      throw new BenchUsageError(`--mosquitto-conf must be repo or stock, got '${conf}'`);
    opts.mosquittoConf = conf;
  }
  if (values['keep-rows'] === true) opts.keepRows = true;
  if (values['keep-tmp'] === true) opts.keepTmp = true;
  if (values.quick === true) opts.quick = true;
  if (values['no-rules'] === true) opts.rules = false;
  opts.serverEntry = str('server') ?? opts.serverEntry;
  if (values['alarm-latency'] === true) opts.alarm.mode = 'only';
  if (values['no-alarm-latency'] === true) opts.alarm.mode = 'off';
  opts.alarm.clients = int('clients', 10_000) ?? opts.alarm.clients;
  opts.alarm.background = int('background') ?? opts.alarm.background;
  opts.alarm.seconds = int('alarm-seconds', 86_400) ?? opts.alarm.seconds;
  opts.alarm.intervalMs = int('alarm-interval', 60_000) ?? opts.alarm.intervalMs;
  const abusive = int('abusive-clients', 1_000);
  if (abusive !== undefined) opts.alarm.abusive = abusive;
  if (opts.quick) {
    if (!explicit.has('--rates')) opts.rates = [500];
    if (!explicit.has('--seconds')) opts.seconds = 5;
    if (!explicit.has('--devices')) opts.devices = 50;
    if (!explicit.has('--drain-timeout')) opts.drainTimeoutS = 60;
    if (!explicit.has('--clients')) opts.alarm.clients = 10;
    if (!explicit.has('--background')) opts.alarm.background = 500;
    if (!explicit.has('--alarm-seconds')) opts.alarm.seconds = 5;
  }
  if (!opts.rules) {
    if (explicit.has('--alarm-latency'))
      throw new BenchUsageError('--alarm-latency needs the rules: it cannot run with --no-rules');
    opts.alarm.mode = 'off';
  }
  if (explicit.has('--alarm-latency') && explicit.has('--no-alarm-latency'))
    throw new BenchUsageError('--alarm-latency and --no-alarm-latency exclude each other');
  if (opts.alarm.mode === 'only' && explicit.has('--seconds') && !explicit.has('--alarm-seconds'))
    opts.alarm.seconds = opts.seconds;
  if (opts.alarm.mode !== 'off' && opts.alarm.seconds < 4)
    throw new BenchUsageError(
      `the alarm-latency phase needs at least 4 s (2 s warm-up, 1 s tail), got ${opts.alarm.seconds}`,
    );
  if (opts.mosquitto !== undefined && explicit.has('--mqtt-url'))
    throw new BenchUsageError('--mosquitto and --mqtt-url exclude each other');
  if (opts.mosquitto !== undefined) delete opts.mqttUrl;
  if (opts.mqttUrl !== undefined && !/^mqtt:\/\/[^/]+$/.test(opts.mqttUrl))
    throw new BenchUsageError(
      `MQTT_URL must be mqtt://host:port (plain TCP) for the bench publisher, got '${opts.mqttUrl}'`,
    );
  if (opts.sites > opts.devices)
    throw new BenchUsageError(`--sites (${opts.sites}) cannot exceed --devices (${opts.devices})`);
  if (opts.publishers > opts.devices) opts.publishers = opts.devices;
  return opts;
}
