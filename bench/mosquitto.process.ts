/**
 * A private Mosquitto for the bench (`--mosquitto`): the repo's docker/mosquitto.conf settings (raised queue and
 * in-flight limits) on a free local port, no persistence, killed at the end.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './server.process';

export type MosquittoHandle = {
  url: string;
  pid: number;
  settings: string[];
  /** Lines "Outgoing messages are being dropped" the broker logged so far (it logs one per episode, not per message). */
  dropWarnings(): number;
  stop(): Promise<void>;
};

/** The docker config minus what must differ here (listener, persistence, logging). */
export function benchMosquittoConfig(dockerConf: string, port: number): { text: string; settings: string[] } {
  // Authentication is dropped too: the bench's private broker listens on 127.0.0.1 only and its publishers are anonymous.
  const drop =
    /^(listener|persistence|persistence_location|autosave_interval|log_dest|log_type|persistent_client_expiration|allow_anonymous|password_file|acl_file|certfile|keyfile|cafile|require_certificate)\b/;
  const settings = dockerConf
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !drop.test(l));
  const text = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    ...settings,
    '',
  ].join('\n');
  return { text, settings };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** `stock`: Mosquitto's defaults (no settings of ours; max_inflight_messages 20, max_queued_messages 1000). */
export async function startMosquitto(
  binary: string,
  dockerConfPath: string,
  workDir: string,
  conf: 'repo' | 'stock' = 'repo',
): Promise<MosquittoHandle> {
  const port = await freePort();
  const { text, settings } = benchMosquittoConfig(
    conf === 'stock' ? 'allow_anonymous true\n' : readFileSync(dockerConfPath, 'utf8'),
    port,
  );
  const confFile = join(workDir, 'mosquitto.conf');
  writeFileSync(confFile, text);
  const child = spawn(binary, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  // BENCH_MOSQUITTO_LOG=<file> keeps the broker's warnings and errors (e.g. "Outgoing messages are being dropped").
  const logFile = process.env.BENCH_MOSQUITTO_LOG
    ? createWriteStream(process.env.BENCH_MOSQUITTO_LOG)
    : undefined;
  let drops = 0;
  child.stderr.on('data', (c: Buffer) => {
    const s = c.toString();
    drops += s.split('Outgoing messages are being dropped').length - 1;
    stderr = (stderr + s).slice(-4000);
    logFile?.write(c);
  });
  const state: { exited: string | null } = { exited: null };
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, sig) => ((state.exited = String(code ?? sig)), resolve())),
  );
  child.once('error', (err) => (state.exited = err.message));
  process.on('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 10_000;
  while (!(await portOpen(port))) {
    if (state.exited !== null)
      throw new Error(`mosquitto (${binary}) exited (${state.exited}) at start: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid!,
    settings,
    dropWarnings: () => drops,
    stop: async () => {
      if (state.exited !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exit, new Promise((r) => setTimeout(r, 5000))]);
      if (state.exited === null) child.kill('SIGKILL');
    },
  };
}
