import 'reflect-metadata';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import {
  ValidateIf,
  ValidatorConstraint,
  Validate,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { parseTrustProxy, TrustProxyError } from '../common/domain/trust-proxy';
import { parseAddressRanges } from '../common/domain/address-ranges';
import { parseTileUrl } from '../common/domain/tile-url';

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
const toNum = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }): unknown =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;

@ValidatorConstraint({ name: 'webhookAllow' })
class WebhookAllowConstraint implements ValidatorConstraintInterface {
  private problem = '';
  validate(value: unknown): boolean {
    try {
      parseAddressRanges(typeof value === 'string' ? value : String(value));
      return true;
    } catch (err) {
      this.problem = err instanceof Error ? err.message : String(err);
      return false;
    }
  }
  defaultMessage(): string {
    return `${this.problem} (expected addresses/CIDRs such as 10.20.0.0/16,192.168.5.7)`;
  }
}

@ValidatorConstraint({ name: 'tileUrl' })
class TileUrlConstraint implements ValidatorConstraintInterface {
  private problem = '';
  validate(value: unknown): boolean {
    try {
      parseTileUrl(typeof value === 'string' ? value : String(value));
      return true;
    } catch (err) {
      this.problem = err instanceof Error ? err.message : String(err);
      return false;
    }
  }
  defaultMessage(): string {
    return `${this.problem} (expected an http(s) URL template such as https://tiles.example.cn/{z}/{x}/{y}.png)`;
  }
}

@ValidatorConstraint({ name: 'trustProxy' })
class TrustProxyConstraint implements ValidatorConstraintInterface {
  private problem = '';
  validate(value: unknown): boolean {
    try {
      parseTrustProxy(typeof value === 'string' ? value : String(value));
      return true;
    } catch (err) {
      this.problem = err instanceof TrustProxyError ? err.message : String(err);
      return false;
    }
  }
  defaultMessage(): string {
    return `${this.problem} (expected a hop count such as 1, or proxy addresses/CIDRs such as 127.0.0.1,10.0.0.0/8)`;
  }
}

/**
 * Every environment variable hazwatch reads (docs/contract.md §1). The config module is the only reader of
 * process.env; a bad value stops start-up with the variable's name.
 */
export class EnvSchema {
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(65535) PORT: number = 3000;
  @IsOptional() @IsString() HOST: string = '127.0.0.1';

