import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { JsonLogger } from '../common/logger';
import type { CopyReply, CopyRequest, CopyWorkerData } from './copy.worker';
import { DatabaseUnavailableError } from './database.service';
import {
  PgTelemetrySink,
  type ClientSource,
  type CopyOutcomeListener,
  type TelemetrySink,
} from './telemetry.sink';

/** What the sink needs of the Database: readiness (fail fast while it is not migrated) and where to connect. */
export type CopyTarget = ClientSource & {
  readonly ready: boolean;
  lastErrorMessage(): string | undefined;
  readonly url: string;
};

/** The compiled worker next to this module (dist/); absent when running from TypeScript sources (jest). */
export const COPY_WORKER_FILE = join(__dirname, 'copy.worker.js');

/** A database error rebuilt from the worker's reply, with its SQLSTATE so the writer can tell data errors apart. */
export class CopyWorkerError extends Error {
  constructor(
    message: string,
    name: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = name;
  }
}

type Pending = { resolve: () => void; reject: (err: Error) => void };

/**
 * Telemetry COPY in a worker thread. On the main thread MQTT intake keeps the event loop busy in long turns under load,
 * and a COPY needs several turns (CopyInResponse, socket drains of a 700 KB batch, CommandComplete): measured at 30k
 * msg/s, each 10k-row COPY took 1–2.5 s and the writer fell behind although PostgreSQL was mostly idle (ClientRead).
 * In the worker a COPY costs PostgreSQL's time plus one main-thread turn to hear the reply.
 *
 * Same contract as PgTelemetrySink: resolves once committed, rejects with an error carrying the SQLSTATE `code`.
 * A dead worker rejects what it held (the writer retries or spools: nothing is lost) and is restarted on the next COPY.
 */
export class WorkerTelemetrySink implements TelemetrySink {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly target: CopyTarget,
    private readonly log: JsonLogger,
    private readonly opts: {
      timeoutMs?: number;
      poolMax?: number;
      file?: string;
      onOutcome?: CopyOutcomeListener;
    } = {},
  ) {}

  async copy(chunk: string | Buffer, rows: number): Promise<void> {
    if (!this.target.ready) throw new DatabaseUnavailableError(this.target.lastErrorMessage() ?? 'not ready');
    if (this.closed) throw new Error('telemetry COPY worker is closed');
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    // Shared, never transferred: the caller keeps its chunk to isolate bad rows, retry or spool it when this COPY fails
    // (a transferred Buffer would be detached here, empty, and those rows lost). A chunk in a SharedArrayBuffer (what
    // the writer's batch buffers take() is) crosses as a reference; any other is copied into one first. Nobody writes
    // to a chunk after it is taken, so both threads read the same bytes.
    const msg: CopyRequest = { id, chunk: typeof chunk === 'string' ? chunk : shareable(chunk), rows };
    const done = new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    worker.postMessage(msg);
    return done;
  }

  /** Ends the worker's connections and the thread (after the writer's final flush). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const w = this.worker;
    if (!w) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage('close');
    const timer = setTimeout(() => void w.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private start(): Worker {
    const data: CopyWorkerData = {
      url: this.target.url,
      timeoutMs: this.opts.timeoutMs ?? 30_000,
      poolMax: this.opts.poolMax ?? 2,
    };
    const w = new Worker(this.opts.file ?? COPY_WORKER_FILE, { workerData: data });
    this.worker = w;
    w.on('message', (reply: CopyReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) {
        if (reply.outcome) this.opts.onOutcome?.(reply.outcome);
        p.resolve();
      } else p.reject(new CopyWorkerError(reply.error.message, reply.error.name, reply.error.code));
    });
    w.on('error', (err) => this.log.error('telemetry COPY worker failed', { err }));
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      if (this.pending.size === 0) return;
      if (!this.closed)
        this.log.error('telemetry COPY worker exited with batches in flight; they will be retried', {
          code,
          batches: this.pending.size,
        });
      const err = new Error(`telemetry COPY worker exited (code ${code})`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    return w;
  }
}

/**
 * The chunk in shared memory, so postMessage passes a reference instead of serialising the bytes (and the worker
 * allocating and copying them again): measured with `node dist/bench/copy-handoff.microbench.js`.
 */
export function shareable(chunk: Buffer): Buffer {
  if (chunk.buffer instanceof SharedArrayBuffer) return chunk;
  const shared = Buffer.from(new SharedArrayBuffer(chunk.length));
  chunk.copy(shared);
  return shared;
}

/** The worker sink when the compiled worker exists (built server), else COPY on the main thread (TypeScript sources). */
export function createTelemetrySink(
  target: CopyTarget,
  log: JsonLogger,
  onOutcome?: CopyOutcomeListener,
): TelemetrySink {
  if (existsSync(COPY_WORKER_FILE))
    return new WorkerTelemetrySink(target, log, onOutcome ? { onOutcome } : {});
  log.info('compiled COPY worker not found: telemetry COPY runs on the main thread', {
    file: COPY_WORKER_FILE,
  });
  return new PgTelemetrySink(target, undefined, onOutcome);
}
