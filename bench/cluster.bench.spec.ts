import { BenchUsageError } from './bench.options';
import { parseClusterArgs, rowsAccount } from './cluster.bench';

const URL = 'postgres://postgres@127.0.0.1:5432/h_bench_test';

describe('cluster bench options', () => {
  it('should default to 3 nodes, 12 sites and a kill a third into the load', () => {
    const o = parseClusterArgs(['--cluster', '3', '--database-url', URL], {})!;
    expect(o).toMatchObject({
      nodes: 3,
      sites: 12,
      seconds: 30,
      killAtS: 10,
      leaseTtlMs: 10_000,
      single: true,
    });
    expect(o.databaseUrl).toBe(URL);
  });

  it('should take the database from DATABASE_URL and refuse to run without one', () => {
    expect(parseClusterArgs(['--cluster', '2'], { DATABASE_URL: URL })?.databaseUrl).toBe(URL);
    expect(() => parseClusterArgs(['--cluster', '3'], {})).toThrow(BenchUsageError);
  });

  it('should refuse fewer than 12 sites, one node, and a kill after the load ended', () => {
    expect(() => parseClusterArgs(['--cluster', '3', '--database-url', URL, '--sites', '4'], {})).toThrow(
      /--sites must be an integer from 12/,
    );
    expect(() => parseClusterArgs(['--cluster', '1', '--database-url', URL], {})).toThrow(/--cluster/);
    expect(() =>
      parseClusterArgs(['--cluster', '3', '--database-url', URL, '--seconds', '20', '--kill-at', '20'], {}),
    ).toThrow(/--kill-at/);
  });

  it('should skip the single-node run with --no-single', () => {
    expect(parseClusterArgs(['--cluster', '3', '--database-url', URL, '--no-single'], {})?.single).toBe(
      false,
    );
  });
});

describe('cluster bench rows accounting', () => {
  it('should count lost rows from the distinct rows and duplicates as stored minus distinct', () => {
    expect(rowsAccount(1000, 2003, 1998)).toEqual({
      sent: 1000,
      expected: 2000,
      stored: 2003,
      unique: 1998,
      lost: 2,
      duplicated: 5,
    });
    expect(rowsAccount(10, 20, 20)).toMatchObject({ lost: 0, duplicated: 0 });
  });
});
