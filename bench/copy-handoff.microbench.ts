/**
 * What handing a batch to the COPY worker thread costs (src/storage/copy-worker.sink.ts): process CPU — both threads —
 * per hand-off, for a batch Buffer cloned by postMessage (the earlier way) and for one in a SharedArrayBuffer
 * (`shareable`, what the writer's batches are now). The worker reads the bytes and answers, as the COPY worker does.
 * Rounds alternate the order so other load on the machine hits both alike; medians are printed.
 *
 *   npm run build && node dist/bench/copy-handoff.microbench.js [--sizes 20000,200000,800000] [--n 400] [--rounds 7]
 */
import { Worker } from 'node:worker_threads';
import { shareable } from '../src/storage/copy-worker.sink';

const WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  const b = Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength);
  let s = 0;
  for (let i = 0; i < b.length; i += 64) s += b[i];
  parentPort.postMessage({ id: m.id, s });
});`;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const sizes = arg('sizes', '20000,200000,800000').split(',').map(Number);
  const n = Number(arg('n', '400'));
  const rounds = Number(arg('rounds', '7'));
  const w = new Worker(WORKER, { eval: true });
  const handoff = (chunk: Buffer, id: number): Promise<void> =>
    new Promise((resolve) => {
      w.once('message', () => resolve());
      w.postMessage({ id, chunk, rows: 1 });
    });
  const run = async (size: number, shared: boolean): Promise<number> => {
    const src = Buffer.alloc(size, 7);
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      // a fresh batch per COPY, as the writer's take() makes
      const batch = shared ? shareable(src) : Buffer.from(src);
      await handoff(batch, i);
    }
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / n;
  };
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  for (const size of sizes) {
    const cloned: number[] = [];
    const shared: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2) {
        cloned.push(await run(size, false));
        shared.push(await run(size, true));
      } else {
        shared.push(await run(size, true));
        cloned.push(await run(size, false));
      }
    }
    console.log(
      `${size} bytes per batch: process CPU per hand-off (median of ${rounds} × ${n}): ` +
        `cloned ${median(cloned).toFixed(1)} µs, shared ${median(shared).toFixed(1)} µs`,
    );
  }
  await w.terminate();
}

void main();
