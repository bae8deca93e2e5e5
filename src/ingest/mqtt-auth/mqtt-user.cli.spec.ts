import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePlantConfigDir } from '../../../test/factories/plant.factory';
import { runMqttAclCli } from './mqtt-acl.cli';
import { runMqttUserCli, type CliIo } from './mqtt-user.cli';
import { verifyMosquitto, verifyScrypt } from './password-hash';
import { mqttAuthPaths, MqttUserStore } from './mqtt-user.store';

function io(stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s), readStdin: async () => stdin };
  return { cli, out, err, text: () => out.join(''), errText: () => err.join('') };
}

describe('npm run mqtt-user / mqtt-acl', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hzw-mqtt-user-'));
  const env = { DATA_DIR: dataDir, CONFIG_DIR: makePlantConfigDir('s1') };
  const store = new MqttUserStore(mqttAuthPaths(dataDir).users);

  it('should add a site user, print a generated password once and store only salted hashes (mode 0600)', async () => {
    const t = io();
    expect(await runMqttUserCli(['add', 'gw-s1', '--site', 's1'], env, t.cli)).toBe(0);
    const password = /password \(shown once.*\): (\S+)/.exec(t.text())?.[1];
    expect(password).toHaveLength(32);
    const file = readFileSync(store.path, 'utf8');
    expect(file).not.toContain(password);
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    const user = store.get('gw-s1')!;
    expect(user).toMatchObject({ role: 'site', sites: ['s1'] });
    expect(await verifyScrypt(password!, user.scrypt)).toBe(true);
    expect(await verifyScrypt('wrong', user.scrypt)).toBe(false);
    expect(await verifyMosquitto(password!, user.mosquitto)).toBe(true);
  });

  it('should take the password from stdin, refuse duplicates and unknown sites, list and remove', async () => {
    const add = io('a-password-from-stdin\n');
    expect(
      await runMqttUserCli(['add', 'server-2', '--role', 'server', '--password-stdin'], env, add.cli),
    ).toBe(0);
    expect(add.text()).not.toContain('a-password-from-stdin');
    expect(await verifyScrypt('a-password-from-stdin', store.get('server-2')!.scrypt)).toBe(true);

    const dup = io();
    expect(await runMqttUserCli(['add', 'gw-s1', '--site', 's1'], env, dup.cli)).toBe(64);
    expect(dup.errText()).toContain("user 'gw-s1' exists");
    const unknown = io();
    expect(await runMqttUserCli(['add', 'gw-x', '--site', 'nowhere'], env, unknown.cli)).toBe(64);
    expect(unknown.errText()).toContain('unknown site(s) nowhere');
    const noSite = io();
    expect(await runMqttUserCli(['add', 'gw-y'], env, noSite.cli)).toBe(64);

    const list = io();
    expect(await runMqttUserCli(['list', '--json'], env, list.cli)).toBe(0);
    expect((JSON.parse(list.text()) as Array<{ username: string }>).map((u) => u.username).sort()).toEqual([
      'gw-s1',
      'server-2',
    ]);
    expect(list.text()).not.toMatch(/scrypt|\$7\$/);

    expect(await runMqttUserCli(['remove', 'server-2'], env, io().cli)).toBe(0);
    expect(await runMqttUserCli(['remove', 'server-2'], env, io().cli)).toBe(65);
    expect(store.list().map((u) => u.username)).toEqual(['gw-s1']);
  });

  it('should write a Mosquitto password file ($7$ PBKDF2-SHA512) and ACL from the same store', async () => {
    const out = join(dataDir, 'mosq');
    const t = io();
    expect(await runMqttAclCli(['--out', out], env, t.cli)).toBe(0);
    const passwd = readFileSync(join(out, 'passwd'), 'utf8');
    expect(passwd).toMatch(/^gw-s1:\$7\$10000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\n$/);
    expect(statSync(join(out, 'passwd')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(out, 'acl'), 'utf8')).toContain(
      'user gw-s1\ntopic readwrite hazwatch/v1/s1/#\n',
    );
  });

  it('should name the file, path and reason of a broken store', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'hzw-mqtt-bad-'));
    const s = new MqttUserStore(mqttAuthPaths(bad).users);
    await s.add({ username: 'ok-user', role: 'site', sites: ['s1'], password: 'long-enough-password' });
    const text = readFileSync(s.path, 'utf8').replace('"role": "site"', '"role": "admin"');
    writeFileSync(s.path, text);
    const t = io();
    expect(await runMqttUserCli(['list'], { DATA_DIR: bad }, t.cli)).toBe(78);
    expect(t.errText()).toContain(`Invalid configuration in ${s.path}`);
    expect(t.errText()).toContain('users[0].role: must be one of server, site');
  });
});
