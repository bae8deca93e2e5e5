/** Command-line options of `npm run bench -- [opts]` (pure parsing, unit-tested). */

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
  alarm: { mode: 'also' | 'only' | 'off'; clients: number; background: number; seconds: number; intervalMs: number; abusive?: number };
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
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > max) throw new BenchUsageError(`${flag} must be an integer from 1 to ${max}, got '${raw}'`);
  return Number(raw);
}

/** Parses argv (without node and script). Returns null when --help was asked for. */
export function parseBenchArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): BenchOptions | null {
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
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return null;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new BenchUsageError(`${flag} needs a value`);
      return v;
    };
    explicit.add(flag);
    switch (flag) {
      case '--rates':
        opts.rates = value()
          .split(',')
          .map((s) => posInt('--rates', s));
        break;
      case '--seconds':
        opts.seconds = posInt('--seconds', value(), 86_400);
        break;
      case '--devices':
        opts.devices = posInt('--devices', value(), 100_000);
        break;
      case '--sites':
        opts.sites = posInt('--sites', value(), 100);
        break;
      case '--publishers':
        opts.publishers = posInt('--publishers', value(), 64);
        break;
      case '--mqtt-url': {
        const v = value();
        if (!/^mqtt:\/\/[^/]+$/.test(v)) throw new BenchUsageError(`--mqtt-url must be mqtt://host:port (plain TCP), got '${v}'`);
        opts.mqttUrl = v;
        break;
      }
      case '--mosquitto': {
        const next = inline ?? argv[i + 1];
        if (inline === undefined && next !== undefined && !next.startsWith('--')) i++;
        opts.mosquitto = next !== undefined && !next.startsWith('--') ? next : 'mosquitto';
        break;
      }
      case '--database-url': {
        const v = value();
        if (!/^postgres(ql)?:\/\/.+/.test(v)) throw new BenchUsageError(`--database-url must be postgres://…, got '${v}'`);
        opts.databaseUrl = v;
        break;
      }
      case '--drain-timeout':
        opts.drainTimeoutS = posInt('--drain-timeout', value(), 3600);
        break;
      case '--start-timeout':
        opts.startTimeoutS = posInt('--start-timeout', value(), 3600);
        break;
      case '--window':
        opts.window = posInt('--window', value(), 60_000);
        break;
      case '--out':
        opts.out = value();
        break;
      case '--qos': {
        const v = value();
        if (v !== '0' && v !== '1') throw new BenchUsageError(`--qos must be 0 or 1, got '${v}'`);
        opts.qos = v === '0' ? 0 : 1;
        break;
      }
      case '--mosquitto-conf': {
        const v = value();
        if (v !== 'repo' && v !== 'stock') throw new BenchUsageError(`--mosquitto-conf must be repo or stock, got '${v}'`);
        opts.mosquittoConf = v;
        break;
      }
      case '--keep-rows':
        opts.keepRows = true;
        break;
      case '--keep-tmp':
        opts.keepTmp = true;
        break;
      case '--quick':
        opts.quick = true;
        break;
      case '--no-rules':
        opts.rules = false;
        break;
      case '--server':
        opts.serverEntry = value();
        break;
      case '--alarm-latency':
        opts.alarm.mode = 'only';
        break;
      case '--no-alarm-latency':
        opts.alarm.mode = 'off';
        break;
      case '--clients':
        opts.alarm.clients = posInt('--clients', value(), 10_000);
        break;
      case '--background':
        opts.alarm.background = posInt('--background', value());
        break;
      case '--alarm-seconds':
        opts.alarm.seconds = posInt('--alarm-seconds', value(), 86_400);
        break;
      case '--alarm-interval':
        opts.alarm.intervalMs = posInt('--alarm-interval', value(), 60_000);
        break;
      case '--abusive-clients':
        opts.alarm.abusive = posInt('--abusive-clients', value(), 1_000);
        break;
      default:
        throw new BenchUsageError(`unknown option '${arg}'\n\n${BENCH_USAGE}`);
    }
  }
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
    if (explicit.has('--alarm-latency')) throw new BenchUsageError('--alarm-latency needs the rules: it cannot run with --no-rules');
    opts.alarm.mode = 'off';
  }
  if (explicit.has('--alarm-latency') && explicit.has('--no-alarm-latency')) throw new BenchUsageError('--alarm-latency and --no-alarm-latency exclude each other');
  if (opts.alarm.mode === 'only' && explicit.has('--seconds') && !explicit.has('--alarm-seconds')) opts.alarm.seconds = opts.seconds;
  if (opts.alarm.mode !== 'off' && opts.alarm.seconds < 4) throw new BenchUsageError(`the alarm-latency phase needs at least 4 s (2 s warm-up, 1 s tail), got ${opts.alarm.seconds}`);
  if (opts.mosquitto !== undefined && explicit.has('--mqtt-url')) throw new BenchUsageError('--mosquitto and --mqtt-url exclude each other');
  if (opts.mosquitto !== undefined) delete opts.mqttUrl;
  if (opts.mqttUrl !== undefined && !/^mqtt:\/\/[^/]+$/.test(opts.mqttUrl)) throw new BenchUsageError(`MQTT_URL must be mqtt://host:port (plain TCP) for the bench publisher, got '${opts.mqttUrl}'`);
  if (opts.sites > opts.devices) throw new BenchUsageError(`--sites (${opts.sites}) cannot exceed --devices (${opts.devices})`);
  if (opts.publishers > opts.devices) opts.publishers = opts.devices;
  return opts;
}
