import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EnvSchema } from '../src/config/env.schema';
import { placeholderSecrets } from '../src/common/domain/placeholder-secrets';

// docker compose cannot run on this machine (no Docker engine), so its file is checked structurally.
const root = join(__dirname, '..');
type Service = {
  profiles?: string[];
  image?: string;
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  command?: string[];
};
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};

describe('docker-compose.yml', () => {
  it('should define TimescaleDB, Mosquitto, the server and the simulators', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'cluster-proxy',
      'demo-tokens',
      'grafana',
      'hazwatch',
      'hazwatch-b',
      'mosquitto',
      'mqtt-init',
      'prometheus',
      'simulators',
      'timescaledb',
    ]);
    expect(compose.services.timescaledb?.image).toMatch(/^timescale\/timescaledb:/);
    expect(compose.services.mosquitto?.image).toMatch(/^eclipse-mosquitto:/);
    // Prometheus and Grafana only in the monitoring profile
    expect(compose.services.prometheus?.profiles).toEqual(['monitoring']);
    expect(compose.services.grafana?.profiles).toEqual(['monitoring']);
  });

  it('should give every long-running service a health check and start the server after its dependencies are healthy', () => {
    for (const name of ['timescaledb', 'mosquitto', 'hazwatch'])
      expect(compose.services[name]?.healthcheck?.test).toBeDefined();
    expect(compose.services.hazwatch?.depends_on).toEqual({
      timescaledb: { condition: 'service_healthy' },
      mosquitto: { condition: 'service_healthy' },
    });
  });

  it('should expose the contract ports', () => {
    expect(compose.services.hazwatch?.ports).toContain('3000:3000');
    expect(compose.services.mosquitto?.ports).toContain('1883:1883');
  });

  it('should only set environment variables the server knows, pointing at the compose services', () => {
    const env = compose.services.hazwatch?.environment ?? {};
    const known = new Set([
      ...Object.keys(new EnvSchema()),
      'MQTT_URL',
      'DATABASE_URL',
      'MQTT_PORT',
      'MQTT_USERNAME',
      'MQTT_PASSWORD',
      'EMBEDDED_PG_PORT',
    ]);
    for (const key of Object.keys(env)) expect(known).toContain(key);
    expect(env.DATABASE_URL).toMatch(/@timescaledb:5432\//);
    expect(env.MQTT_URL).toBe('mqtt://mosquitto:1883');
    expect(env.HOST).toBe('0.0.0.0');
  });

  it('should mount a Mosquitto config whose queue is bounded by bytes, not by the dropping default count of 1000', () => {
    expect(compose.services.mosquitto?.volumes).toContain(
      './docker/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro',
    );
    const conf = readFileSync(join(root, 'docker', 'mosquitto.conf'), 'utf8');
    const queued = Number(/^max_queued_messages\s+(\d+)/m.exec(conf)?.[1]);
    expect(queued).toBe(0); // no count limit: the byte limit is the one that binds
    expect(Number(/^max_queued_bytes\s+(\d+)/m.exec(conf)?.[1])).toBeGreaterThanOrEqual(256 * 1024 * 1024);
    expect(conf).toMatch(/^persistence true$/m);
  });

  it('should save the broker database on changes, not every 30 s (docs/adr/0014-idempotent-telemetry.md)', () => {
    const conf = readFileSync(join(root, 'docker', 'mosquitto.conf'), 'utf8');
    expect(conf).toMatch(/^autosave_on_changes true$/m);
    expect(Number(/^autosave_interval\s+(\d+)/m.exec(conf)?.[1])).toBeLessThanOrEqual(10_000);
  });

  it('should run Mosquitto without anonymous access, with the generated password file and ACL and a packet limit', () => {
    const conf = readFileSync(join(root, 'docker', 'mosquitto.conf'), 'utf8');
    expect(conf).toMatch(/^allow_anonymous false$/m);
    expect(conf).not.toMatch(/^allow_anonymous true/m);
    expect(conf).toMatch(/^password_file \/mosquitto\/auth\/passwd$/m);
    expect(conf).toMatch(/^acl_file \/mosquitto\/auth\/acl$/m);
    expect(Number(/^max_packet_size\s+(\d+)/m.exec(conf)?.[1])).toBeLessThanOrEqual(1024 * 1024);
    expect(compose.services.mosquitto?.volumes).toContain('mqttauth:/mosquitto/auth:ro');
    expect(compose.services.mosquitto?.depends_on).toEqual({
      'mqtt-init': { condition: 'service_completed_successfully' },
    });
    expect(compose.services['mqtt-init']?.command?.join(' ')).toContain(
      'mqtt-acl.cli.js --provision-demo --out /mosquitto-auth',
    );
  });
});

