/**
 * The COPY worker thread (see copy-worker.sink.ts): its own event loop and its own connections, so a COPY's round
 * trips and socket drains never wait behind MQTT intake on the main thread. Receives `{ id, chunk }`, answers
 * `{ id, ok }` (with `outcome` when the write met already-stored readings, docs/adr/0014-idempotent-telemetry.md) or `{ id, ok: false, error }` after the COPY committed or failed. Holds no state of its own: a batch
 * is the main thread's until it hears `ok`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'pg';
import { PgTelemetrySink, type CopyOutcome } from './telemetry.sink';

export type CopyRequest = { readonly id: number; readonly chunk: Uint8Array | string; readonly rows: number };
export type CopyReply =
  | { readonly id: number; readonly ok: true; readonly outcome?: CopyOutcome }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { message: string; name: string; code?: string };
    };
export type CopyWorkerData = { readonly url: string; readonly timeoutMs: number; readonly poolMax: number };

function serialise(err: unknown): { message: string; name: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { message: err.message, name: err.name, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { message: String(err), name: 'Error' };
}

if (parentPort) {
  const port = parentPort;
  const data = workerData as CopyWorkerData;
  const pool = new Pool({
    connectionString: data.url,
    max: data.poolMax,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'hazwatch-copy',
  });
  // An idle client losing its connection is discarded by the pool; the next COPY reconnects or fails (and is retried).
  pool.on('error', () => undefined);
  const sink = new PgTelemetrySink({ acquire: () => pool.connect() }, data.timeoutMs);
  port.on('message', (msg: CopyRequest | 'close') => {
    if (msg === 'close') {
      void pool.end().finally(() => port.close());
      return;
    }
    const chunk =
      typeof msg.chunk === 'string'
        ? msg.chunk
        : Buffer.from(msg.chunk.buffer, msg.chunk.byteOffset, msg.chunk.byteLength);
    sink.write(chunk, msg.rows).then(
      (outcome) =>
        port.postMessage(
          (outcome ? { id: msg.id, ok: true, outcome } : { id: msg.id, ok: true }) satisfies CopyReply,
        ),
      (err: unknown) =>
        port.postMessage({ id: msg.id, ok: false, error: serialise(err) } satisfies CopyReply),
    );
  });
}
