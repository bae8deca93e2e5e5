import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EnvSchema } from '../src/config/env.schema';

// docker compose cannot run on this machine (no Docker engine), so its file is checked structurally.
const root = join(__dirname, '..');
type Service = { image?: string; build?: unknown; ports?: string[]; environment?: Record<string, string>; healthcheck?: { test: unknown }; depends_on?: Record<string, { condition: string }>; volumes?: string[]; command?: string[] };
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };

describe('docker-compose.yml', () => {
  it('should define TimescaleDB, Mosquitto, the server and the simulators', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['hazwatch', 'mosquitto', 'simulators', 'timescaledb']);
    expect(compose.services.timescaledb?.image).toMatch(/^timescale\/timescaledb:/);
    expect(compose.services.mosquitto?.image).toMatch(/^eclipse-mosquitto:/);
  });

  it('should give every long-running service a health check and start the server after its dependencies are healthy', () => {
    for (const name of ['timescaledb', 'mosquitto', 'hazwatch']) expect(compose.services[name]?.healthcheck?.test).toBeDefined();
    expect(compose.services.hazwatch?.depends_on).toEqual({ timescaledb: { condition: 'service_healthy' }, mosquitto: { condition: 'service_healthy' } });
  });

  it('should expose the contract ports', () => {
    expect(compose.services.hazwatch?.ports).toContain('3000:3000');
    expect(compose.services.mosquitto?.ports).toContain('1883:1883');
  });

  it('should only set environment variables the server knows, pointing at the compose services', () => {
    const env = compose.services.hazwatch?.environment ?? {};
    const known = new Set([...Object.keys(new EnvSchema()), 'MQTT_URL', 'DATABASE_URL', 'MQTT_PORT', 'MQTT_USERNAME', 'MQTT_PASSWORD', 'EMBEDDED_PG_PORT']);
    for (const key of Object.keys(env)) expect(known).toContain(key);
    expect(env.DATABASE_URL).toMatch(/@timescaledb:5432\//);
    expect(env.MQTT_URL).toBe('mqtt://mosquitto:1883');
    expect(env.HOST).toBe('0.0.0.0');
  });

  it('should mount a Mosquitto config whose queue is bounded by bytes, not by the dropping default count of 1000', () => {
    expect(compose.services.mosquitto?.volumes).toContain('./docker/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro');
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
});