describe('docker-compose.yml secrets and demo profile', () => {
  const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
  const example = readFileSync(join(root, '.env.compose.example'), 'utf8');
  const exampleEnv = Object.fromEntries(
    example
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

  it('should take every secret from .env and refuse to start without it (${VAR:?message}), with no password in the file', () => {
    expect(compose.services.timescaledb?.environment?.POSTGRES_PASSWORD).toMatch(
      /^\$\{POSTGRES_PASSWORD:\?.+\}$/,
    );
    expect(compose.services.hazwatch?.environment?.DATABASE_URL).toMatch(
      /:\$\{POSTGRES_PASSWORD:\?[^}]+\}@timescaledb/,
    );
    // no literal credentials: every password-like value is an interpolation, required (:?) or, for a setting only the
    // cluster profile needs, empty by default (:-} = unset; never a literal default)
    for (const [name, svc] of Object.entries(compose.services))
      for (const [key, value] of Object.entries(svc.environment ?? {})) {
        if (/PASSWORD|SECRET|TOKEN|KEY/.test(key))
          expect(`${name}.${key}=${value}`).toMatch(/=\$\{[A-Z_]+:(\?|-\}$)/);
        if (key === 'DATABASE_URL') expect(value).toMatch(/:\$\{[A-Z_]+:\?[^}]+\}@/);
      }
    expect(text).not.toMatch(/POSTGRES_PASSWORD:\s*hazwatch/);
  });

  it('should commit an example env file but ignore .env itself', () => {
    expect(Object.keys(exampleEnv)).toEqual(expect.arrayContaining(['POSTGRES_USER', 'POSTGRES_PASSWORD']));
    const ignored = readFileSync(join(root, '.gitignore'), 'utf8').split('\n');
    expect(ignored).toContain('.env');
    expect(ignored).not.toContain('.env.compose.example');
  });

  it('should refuse the example placeholders at start-up, naming the variable', () => {
    const url = `postgres://hazwatch:${exampleEnv.POSTGRES_PASSWORD}@timescaledb:5432/hazwatch`;
    expect(
      placeholderSecrets({ DATABASE_URL: url, POSTGRES_PASSWORD: exampleEnv.POSTGRES_PASSWORD }),
    ).toEqual([
      { path: 'DATABASE_URL', reason: expect.stringMatching(/placeholder/) },
      { path: 'POSTGRES_PASSWORD', reason: expect.stringMatching(/placeholder/) },
    ]);
    expect(
      placeholderSecrets({
        DATABASE_URL: 'postgres://hazwatch:3f9c2e7a41d0b6e8@db:5432/hazwatch',
        MQTT_PASSWORD: 's3cr3t-value',
      }),
    ).toEqual([]);
  });

  it('should run production by default (no demo mode) and keep demo tokens and simulators in the demo profile', () => {
    expect(compose.services.hazwatch?.environment?.HAZWATCH_DEMO).toBe('false');
    expect(compose.services.hazwatch?.profiles).toBeUndefined();
    expect(compose.services.timescaledb?.profiles).toBeUndefined();
    expect(compose.services.simulators?.profiles).toEqual(['demo']);
    expect(compose.services['demo-tokens']?.profiles).toEqual(['demo']);
    expect(compose.services.timescaledb?.ports).toEqual(['127.0.0.1:5432:5432']);
  });
});

describe('docker-compose.yml cluster profile (docs/adr/0016-cluster.md)', () => {
  const a = compose.services.hazwatch!;
  const b = compose.services['hazwatch-b']!;
  const proxy = compose.services['cluster-proxy']!;

  it('should add a second node and the load balancer only in the cluster profile', () => {
    expect(b.profiles).toEqual(['cluster']);
    expect(proxy.profiles).toEqual(['cluster']);
    expect(a.profiles).toBeUndefined();
    expect(proxy.image).toMatch(/^haproxy:/);
    expect(proxy.ports).toEqual(['8080:8080']);
  });

  it('should point both nodes at the same database and broker, with distinct node ids and one client-id secret', () => {
    expect(b.environment?.DATABASE_URL).toBe(a.environment?.DATABASE_URL);
    expect(b.environment?.MQTT_URL).toBe(a.environment?.MQTT_URL);
    expect(a.environment?.HAZWATCH_NODE_ID).toBe('${HAZWATCH_NODE_ID:-}');
    expect(b.environment?.HAZWATCH_NODE_ID).toBe('b');
    expect(b.environment?.MQTT_CLIENT_ID_SECRET).toBe(a.environment?.MQTT_CLIENT_ID_SECRET);
    const known = new Set(Object.keys(new EnvSchema()));
    for (const key of Object.keys(b.environment ?? {}))
      expect([...known, 'MQTT_URL', 'DATABASE_URL']).toContain(key);
  });

  it('should give node b a DATA_DIR of its own (its own spool) and start it after node a is healthy', () => {
    expect(b.volumes).toContain('hazwatchdata-b:/data');
    expect(b.volumes).toContain('hazwatchdata:/shared:ro');
    expect(b.depends_on?.hazwatch).toEqual({ condition: 'service_healthy' });
    expect(b.healthcheck?.test).toBeDefined();
  });

  it('should balance over both nodes by their readiness, passing WebSocket upgrades with a long tunnel timeout', () => {
    expect(proxy.volumes).toContain('./docker/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
    const cfg = readFileSync(join(root, 'docker', 'haproxy', 'haproxy.cfg'), 'utf8');
    expect(cfg).toMatch(/^\s*mode http$/m);
    expect(cfg).toMatch(/^\s*option httpchk GET \/health\/ready$/m);
    expect(cfg).toMatch(/^\s*server a hazwatch:3000 check$/m);
    expect(cfg).toMatch(/^\s*server b hazwatch-b:3000 check$/m);
    expect(Number(/^\s*timeout tunnel (\d+)h$/m.exec(cfg)?.[1])).toBeGreaterThanOrEqual(1);
  });
});