  @IsOptional()
  @Matches(/^(mqtts?|tcp|ssl|wss?):\/\/.+/, { message: 'must be a URL like mqtt://host:1883' })
  MQTT_URL?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(65535) MQTT_PORT?: number;
  /**
   * Unset (recommended): `hazwatch-server-<HMAC of a secret>`, unguessable (docs/adr/0009-mqtt-authentication.md). Set: used
   * as is, so anyone who learns it can take the server's session on a broker that does not bind ids to credentials.
   */
  @IsOptional() @Matches(/^[A-Za-z0-9_-]{1,64}$/) MQTT_CLIENT_ID?: string;
  @IsOptional() @IsString() MQTT_USERNAME?: string;
  @IsOptional() @IsString() MQTT_PASSWORD?: string;
  /** MQTT keep-alive (s): the server sends PINGREQ at least this often; the broker drops it after 1.5× without a packet. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(65535) MQTT_KEEPALIVE_S: number = 30;
  /** QoS 1 messages held (unacknowledged) in the writer's open batch before it is sealed and committed early. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000000) MQTT_MAX_UNACKED: number = 5000;
  /** Secret the server's client id is derived from; unset → generated once into DATA_DIR/mqtt/client-id.secret. */
  @IsOptional()
  @Matches(/^.{16,}$/, { message: 'must have at least 16 characters' })
  MQTT_CLIENT_ID_SECRET?: string;
  /** Largest MQTT packet the embedded broker accepts (bytes); a larger one closes the sender's connection. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(268435455) MQTT_MAX_PACKET_BYTES: number = 262144;

  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'must be a URL like postgres://user@host:5432/db' })
  DATABASE_URL?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(65535) EMBEDDED_PG_PORT?: number;

  @IsOptional() @IsString() DATA_DIR: string = './data';
  @IsOptional() @IsString() CONFIG_DIR: string = './config';
  @IsOptional() @Transform(toBool) @IsBoolean() SIMULATE: boolean = false;
  /** Set by `npm start`: demo mode creates first tokens and prints them once. */
  @IsOptional() @Transform(toBool) @IsBoolean() HAZWATCH_DEMO: boolean = false;
  @IsOptional() @IsIn(['debug', 'info', 'warn', 'error']) LOG_LEVEL: 'debug' | 'info' | 'warn' | 'error' =
    'info';
  /**
   * A graceful stop (SIGTERM/SIGINT) that has not finished by then (a hung database, a broker that never answers) ends
   * with exit code 1 and a loud log line. Safe by design: unacknowledged MQTT messages are redelivered and alarm events
   * are in the write-ahead log (docs/adr/0008-ack-after-commit.md, docs/adr/0011-journal-before-announce.md).
   */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(3600) SHUTDOWN_TIMEOUT_S: number = 15;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(86400) INGEST_MAX_SKEW_S: number = 300;
  /** A `ts` further ahead of arrival than this is stored and evaluated at arrival time; the device raises clock_fault. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(3600) INGEST_FUTURE_TOLERANCE_S: number = 5;
  /** A device whose every message lags arrival by more than this for INGEST_CLOCK_WINDOW_S has a clock behind (clock_fault). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(86400) INGEST_CLOCK_BEHIND_S: number = 120;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(86400) INGEST_CLOCK_WINDOW_S: number = 120;
  /** MQTT bytes read per event-loop turn before the socket yields to the other sockets (the writer's COPY). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(16777216) INGEST_TURN_BYTES: number = 65536;
  /** Readings per COPY batch. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(100000) WRITER_BATCH_SIZE: number = 10000;
  /** Longest a reading waits in memory before its batch is flushed. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(10000) WRITER_FLUSH_MS: number = 100;
  /** Readings held in memory before the writer spools to DATA_DIR and pauses MQTT intake. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1000) @Max(10000000) WRITER_QUEUE_MAX: number = 500000;
  /** Bytes of telemetry the writer may spool to DATA_DIR/spool while the database is down or slow (default 2 GiB). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1048576) SPOOL_MAX_BYTES: number = 2 * 1024 * 1024 * 1024;
  /** At least 30: monitoring data of major hazard sources must be kept ≥ 30 days (docs/plant-model.md). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(30, {
    message:
      'must be at least 30 days: monitoring data of major hazard sources must be kept for at least 30 days (State Administration of Work Safety order No. 40)',
  })
  @Max(3650)
  TELEMETRY_RETENTION_DAYS: number = 90;
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(10000000) DEADLETTER_MAX_ROWS: number = 100000;
  /** Longest an ordinary query (alarm journal, APIs, dead letters) may wait for an answer before it fails (not COPY). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(600000) DB_QUERY_TIMEOUT_MS: number = 5000;
  /** Longest opening a new database connection may take. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(120000) DB_CONNECT_TIMEOUT_MS: number = 3000;
  /** Period of the database liveness probe (SELECT 1) that feeds /health/ready and the console banner. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(60000) DB_PROBE_INTERVAL_MS: number = 2000;
  /** A probe without an answer within this time marks the database as hung. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(60000) DB_PROBE_TIMEOUT_MS: number = 2000;
  /** TimescaleDB use (docs/adr/0017-timescale-path.md): auto (where usable, else plain path + one warning), require, off. */
  @IsOptional() @IsIn(['auto', 'require', 'off']) TIMESCALE: 'auto' | 'require' | 'off' = 'auto';
  /** TimescaleDB chunk interval of telemetry, hours (new chunks only). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(168) TIMESCALE_CHUNK_HOURS: number = 24;
  /** TimescaleDB: chunks older than this many hours are compressed (and get the series order of compression). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(8760) TIMESCALE_COMPRESS_AFTER_HOURS: number = 168;
  /** Retention of the 1-minute rollup telemetry_1m, days (TimescaleDB; on plain PostgreSQL it is a view over telemetry). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(30) @Max(36500) TELEMETRY_1M_RETENTION_DAYS: number = 730;

  /** Simulator settings used when SIMULATE=true. */
  @IsOptional() @Transform(toNum) @IsNumber() @Min(0.01) @Max(1000) SIM_RATE: number = 1;
  @IsOptional() @Transform(toInt) @IsInt() SIM_SEED: number = 42;

