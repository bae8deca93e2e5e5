/**
 * Who may do what on the MQTT broker (docs/adr/0009-mqtt-authentication.md). Pure: the embedded broker and the
 * Mosquitto ACL renderer both use these rules, so the two brokers enforce the same contract.
 */
import { ID_RE, TOPIC_ROOT } from '../../domain/telemetry-contract';
import { SP_NAMESPACE } from '../../sparkplug/domain/sparkplug-topic';

/** `server`: hazwatch itself (reads every site, owns `hazwatch/server/…`). `site`: a site's devices or its gateway. */
export type MqttRole = 'server' | 'site';

export const MQTT_ROLES: readonly MqttRole[] = ['server', 'site'];

/** The part of a user the ACL needs. */
export type MqttPrincipal = {
  readonly username: string;
  readonly role: MqttRole;
  readonly sites: readonly string[];
};

/** Where the server announces its own availability (retained, with a last will). Only server credentials publish here. */
export const SERVER_TOPIC_ROOT = 'hazwatch/server';

/** Usernames are written into Mosquitto's password file (`user:hash`) and ACL (`user name`): no ':' and no blanks. */
export const MQTT_USERNAME_RE = /^[A-Za-z0-9_.@-]{1,128}$/;

const hasWildcard = (s: string): boolean => s.includes('+') || s.includes('#');

/**
 * Sparkplug B edge nodes by `${group}/${node}` → the site they belong to (from sparkplug.yaml, docs/sparkplug.md): a
 * site's credentials may act as its edge nodes. Empty: no Sparkplug rights for anyone but the server.
 */
export type SparkplugNodeSites = ReadonlyMap<string, string>;
const NO_NODES: SparkplugNodeSites = new Map();

/** What an edge node publishes (and its last will, NDEATH). */
const SP_NODE_PUBLISH = new Set(['NBIRTH', 'NDEATH', 'NDATA']);
const SP_DEVICE_PUBLISH = new Set(['DBIRTH', 'DDEATH', 'DDATA']);

const SP_SERVER_NCMD_RE = /^spBv1\.0\/[^/]+\/NCMD\/[^/]+$/;
/** Host application STATE (docs/sparkplug.md "Primary host STATE"); never a site's: edge nodes only read it. */
const SP_SERVER_STATE_RE = /^spBv1\.0\/STATE\/[^/]+$/;

/** The site of a Sparkplug topic's edge node when `parts` are `spBv1.0/{group}/{type}/{node}[/…]` of a mapped node. */
function siteOfSparkplug(parts: readonly string[], nodes: SparkplugNodeSites): string | undefined {
  if (parts.length < 4 || parts[0] !== SP_NAMESPACE) return undefined;
  const group = parts[1]!;
  const node = parts[3]!;
  if (hasWildcard(group) || hasWildcard(node)) return undefined;
  return nodes.get(`${group}/${node}`);
}

/** A site may publish its edge nodes' births, deaths and data (never commands). */
function sitePublishesSparkplug(p: MqttPrincipal, topic: string, nodes: SparkplugNodeSites): boolean {
  const parts = topic.split('/');
  const type = parts[2] ?? '';
  const shapeOk =
    (parts.length === 4 && SP_NODE_PUBLISH.has(type)) ||
    (parts.length === 5 && SP_DEVICE_PUBLISH.has(type) && parts[4] !== '');
  const site = shapeOk ? siteOfSparkplug(parts, nodes) : undefined;
  return site !== undefined && p.sites.includes(site);
}

/** A site may subscribe to the commands of its edge nodes and to host application STATE. */
function siteSubscribesSparkplug(p: MqttPrincipal, filter: string, nodes: SparkplugNodeSites): boolean {
  const parts = filter.split('/');
  if (parts.length === 3 && parts[0] === SP_NAMESPACE && parts[1] === 'STATE')
    return !parts[2]!.includes('#');
  const type = parts[2];
  const shapeOk =
    (parts.length === 4 && type === 'NCMD') || (parts.length === 5 && type === 'DCMD' && parts[4] !== '#');
  const site = shapeOk ? siteOfSparkplug(parts, nodes) : undefined;
  return site !== undefined && p.sites.includes(site);
}

