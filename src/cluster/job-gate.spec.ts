import { ManualClock } from '../common/clock';
import { RetentionService } from '../storage/retention.service';
import { TelemetryPartitions } from '../storage/telemetry-partitions.service';
import { jobKey } from './domain/lease-keys';
import { JobGates } from '../common/job-gate';

/** A database that records every statement and has no rows. */
function recordingDb(): { sql: string[]; db: never } {
  const sql: string[] = [];
  const db = {
    timescale: false,
    whenReady: async () => undefined,
    query: async (text: string) => {
      sql.push(text);
      return { rows: [], rowCount: 0 };
    },
    withTransaction: async () => {
      throw new Error('not expected');
    },
  };
  return { sql, db: db as never };
}

describe('JobGates', () => {
  it('a single node has every gate open and needs no lease holder', () => {
    const g = new JobGates(false);
    expect(g.isOpen('retention')).toBe(true);
    expect(g.gate('webhooks')()).toBe(true);
  });

  it('a cluster node opens a gate only while its lease holder owns job:<name>', () => {
    const g = new JobGates(true);
    expect(g.isOpen('partitions')).toBe(false); // not attached yet: closed
    const owned = new Set([jobKey('partitions')]);
    g.attach({ isOwned: (k) => owned.has(k) });
    expect(g.isOpen('partitions')).toBe(true);
    expect(g.isOpen('duty-checks')).toBe(false);
    owned.delete(jobKey('partitions'));
    expect(g.isOpen('partitions')).toBe(false);
    owned.add(jobKey('partitions'));
    g.detach();
    expect(g.isOpen('partitions')).toBe(false);
  });

  it('retention and partition maintenance do nothing while their gate is closed, and run once it opens', async () => {
    const owned = new Set<string>();
    const gates = new JobGates(true);
    gates.attach({ isOwned: (k) => owned.has(k) });
    const clock = new ManualClock(Date.UTC(2026, 11, 3));
    const r = recordingDb();
    const retention = new RetentionService({
      db: r.db,
      clock,
      retentionDays: 90,
      gate: gates.gate('retention'),
    });
    const partitions = new TelemetryPartitions({
      db: r.db,
      clock,
      retentionDays: 90,
      gate: gates.gate('partitions'),
    });
    expect(await retention.runOnce()).toBe(0);
    expect((await partitions.runOnce()).skipped).toBe('other-node');
    expect(r.sql).toEqual([]);
    owned.add(jobKey('retention'));
    owned.add(jobKey('partitions'));
    await retention.runOnce();
    const round = await partitions.runOnce();
    expect(round.skipped).toBe('not-partitioned'); // it looked at the table: the gate let it through
    expect(r.sql.length).toBeGreaterThanOrEqual(2);
  });
});