  /** Reverse proxies allowed to name the client in X-Forwarded-For: hop count or addresses/CIDRs (docs/threat-model.md). */
  @IsOptional() @IsString() @Validate(TrustProxyConstraint) TRUST_PROXY: string = 'false';
  /** Journal anchor signing key (PKCS#8 PEM, Ed25519); unset → DATA_DIR/journal-anchor.key, created mode 0600. */
  @IsOptional() @IsString() JOURNAL_ANCHOR_KEY: string = '';
  /** How often the journal chain head is signed and published (docs/adr/0015-journal-anchors.md). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(86400) JOURNAL_ANCHOR_INTERVAL_S: number = 300;

  /** Cluster mode (docs/adr/0016-cluster.md): this node's id, distinct per node; unset → single node, no cluster tables used. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be 1–64 characters of A-Z a-z 0-9 _ -' })
  HAZWATCH_NODE_ID?: string;
  /** Cluster mode: lifetime of a site or job lease in the database; renewed every quarter, failover after at most ttl + a quarter. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(2000) @Max(120000) HAZWATCH_LEASE_TTL_MS: number = 10000;
  /**
   * Internal ranges an admin allows as webhook receivers (comma-separated CIDRs/addresses); by default loopback,
   * link-local, private and other non-public addresses are refused (docs/regulator-workflows.md).
   */
  @IsOptional() @IsString() @Validate(WebhookAllowConstraint) HAZWATCH_WEBHOOK_ALLOW: string = '';
  /**
   * Optional map tiles under the console's one-map ({z}/{x}/{y} template, Web Mercator); unset → the bundled district
   * outlines alone. Only this origin is added to the console's CSP; tiles that fail to load leave the outlines.
   */
  @IsOptional() @IsString() @Validate(TileUrlConstraint) CONSOLE_TILE_URL: string = '';
  /** Attribution shown under the map when CONSOLE_TILE_URL is set (the tile provider's terms usually require one). */
  @IsOptional()
  @IsString()
  @Matches(/^[^<>]{0,200}$/, { message: 'at most 200 characters, no < or >' })
  CONSOLE_TILE_ATTRIBUTION: string = '';
  /**
   * Demo drill (演练, docs/adr/0024-demo-drill.md; only with HAZWATCH_DEMO and SIMULATE): the simulated plant plays a
   * chlorine leak then an overfill, first this many seconds after start (0: no drill), then every
   * DEMO_DRILL_EVERY_S (0: once; else at least 300, longer than the drill).
   */
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(86400) DEMO_DRILL_FIRST_S: number = 180;
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @ValidateIf((o: { DEMO_DRILL_EVERY_S?: unknown }) => o.DEMO_DRILL_EVERY_S !== 0)
  @Min(300)
  @Max(604800)
  DEMO_DRILL_EVERY_S: number = 1800;
}

export const SECRET_ENV: ReadonlyArray<keyof EnvSchema> = [
  'MQTT_PASSWORD',
  'DATABASE_URL',
  'JOURNAL_ANCHOR_KEY',
  'MQTT_CLIENT_ID_SECRET',
];
