/** Command-line options of `npm run simulate -- [opts]` (pure parsing, unit-tested). */
import { SCENARIO_NAMES } from './scenario.types';
import { isScenarioName } from './scenario.registry';
import type { ConnectionMode } from './plant.simulator';
import { parseCli, type CliOption } from '../src/common/cli-args';

export type SimulatorCliOptions = {
  url: string;
  configDir: string;
  seed: number;
  rate?: number;
  messagesPerSecond?: number;
  devices?: number | string[];
  durationS?: number;
  scenario?: string;
  scenarioStartS?: number;
  scenarioSpeed?: number;
  connection: ConnectionMode;
  qos: 0 | 1;
  clientIdPrefix: string;
  username?: string;
  password?: string;
  /** Per-site MQTT credentials file (`{"sites": {"<siteId>": {"username", "password"}}}`). */
  credentialsFile?: string;
  /** Speak Sparkplug B as the edge nodes of `sparkplug.yaml` instead of the JSON contract (docs/sparkplug.md). */
  sparkplug?: boolean;
};

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const SIMULATOR_USAGE = `Usage: npm run simulate -- [options]

  --url <mqtt-url>        broker (default: $MQTT_URL or mqtt://127.0.0.1:1883)
  --config <dir>          plant model directory (default: $CONFIG_DIR or ./config)
  --rate <x | n/s>        x: multiplier on each device's periodS (2 = twice as often);
                          n/s: total messages per second across all devices (e.g. 500/s)
  --devices <n | ids>     first n devices, or a comma list of site/device keys or device ids
  --duration <seconds>    run this long, announce offline, exit 0 (default: until SIGINT/SIGTERM)
  --seed <int>            PRNG seed; the same seed gives the same values (default 42)
  --scenario <name>       one of: ${SCENARIO_NAMES.join(', ')}
  --scenario-start <s>    seconds after start when the scenario begins (default 10)
  --scenario-speed <x>    the scenario's own process (leak, fill, drift, comms loss) runs x times
                          faster (default 1); device sampling and rule timings are unchanged
  --connection <mode>     per-device (default; one connection and last will per device) or shared
  --qos <0|1>             telemetry QoS (default 1; state is always QoS 1, retained)
  --client-id-prefix <p>  MQTT client ids are <p>-<site>-<device> (default hzsim)
  --credentials <file>    per-site MQTT credentials {"sites": {"<site>": {"username", "password"}}}
                          (default: $DATA_DIR/mqtt/demo-sites.credentials.json, written by the server in
                          demo mode, when it exists and MQTT_USERNAME is unset)
  --sparkplug             publish as the Sparkplug B edge nodes mapped in <config>/sparkplug.yaml
                          (NBIRTH/DBIRTH, DDATA by alias, answers rebirth NCMDs, NDEATH as last will)
  --help                  this text
`;

function positive(flag: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag} must be a positive number, got '${raw}'`);
  return n;
}

const OPTIONS = {
  url: { type: 'string' },
  config: { type: 'string' },
  rate: { type: 'string' },
  devices: { type: 'string' },
  duration: { type: 'string' },
  seed: { type: 'string' },
  scenario: { type: 'string' },
  'scenario-start': { type: 'string' },
  'scenario-speed': { type: 'string' },
  connection: { type: 'string' },
  qos: { type: 'string' },
  'client-id-prefix': { type: 'string' },
  credentials: { type: 'string' },
  sparkplug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, CliOption>;

/** Parses argv (without node and script) with node:util parseArgs. Returns null when --help was asked for. */
export function parseSimulatorArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): SimulatorCliOptions | null {
  const values = parseCli(argv, OPTIONS, (m) => new UsageError(m), SIMULATOR_USAGE);
  if (values === null) return null;
  const v = (name: keyof typeof OPTIONS): string | undefined => values[name] as string | undefined;
  const opts: SimulatorCliOptions = {
    url: env.MQTT_URL || 'mqtt://127.0.0.1:1883',
    configDir: env.CONFIG_DIR || './config',
    seed: 42,
    connection: 'per-device',
    qos: 1,
    clientIdPrefix: 'hzsim',
    ...(env.MQTT_USERNAME ? { username: env.MQTT_USERNAME } : {}),
    ...(env.MQTT_PASSWORD ? { password: env.MQTT_PASSWORD } : {}),
  };
  const url = v('url');
  if (url !== undefined) {
    if (!/^(mqtts?|tcp|ssl|wss?):\/\/.+/.test(url))
      throw new UsageError(`--url must be a URL like mqtt://host:1883, got '${url}'`);
    opts.url = url;
  }
  const config = v('config');
  if (config !== undefined) opts.configDir = config;
  const rate = v('rate');
  if (rate !== undefined) {
    if (rate.endsWith('/s')) opts.messagesPerSecond = positive('--rate', rate.slice(0, -2));
    else opts.rate = positive('--rate', rate);
  }
  const devices = v('devices');
  if (devices !== undefined) {
    if (/^\d+$/.test(devices)) opts.devices = positive('--devices', devices);
    else
      opts.devices = devices
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
  }
  const duration = v('duration');
  if (duration !== undefined) opts.durationS = positive('--duration', duration);
  const seed = v('seed');
  if (seed !== undefined) {
    if (!/^-?\d+$/.test(seed)) throw new UsageError(`--seed must be an integer, got '${seed}'`);
    opts.seed = Number(seed);
  }
  const scenario = v('scenario');
  if (scenario !== undefined) {
    if (!isScenarioName(scenario))
      throw new UsageError(`unknown scenario '${scenario}'; valid scenarios: ${SCENARIO_NAMES.join(', ')}`);
    opts.scenario = scenario;
  }
  const scenarioStart = v('scenario-start');
  if (scenarioStart !== undefined) {
    const n = Number(scenarioStart);
    if (scenarioStart.trim() === '' || !Number.isFinite(n) || n < 0)
      throw new UsageError(`--scenario-start must be a number of seconds >= 0, got '${scenarioStart}'`);
    opts.scenarioStartS = n;
  }
  const speed = v('scenario-speed');
  if (speed !== undefined) opts.scenarioSpeed = positive('--scenario-speed', speed);
  const connection = v('connection');
  if (connection !== undefined) {
    if (connection !== 'per-device' && connection !== 'shared')
      throw new UsageError(`--connection must be per-device or shared, got '${connection}'`);
    opts.connection = connection;
  }
  const qos = v('qos');
  if (qos !== undefined) {
    if (qos !== '0' && qos !== '1') throw new UsageError(`--qos must be 0 or 1, got '${qos}'`);
    opts.qos = qos === '0' ? 0 : 1;
  }
  const prefix = v('client-id-prefix');
  if (prefix !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix))
      throw new UsageError(`--client-id-prefix must match [A-Za-z0-9_-]{1,32}, got '${prefix}'`);
    opts.clientIdPrefix = prefix;
  }
  const credentials = v('credentials');
  if (credentials !== undefined) opts.credentialsFile = credentials;
  if (values.sparkplug === true) opts.sparkplug = true;
  return opts;
}
