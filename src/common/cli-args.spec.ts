import { parseCli, type CliOption } from './cli-args';

const OPTIONS: Record<string, CliOption> = {
  seed: { type: 'string' },
  quick: { type: 'boolean' },
  mosquitto: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const parse = (argv: string[]) =>
  parseCli(argv, OPTIONS, (m) => new RangeError(m), 'USAGE', { mosquitto: 'mosquitto' });

describe('parseCli (node:util parseArgs)', () => {
  it('should read --x v, --x=v, a value with one leading dash, and flags', () => {
    expect(parse(['--seed', '-7', '--quick'])).toEqual({ seed: '-7', quick: true });
    expect(parse(['--seed=12'])).toEqual({ seed: '12' });
  });

  it('should give an optional-value option its default when it stands alone', () => {
    expect(parse(['--mosquitto', '--quick'])).toEqual({ mosquitto: 'mosquitto', quick: true });
    expect(parse(['--mosquitto', '/usr/sbin/mosquitto'])).toEqual({ mosquitto: '/usr/sbin/mosquitto' });
    expect(parse(['--mosquitto'])).toEqual({ mosquitto: 'mosquitto' });
  });

  it('should return null for --help or -h wherever they are', () => {
    expect(parse(['--seed', '1', '--help'])).toBeNull();
    expect(parse(['-h'])).toBeNull();
  });

  it.each([
    [['--nope'], "unknown option '--nope'\n\nUSAGE"],
    [['stray'], "unknown option 'stray'\n\nUSAGE"],
    [['--seed'], '--seed needs a value'],
    [['--seed', '--quick'], '--seed needs a value'],
    [['--quick=yes'], '--quick takes no value'],
  ])('should reject %j with a clear message', (argv, message) => {
    expect(() => parse(argv)).toThrow(RangeError);
    expect(() => parse(argv)).toThrow(message);
  });
});
