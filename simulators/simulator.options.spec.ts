import { SCENARIO_NAMES } from './scenario.types';
import { parseSimulatorArgs, UsageError } from './simulator.options';

const parse = (argv: string[], env: Record<string, string> = {}) => parseSimulatorArgs(argv, env);

describe('parseSimulatorArgs', () => {
  it('should default to local Mosquitto, ./config, seed 42, per-device connections when given nothing', () => {
    expect(parse([])).toEqual({
      url: 'mqtt://127.0.0.1:1883',
      configDir: './config',
      seed: 42,
      connection: 'per-device',
      qos: 1,
      clientIdPrefix: 'hzsim',
    });
  });

  it('should take the broker and config dir from the environment when set', () => {
    expect(
      parse([], {
        MQTT_URL: 'mqtt://broker:1884',
        CONFIG_DIR: '/etc/hz',
        MQTT_USERNAME: 'u',
        MQTT_PASSWORD: 'p',
      }),
    ).toMatchObject({
      url: 'mqtt://broker:1884',
      configDir: '/etc/hz',
      username: 'u',
      password: 'p',
    });
  });

  it('should read a multiplier from --rate x and a total from --rate n/s', () => {
    expect(parse(['--rate', '2.5'])).toMatchObject({ rate: 2.5 });
    expect(parse(['--rate=500/s'])).toMatchObject({ messagesPerSecond: 500 });
  });

  it('should read all the other options when given', () => {
    expect(
      parse([
        '--url',
        'mqtt://h:1',
        '--config',
        'cfg',
        '--devices',
        '10',
        '--duration',
        '30',
        '--seed',
        '-7',
        '--scenario',
        'overfill',
        '--scenario-start',
        '0',
        '--connection',
        'shared',
        '--qos',
        '0',
        '--client-id-prefix',
        'sim2',
      ]),
    ).toEqual({
      url: 'mqtt://h:1',
      configDir: 'cfg',
      devices: 10,
      durationS: 30,
      seed: -7,
      scenario: 'overfill',
      scenarioStartS: 0,
      connection: 'shared',
      qos: 0,
      clientIdPrefix: 'sim2',
    });
  });

  it('should read the scenario speed when given --scenario-speed', () => {
    expect(parse(['--scenario', 'overfill', '--scenario-speed', '3'])).toMatchObject({
      scenario: 'overfill',
      scenarioSpeed: 3,
    });
  });

  it('should split a device list when --devices is not a number', () => {
    expect(parse(['--devices', 'cl-gd-1, bohai-chem/cl-gd-2'])).toMatchObject({
      devices: ['cl-gd-1', 'bohai-chem/cl-gd-2'],
    });
  });

  it('should return null when asked for help', () => {
    expect(parse(['--rate', '2', '--help'])).toBeNull();
  });

  it('should list every valid scenario when the scenario is unknown', () => {
    expect(() => parse(['--scenario', 'meteor'])).toThrow(UsageError);
    expect(() => parse(['--scenario', 'meteor'])).toThrow(
      `unknown scenario 'meteor'; valid scenarios: ${SCENARIO_NAMES.join(', ')}`,
    );
  });

  it.each([
    [['--rate', '0'], /--rate must be a positive number/],
    [['--rate', 'fast'], /--rate must be a positive number/],
    [['--duration'], /--duration needs a value/],
    [['--seed', '1.5'], /--seed must be an integer/],
    [['--url', 'http://x'], /--url must be a URL/],
    [['--connection', 'pooled'], /--connection must be per-device or shared/],
    [['--qos', '2'], /--qos must be 0 or 1/],
    [['--scenario-speed', '0'], /--scenario-speed must be a positive number/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
  ])('should reject %j with a clear message', (argv, message) => {
    expect(() => parse(argv)).toThrow(message);
  });

  it('should take --sparkplug as a flag', () => {
    expect(parseSimulatorArgs(['--sparkplug', '--qos', '0'], {})).toMatchObject({ sparkplug: true, qos: 0 });
    expect(parseSimulatorArgs([], {})!.sparkplug).toBeUndefined();
  });
});
