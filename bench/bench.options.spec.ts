import { BenchUsageError, DEFAULT_RATES, parseBenchArgs } from './bench.options';

const parse = (argv: string[], env: Record<string, string> = {}) => parseBenchArgs(argv, env);

describe('parseBenchArgs', () => {
  it('should default to the issue steps (10k…75k msg/s, 60 s, 1000 devices) and embedded services when given nothing', () => {
    const o = parse([])!;
    expect(o).toMatchObject({
      rates: DEFAULT_RATES,
      seconds: 60,
      devices: 1000,
      sites: 4,
      publishers: 4,
      quick: false,
      out: 'bench/results/latest.json',
    });
    expect(o.mqttUrl).toBeUndefined();
    expect(o.databaseUrl).toBeUndefined();
  });

  it('should pass MQTT_URL and DATABASE_URL through when set in the environment', () => {
    expect(
      parse([], {
        MQTT_URL: 'mqtt://127.0.0.1:1883',
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      }),
    ).toMatchObject({
      mqttUrl: 'mqtt://127.0.0.1:1883',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
    });
  });

  it('should read rates, seconds and devices when given', () => {
    expect(
      parse(['--rates', '1000,2000', '--seconds=10', '--devices', '200', '--publishers', '2']),
    ).toMatchObject({ rates: [1000, 2000], seconds: 10, devices: 200, publishers: 2 });
  });

  it('should use one short low step when given --quick, unless told otherwise', () => {
    expect(parse(['--quick'])).toMatchObject({ quick: true, rates: [500], seconds: 5, devices: 50 });
    expect(parse(['--quick', '--rates', '800'])).toMatchObject({ rates: [800], seconds: 5 });
  });

  it('should take --mosquitto with or without a binary and drop an environment MQTT_URL', () => {
    expect(parse(['--mosquitto'], { MQTT_URL: 'mqtt://x:1' })).toMatchObject({ mosquitto: 'mosquitto' });
    expect(parse(['--mosquitto'], { MQTT_URL: 'mqtt://x:1' })!.mqttUrl).toBeUndefined();
    expect(parse(['--mosquitto', '/usr/sbin/mosquitto', '--seconds', '5'])).toMatchObject({
      mosquitto: '/usr/sbin/mosquitto',
      seconds: 5,
    });
  });

  it('should return null when asked for help', () => {
    expect(parse(['--help'])).toBeNull();
  });

  it.each([
    [['--rates', '1000,x'], /--rates must be an integer/],
    [['--seconds', '0'], /--seconds must be an integer/],
    [['--mqtt-url', 'mqtts://h:8883'], /plain TCP/],
    [['--database-url', 'mysql://x'], /--database-url must be postgres/],
    [['--mosquitto', '--mqtt-url', 'mqtt://h:1'], /exclude each other/],
    [['--sites', '10', '--devices', '5'], /cannot exceed/],
    [['--window', '70000'], /--window must be an integer from 1 to 60000/],
    [['--nope'], /unknown option '--nope'/],
  ])('should reject %j with a clear message', (argv, message) => {
    expect(() => parse(argv)).toThrow(BenchUsageError);
    expect(() => parse(argv)).toThrow(message);
  });

  it('should reject an MQTT_URL the raw publisher cannot use', () => {
    expect(() => parse([], { MQTT_URL: 'mqtts://broker:8883' })).toThrow(/plain TCP/);
  });

  it('should run the alarm-latency phase after the steps by default, with 100 clients at 10k msg/s for 30 s', () => {
    expect(parse([])!.alarm).toEqual({
      mode: 'also',
      clients: 100,
      background: 10_000,
      seconds: 30,
      intervalMs: 500,
    });
  });

  it('should run only the alarm phase, timed by --seconds, when given --alarm-latency', () => {
    expect(
      parse(['--alarm-latency', '--clients', '50', '--background', '5000', '--seconds', '20'])!.alarm,
    ).toEqual({ mode: 'only', clients: 50, background: 5000, seconds: 20, intervalMs: 500 });
    expect(parse(['--alarm-latency', '--seconds', '20', '--alarm-seconds', '12'])!.alarm.seconds).toBe(12);
    expect(parse(['--no-alarm-latency'])!.alarm.mode).toBe('off');
  });

  it('should use a small alarm phase when given --quick, and refuse one too short to measure', () => {
    expect(parse(['--quick'])!.alarm).toMatchObject({ clients: 10, background: 500, seconds: 5 });
    expect(() => parse(['--alarm-latency', '--seconds', '3'])).toThrow(BenchUsageError);
    expect(() => parse(['--alarm-latency', '--no-alarm-latency'])).toThrow(BenchUsageError);
  });

  it('should run the rules by default, and a rule-less baseline without the alarm phase when given --no-rules', () => {
    expect(parse([])!.rules).toBe(true);
    const base = parse(['--no-rules'])!;
    expect(base.rules).toBe(false);
    expect(base.alarm.mode).toBe('off');
    expect(() => parse(['--no-rules', '--alarm-latency'])).toThrow(BenchUsageError);
  });
});

describe('parseBenchArgs --qos / --mosquitto-conf', () => {
  it('should default to QoS 1 with the repo broker settings and accept QoS 0 and stock settings', () => {
    expect(parseBenchArgs([], {})).toMatchObject({ qos: 1, mosquittoConf: 'repo' });
    expect(parseBenchArgs(['--qos', '0', '--mosquitto-conf', 'stock'], {})).toMatchObject({
      qos: 0,
      mosquittoConf: 'stock',
    });
    expect(() => parseBenchArgs(['--qos', '2'], {})).toThrow('--qos must be 0 or 1');
    expect(() => parseBenchArgs(['--mosquitto-conf', 'x'], {})).toThrow('repo or stock');
  });
});
