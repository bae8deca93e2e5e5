import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../common/logger';
import { CopyWorkerError, WorkerTelemetrySink, type CopyTarget } from './copy-worker.sink';
import { DatabaseUnavailableError } from './database.service';
import { isDataError } from './telemetry.sink';

/** A stand-in worker speaking the COPY protocol: 'bad' → a data error, 'crash' → the thread dies, else committed. */
const FAKE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
parentPort.on('message', (m) => {
  if (m === 'close') return parentPort.close();
  const text = typeof m.chunk === 'string' ? m.chunk : Buffer.from(m.chunk).toString();
  if (text === 'crash') process.exit(3);
  if (text === 'dup') return parentPort.postMessage({ id: m.id, ok: true, outcome: { rows: m.rows, inserted: 1, duplicates: m.rows - 1, conflicts: 1 } });
  if (text === 'bad') return parentPort.postMessage({ id: m.id, ok: false, error: { message: 'invalid input syntax', name: 'error', code: '22P02' } });
  parentPort.postMessage({ id: m.id, ok: true, echo: workerData.url });
});
`;

describe('WorkerTelemetrySink', () => {
  let dir: string;
  let file: string;
  const target = (ready = true): CopyTarget => ({
    ready,
    url: 'postgres://x@127.0.0.1/db',
    lastErrorMessage: () => (ready ? undefined : 'connection refused'),
    acquire: () => Promise.reject(new Error('not used')),
  });
  const log = new JsonLogger('test');

  beforeAll(() => {
    JsonLogger.setLevel('error');
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-copy-worker-'));
    file = join(dir, 'fake-worker.js');
    writeFileSync(file, FAKE_WORKER);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves once the worker reports the COPY committed, for strings and buffers', async () => {
    const sink = new WorkerTelemetrySink(target(), log, { file });
    await expect(sink.copy('a\tb\n', 1)).resolves.toBeUndefined();
    await expect(sink.copy(Buffer.from('c\td\n'), 1)).resolves.toBeUndefined();
    await expect(
      Promise.all([sink.copy('1\n', 1), sink.copy('2\n', 1), sink.copy('3\n', 1)]),
    ).resolves.toHaveLength(3);
    await sink.close();
  });

  it('hands the outcome of a write that met stored readings to onOutcome (docs/adr/0014-idempotent-telemetry.md)', async () => {
    const seen: unknown[] = [];
    const sink = new WorkerTelemetrySink(target(), log, { file, onOutcome: (o) => seen.push(o) });
    await expect(sink.copy('dup', 3)).resolves.toBeUndefined();
    await sink.copy('a\tb\n', 1);
    expect(seen).toEqual([{ rows: 3, inserted: 1, duplicates: 2, conflicts: 1 }]);
    await sink.close();
  });

  it('rejects with the SQLSTATE so the writer isolates bad rows instead of retrying them', async () => {
    const sink = new WorkerTelemetrySink(target(), log, { file });
    const err = await sink.copy('bad', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyWorkerError);
    expect((err as CopyWorkerError).code).toBe('22P02');
    expect(isDataError(err)).toBe(true);
    await sink.close();
  });

  it("leaves the caller's buffer intact when the COPY fails, so its rows can be isolated, retried or spooled", async () => {
    const sink = new WorkerTelemetrySink(target(), log, { file });
    // As the spool reads a segment: a Buffer that owns its whole ArrayBuffer (the kind postMessage could transfer).
    const chunk = Buffer.allocUnsafeSlow(3);
    chunk.write('bad');
    expect(chunk.byteLength).toBe(chunk.buffer.byteLength);
    const err = await sink.copy(chunk, 1).catch((e: unknown) => e);
    expect(isDataError(err)).toBe(true);
    expect(chunk.toString('utf8')).toBe('bad');
    await sink.close();
  });

  it('rejects what a dying worker held as transient, and starts a new worker for the next COPY', async () => {
    const sink = new WorkerTelemetrySink(target(), log, { file });
    const err = await sink.copy('crash', 1).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/worker exited \(code 3\)/);
    expect(isDataError(err)).toBe(false);
    await expect(sink.copy('after', 1)).resolves.toBeUndefined();
    await sink.close();
  });

  it('fails fast without starting a worker while the database is not ready, and refuses work after close', async () => {
    const down = new WorkerTelemetrySink(target(false), log, { file });
    await expect(down.copy('x', 1)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await down.close();

    const sink = new WorkerTelemetrySink(target(), log, { file });
    await sink.copy('x', 1);
    await sink.close();
    await expect(sink.copy('y', 1)).rejects.toThrow(/closed/);
  });
});
