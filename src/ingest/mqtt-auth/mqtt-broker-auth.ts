import { mayPublish, maySubscribe, type MqttPrincipal, type SparkplugNodeSites } from './domain/mqtt-acl';
import { VerifiedCredentials } from './credential-cache';
import { verifyScrypt } from './password-hash';
import type { MqttUser, MqttUserStore } from './mqtt-user.store';

/** Why the embedded broker refused something (label of `hazwatch_ingest_mqtt_denied_total{reason}`). */
export type MqttDenyReason =
  'anonymous' | 'bad_credentials' | 'client_id_reserved' | 'publish_denied' | 'subscribe_denied';
export const MQTT_DENY_REASONS: readonly MqttDenyReason[] = [
  'anonymous',
  'bad_credentials',
  'client_id_reserved',
  'publish_denied',
  'subscribe_denied',
];

export type MqttAuthResult =
  | { ok: true; principal: MqttPrincipal }
  | { ok: false; reason: Extract<MqttDenyReason, 'anonymous' | 'bad_credentials' | 'client_id_reserved'> };

/** How often (at most) the publish path looks at the store's modification time. */
const RELOAD_CHECK_MS = 1000;

/**
 * Authentication and authorisation for the embedded broker, from the MQTT user store. The store is re-read when its
 * file changes (`npm run mqtt-user` while the server runs): a removed user cannot connect again and its open
 * connections are refused their next publish; rights are looked up by username on every publish, not captured at
 * connect.
 */
export class MqttBrokerAuth {
  private users = new Map<string, MqttUser>();
  private loadedVersion = -1;
  private lastCheck = 0;
  private readonly verified: VerifiedCredentials;

  constructor(
    private readonly store: MqttUserStore,
    /** Client ids only server credentials may use (the server's own; see MqttSecurity). */
    private readonly reservedClientIds: () => ReadonlySet<string>,
    private readonly now: () => number = Date.now,
    /** Sparkplug B edge nodes → site (docs/sparkplug.md); empty when sparkplug.yaml is absent. */
    private readonly sparkplugNodes: SparkplugNodeSites = new Map(),
  ) {
    this.verified = new VerifiedCredentials(now);
    this.reload(true);
  }

  /** Re-reads the store when its file changed. A store that became invalid keeps the last good users (and says so). */
  reload(force = false): void {
    const v = this.store.version();
    if (!force && v === this.loadedVersion) return;
    this.users = new Map(this.store.list().map((u) => [u.username, u]));
    this.loadedVersion = v;
  }

  async authenticate(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<MqttAuthResult> {
    this.reload();
    if (username === undefined || username === '' || password === undefined)
      return { ok: false, reason: 'anonymous' };
    const user = this.users.get(username);
    // Hash even for an unknown user, so the answer time does not tell which usernames exist.
    const pw = password.toString('utf8');
    const stored = user?.scrypt ?? DUMMY_HASH;
    const ok = await this.verified.check(username, pw, stored, () => verifyScrypt(pw, stored));
    if (!user || !ok) return { ok: false, reason: 'bad_credentials' };
    if (user.role !== 'server' && this.reservedClientIds().has(clientId))
      return { ok: false, reason: 'client_id_reserved' };
    return { ok: true, principal: user };
  }

  /** The current rights of a connected user (undefined once removed from the store). Cheap: the publish path calls it. */
  principal(username: string): MqttPrincipal | undefined {
    const t = this.now();
    if (t - this.lastCheck >= RELOAD_CHECK_MS) {
      this.lastCheck = t;
      try {
        this.reload();
      } catch {
        // keep the last good users; authenticate() reports the broken file to the connecting client's log line
      }
    }
    return this.users.get(username);
  }

  mayPublish(username: string, topic: string): boolean {
    const p = this.principal(username);
    return p !== undefined && mayPublish(p, topic, this.sparkplugNodes);
  }

  maySubscribe(username: string, filter: string): boolean {
    const p = this.principal(username);
    return p !== undefined && maySubscribe(p, filter, this.sparkplugNodes);
  }
}

/** A valid scrypt hash of a random, discarded password (never verifies). */
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$0Jp3K0m7kGx3F1vL5b4l8o2c2g6mW8e1R3s5t7u9v0Y=';
