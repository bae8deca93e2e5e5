import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from './poll-until';
import { freePort } from './server-process';

const ROOT = join(__dirname, '..', '..');
export const REPO_MOSQUITTO_CONF = join(ROOT, 'docker', 'mosquitto.conf');

/** The mosquitto binary, or undefined when it is not installed (suites then skip). */
export function mosquittoBinary(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v mosquitto || ls /usr/sbin/mosquitto'], { encoding: 'utf8' });
  const path = r.stdout.trim().split('\n')[0];
  return r.status === 0 && path ? path : undefined;
}

/**
 * The repository's docker/mosquitto.conf for a private broker: its own listener on 127.0.0.1, anonymous, persistence in
 * `dir`, logging to stderr; authentication lines (password/ACL files, TLS) are left out; `overrides` replace or add
 * settings by name (e.g. `{ max_queued_messages: '50', sys_interval: '1' }`).
 */
export function privateMosquittoConf(
  port: number,
  dir: string,
  overrides: Record<string, string> = {},
): string {
  const drop =
    /^(listener|allow_anonymous|password_file|acl_file|persistence_location|log_dest|log_type|certfile|keyfile|cafile|require_certificate|per_listener_settings)\b/;
  const lines = readFileSync(REPO_MOSQUITTO_CONF, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !drop.test(l))
    .filter((l) => !(l.split(/\s+/)[0]! in overrides));
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `persistence_location ${dir}/`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    ...lines,
    ...Object.entries(overrides).map(([k, v]) => `${k} ${v}`),
    '',
  ].join('\n');
}

export type PrivateMosquitto = {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly conf: string;
  /** stderr so far (warnings, notices: "Outgoing messages are being dropped"). */
  log(): string;
  /** SIGKILL: no chance to save its database. */
  kill9(): Promise<void>;
  /** Starts it again on the same port from the same persistence directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
};

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

/** A Mosquitto of the test's own (never the system one), on a free port, killed by `stop`. */
export async function startPrivateMosquitto(
  overrides: Record<string, string> = {},
): Promise<PrivateMosquitto> {
  const bin = mosquittoBinary();
  if (!bin) throw new Error('mosquitto is not installed');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-mosquitto-'));
  chmodSync(dir, 0o777); // mosquitto started as root drops to its own user, which must write the persistence file
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, privateMosquittoConf(port, dir, overrides));
  let child: ChildProcess | undefined;
  let stderr = '';
  let exited: Promise<void> = Promise.resolve();
  const launch = async (): Promise<void> => {
    const c = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    c.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-20_000)));
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    await pollUntil(() => portOpen(port), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: `private mosquitto on port ${port}`,
    });
  };
  const killWith = async (sig: NodeJS.Signals): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exited;
  };
  await launch();
  const onExit = (): void => void child?.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dir,
    conf,
    log: () => stderr,
    kill9: () => killWith('SIGKILL'),
    restart: launch,
    stop: async () => {
      await killWith('SIGKILL');
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
