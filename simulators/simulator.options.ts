/** Command-line options of `npm run simulate -- [opts]` (pure parsing, unit-tested). */
import { SCENARIO_NAMES } from './scenario.types';
import { isScenarioName } from './scenario.registry';
import type { ConnectionMode } from './plant.simulator';

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
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got '${raw}'`);
  return n;
}

/** Parses argv (without node and script). Returns null when --help was asked for. */
export function parseSimulatorArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SimulatorCliOptions | null {
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
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return null;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0 && arg.startsWith('--')) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--url': {
        const v = value();
        if (!/^(mqtts?|tcp|ssl|wss?):\/\/.+/.test(v)) throw new UsageError(`--url must be a URL like mqtt://host:1883, got '${v}'`);
        opts.url = v;
        break;
      }
      case '--config':
        opts.configDir = value();
        break;
      case '--rate': {
        const v = value();
        if (v.endsWith('/s')) opts.messagesPerSecond = positive('--rate', v.slice(0, -2));
        else opts.rate = positive('--rate', v);
        break;
      }
      case '--devices': {
        const v = value();
        if (/^\d+$/.test(v)) opts.devices = positive('--devices', v);
        else opts.devices = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
        break;
      }
      case '--duration':
        opts.durationS = positive('--duration', value());
        break;
      case '--seed': {
        const v = value();
        if (!/^-?\d+$/.test(v)) throw new UsageError(`--seed must be an integer, got '${v}'`);
        opts.seed = Number(v);
        break;
      }
      case '--scenario': {
        const v = value();
        if (!isScenarioName(v)) throw new UsageError(`unknown scenario '${v}'; valid scenarios: ${SCENARIO_NAMES.join(', ')}`);
        opts.scenario = v;
        break;
      }
      case '--scenario-start': {
        const v = value();
        const n = Number(v);
        if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--scenario-start must be a number of seconds >= 0, got '${v}'`);
        opts.scenarioStartS = n;
        break;
      }
      case '--scenario-speed':
        opts.scenarioSpeed = positive('--scenario-speed', value());
        break;
      case '--connection': {
        const v = value();
        if (v !== 'per-device' && v !== 'shared') throw new UsageError(`--connection must be per-device or shared, got '${v}'`);
        opts.connection = v;
        break;
      }
      case '--qos': {
        const v = value();
        if (v !== '0' && v !== '1') throw new UsageError(`--qos must be 0 or 1, got '${v}'`);
        opts.qos = v === '0' ? 0 : 1;
        break;
      }
      case '--client-id-prefix': {
        const v = value();
        if (!/^[A-Za-z0-9_-]{1,32}$/.test(v)) throw new UsageError(`--client-id-prefix must match [A-Za-z0-9_-]{1,32}, got '${v}'`);
        opts.clientIdPrefix = v;
        break;
      }
      case '--credentials':
        opts.credentialsFile = value();
        break;
      case '--sparkplug':
        opts.sparkplug = true;
        break;
      default:
        throw new UsageError(`unknown option '${arg}'\n\n${SIMULATOR_USAGE}`);
    }
  }
  return opts;
}