/** The site id of a device topic `hazwatch/v1/{site}/…` (at least one level below the site), else null. */
function siteOfTopic(topic: string): string | null {
  const parts = topic.split('/');
  if (parts.length < 4 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return null;
  const site = parts[2]!;
  return ID_RE.test(site) ? site : null;
}

/**
 * May this principal publish to `topic` (also checked for a client's last will)? A site publishes only below its own
 * `hazwatch/v1/{site}/`; the server only below `hazwatch/server/`.
 */
export function mayPublish(p: MqttPrincipal, topic: string, nodes: SparkplugNodeSites = NO_NODES): boolean {
  if (topic.length === 0 || hasWildcard(topic) || topic.includes('\u0000')) return false;
  const sparkplug = topic.startsWith(`${SP_NAMESPACE}/`);
  // The server (a Sparkplug host application) sends rebirth requests, NCMD to any edge node, and its own STATE.
  if (p.role === 'server')
    return (
      topic.startsWith(`${SERVER_TOPIC_ROOT}/`) ||
      (sparkplug && (SP_SERVER_NCMD_RE.test(topic) || SP_SERVER_STATE_RE.test(topic)))
    );
  if (sparkplug) return sitePublishesSparkplug(p, topic, nodes);
  const site = siteOfTopic(topic);
  return site !== null && p.sites.includes(site);
}

/**
 * May this principal subscribe to `filter`? The server: any filter under `hazwatch/` (every site, its own status).
 * A site: only filters inside its own subtree `hazwatch/v1/{site}/…` (the site segment literal, never a wildcard);
 * devices need nothing else. `#`, `+/…`, `$SYS/…` and other sites are refused.
 */
export function maySubscribe(
  p: MqttPrincipal,
  filter: string,
  nodes: SparkplugNodeSites = NO_NODES,
): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  if (p.role === 'server') return filter.startsWith('hazwatch/') || filter.startsWith(`${SP_NAMESPACE}/`);
  if (filter.startsWith(`${SP_NAMESPACE}/`)) return siteSubscribesSparkplug(p, filter, nodes);
  const site = siteOfTopic(filter);
  return site !== null && p.sites.includes(site);
}

/** Mosquitto ACL file text for these principals (`acl_file`); the same rules as mayPublish/maySubscribe. */
export function renderMosquittoAcl(
  users: readonly MqttPrincipal[],
  nodes: SparkplugNodeSites = NO_NODES,
): string {
  const lines = [
    '# Generated by `npm run mqtt-acl` from the hazwatch MQTT user store. Do not edit: re-run the command.',
    '# No rule for anonymous clients (and allow_anonymous false): they may do nothing.',
    '',
  ];
  for (const u of [...users].sort((a, b) => a.username.localeCompare(b.username))) {
    lines.push(`user ${u.username}`);
    if (u.role === 'server') {
      lines.push(`topic read ${TOPIC_ROOT}/#`, `topic readwrite ${SERVER_TOPIC_ROOT}/#`);
      if (nodes.size > 0)
        lines.push(
          `topic read ${SP_NAMESPACE}/#`,
          `topic write ${SP_NAMESPACE}/+/NCMD/+`,
          `topic write ${SP_NAMESPACE}/STATE/+`,
        );
    } else {
      for (const site of u.sites) lines.push(`topic readwrite ${TOPIC_ROOT}/${site}/#`);
      for (const [key, site] of [...nodes].sort(([a], [b]) => a.localeCompare(b))) {
        if (!u.sites.includes(site)) continue;
        const [group, node] = key.split('/') as [string, string];
        for (const t of SP_NODE_PUBLISH) lines.push(`topic write ${SP_NAMESPACE}/${group}/${t}/${node}`);
        for (const t of SP_DEVICE_PUBLISH) lines.push(`topic write ${SP_NAMESPACE}/${group}/${t}/${node}/+`);
        lines.push(
          `topic read ${SP_NAMESPACE}/${group}/NCMD/${node}`,
          `topic read ${SP_NAMESPACE}/${group}/DCMD/${node}/+`,
        );
      }
      if ([...nodes.values()].some((site) => u.sites.includes(site)))
        lines.push(`topic read ${SP_NAMESPACE}/STATE/+`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
