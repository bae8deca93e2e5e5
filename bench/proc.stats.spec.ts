import { parseMachineStat, parseProcStat, parseVmRss } from './proc.stats';

describe('/proc parsing', () => {
  it('should read ppid, utime and stime when the command name holds spaces and parentheses', () => {
    const line =
      '4242 (node (hazwatch) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 1234 567 0 0 20 0 11 0 999 1000000 5000 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ pid: 4242, ppid: 1, utime: 1234, stime: 567 });
  });

  it('should throw on a line it cannot read', () => {
    expect(() => parseProcStat('garbage')).toThrow(/unparseable/);
  });

  it('should read VmRSS in bytes', () => {
    expect(parseVmRss('Name:\tnode\nVmRSS:\t  143360 kB\nThreads:\t11\n')).toBe(143_360 * 1024);
    expect(() => parseVmRss('Name:\tnode\n')).toThrow(/VmRSS/);
  });

  it('should count idle and iowait as not busy in the machine cpu line', () => {
    const stat = 'cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n';
    expect(parseMachineStat(stat)).toEqual({ busy: 150, total: 1000 });
  });
});
