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
    expect(Object.keys(compose.services).sort()).toEqual(['hazwatch', 'mosquitto', 'mqtt-init', 'simulators', 'timescaledb']);
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

  it('should mount a Mosquitto config that raises max_queued_messages above the dropping default of 1000', () => {
    expect(compose.services.mosquitto?.volumes).toContain('./docker/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro');
    const conf = readFileSync(join(root, 'docker', 'mosquitto.conf'), 'utf8');
    const queued = Number(/^max_queued_messages\s+(\d+)/m.exec(conf)?.[1]);
    expect(queued).toBeGreaterThan(1000);
    expect(conf).toMatch(/^persistence true$/m);
  });

  it('should run Mosquitto without anonymous access, with the generated password file and ACL and a packet limit', () => {
    const conf = readFileSync(join(root, 'docker', 'mosquitto.conf'), 'utf8');
    expect(conf).toMatch(/^allow_anonymous false$/m);
    expect(conf).not.toMatch(/^allow_anonymous true/m);
    expect(conf).toMatch(/^password_file \/mosquitto\/auth\/passwd$/m);
    expect(conf).toMatch(/^acl_file \/mosquitto\/auth\/acl$/m);
    expect(Number(/^max_packet_size\s+(\d+)/m.exec(conf)?.[1])).toBeLessThanOrEqual(1024 * 1024);
    expect(compose.services.mosquitto?.volumes).toContain('mqttauth:/mosquitto/auth:ro');
    expect(compose.services.mosquitto?.depends_on).toEqual({ 'mqtt-init': { condition: 'service_completed_successfully' } });
    expect(compose.services['mqtt-init']?.command?.join(' ')).toContain('mqtt-acl.cli.js --provision-demo --out /mosquitto-auth');
  });
});
