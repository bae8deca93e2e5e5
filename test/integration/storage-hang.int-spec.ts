import { Pool } from 'pg';
import { JsonLogger } from '../../src/common/logger';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { Database, isConnectionError } from '../../src/storage/database.service';
import { DeadLetterRepository } from '../../src/storage/dead-letter.repository';
import { reportFault } from '../setup/fault-report';
import { pollUntil } from '../setup/poll-until';
import { TcpProxy } from '../setup/tcp-proxy';
import { TEST_DATABASE_URL, describeWithDb, prepareTestDatabase, uniqueId } from '../setup/test-db';

const suite = describeWithDb('storage-hang.int-spec');

/** A database that stops answering (TCP proxy hang: connections stay open, nothing is forwarded). */
suite('database hang detection (TCP proxy hang)', () => {
  const url = TEST_DATABASE_URL!;
  let proxy: TcpProxy;
  let db: Database;
  const metrics = new HazwatchMetrics(false);

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(url);
    const target = new URL(url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    const port = await proxy.start();
    const viaProxy = new URL(url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(port);
    // the defaults (probe every 2 s, 2 s to answer; queries 5 s) except a shorter query timeout to keep the suite short
    db = await Database.open({ url: viaProxy.toString(), migrate: false, metrics, queryTimeoutMs: 2_000 });
  });

  afterAll(async () => {
    proxy.unhang();
    await db.close();
    await proxy.close();
  });

  it('should report the database not ready within ~5 s of a hang, fail queries by timeout, and recover when it answers', async () => {
    expect(db.ready).toBe(true);
    await db.query('SELECT 1');
    proxy.hang();
    const hungAt = Date.now();
    const query = db.query('SELECT 1').then(
      () => 'answered',
      (err: unknown) => (isConnectionError(err) ? `timeout after ${Date.now() - hungAt} ms` : String(err)),
    );
    await pollUntil(() => !db.ready, {
      timeoutMs: 6_000,
      intervalMs: 50,
      what: 'readiness false while the database hangs',
    });
    const detectedMs = Date.now() - hungAt;
    console.log(`database hang detected after ${detectedMs} ms (probe every 2000 ms, 2000 ms to answer)`);
    expect(db.liveness()).toMatchObject({ up: false, reason: expect.stringMatching(/not answering/) });
    expect((await metrics.dbUp.get()).values[0]?.value).toBe(0);
    expect(await query).toMatch(/^timeout after \d+ ms$/);
    proxy.unhang();
    await pollUntil(() => db.ready, {
      timeoutMs: 8_000,
      intervalMs: 50,
      what: 'readiness back once the database answers',
    });
    expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
  });
});

/** Dead letters the database used to refuse (NUL in text) stored, and good ones after them. */
suite('dead letters on the real database', () => {
  const url = TEST_DATABASE_URL!;
  let db: Database;
  let pool: Pool;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(url);
    db = await Database.open({ url, migrate: false });
    pool = new Pool({ connectionString: url, max: 1 });
  });

  afterAll(async () => {
    await pool.end();
    await db.close();
  });

  it('should store a NUL payload, a NUL in detail and invalid UTF-8, then keep storing good rejects', async () => {
    const metrics = new HazwatchMetrics(false);
    const repo = new DeadLetterRepository({ db, metrics, maxRows: 1_000_000, log: new JsonLogger('test') });
    const topic = `hazwatch/v1/${uniqueId('dl')}/d1/telemetry`;
    let parseError = '';
    try {
      JSON.parse('\u0000');
    } catch (err) {
      parseError = (err as Error).message;
    }
    expect(parseError).toContain('\u0000');
    const at = Date.now();
    repo.record({
      topic,
      reason: 'invalid_json',
      detail: parseError,
      payload: Buffer.from([0]),
      receivedAt: at,
    });
    repo.record({
      topic,
      reason: 'invalid_json',
      detail: 'bad\u0000detail',
      payload: Buffer.from('{"a":"\u0000"}'),
      receivedAt: at,
    });
    const invalidUtf8 = Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x00, 0x41]);
    repo.record({
      topic,
      reason: 'invalid_json',
      detail: `cannot parse ${invalidUtf8.toString('utf8')}`,
      payload: invalidUtf8,
      receivedAt: at,
    });
    await repo.flush();
    for (let i = 0; i < 5; i++)
      repo.record({
        topic,
        reason: 'schema',
        detail: `good ${i}`,
        payload: Buffer.from(`{"good":${i}}`),
        receivedAt: at,
      });
    await repo.flush();
    expect(repo.pending()).toBe(0);
    const rows = (
      await pool.query<{ detail: string; payload: Buffer }>(
        'SELECT detail, payload FROM ingest_reject WHERE topic = $1 ORDER BY id',
        [topic],
      )
    ).rows;
    const lost = reportFault(
      'NUL and invalid UTF-8 inputs (dead letters: 3 poison, then 5 good)',
      { sent: 8, stored: rows.length, duplicated: 0 },
      'every input kept in ingest_reject',
    );
    expect(lost).toBe(0);
    expect(rows).toHaveLength(8);
    expect(rows[0]?.payload).toEqual(Buffer.from([0]));
    expect(rows[0]?.detail).toContain('\\u0000');
    expect(rows[1]?.detail).toBe('bad\\u0000detail');
    expect(rows[2]?.payload).toEqual(invalidUtf8);
    expect(rows.slice(3).map((r) => r.detail)).toEqual(['good 0', 'good 1', 'good 2', 'good 3', 'good 4']);
    expect((await metrics.deadLetterWriteErrors.get()).values[0]?.value ?? 0).toBe(0);
  });
});
