import { parseArgs } from './migrate.cli';

describe('migrate CLI arguments', () => {
  it('should default to applying every pending migration when no command is given', () => {
    expect(parseArgs([])).toEqual({ direction: 'up' });
  });

  it('should parse down with a count or "all" when given', () => {
    expect(parseArgs(['down'])).toEqual({ direction: 'down' });
    expect(parseArgs(['down', '2'])).toEqual({ direction: 'down', count: 2 });
    expect(parseArgs(['down', 'all'])).toEqual({ direction: 'down', count: Number.POSITIVE_INFINITY });
  });

  it('should refuse an unknown command or a bad count when given one', () => {
    expect(() => parseArgs(['sideways'])).toThrow(/unknown command/);
    expect(() => parseArgs(['down', '0'])).toThrow(/positive integer/);
    expect(() => parseArgs(['down', 'x'])).toThrow(/positive integer/);
  });
});
