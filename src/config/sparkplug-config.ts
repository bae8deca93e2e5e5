/**
 * The Sparkplug B mapping (docs/sparkplug.md): which edge node / device of which group is which hazwatch site and
 * device, and which metric name is which channel. Read from `CONFIG_DIR/sparkplug.yaml` (optional: absent, hazwatch
 * does not subscribe to Sparkplug topics). Every problem stops start-up with file, path and reason.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../common/errors';
import { readYamlFile, type DeviceInfo, type PlantModel, type Problem } from './config.loader';
import type { ChannelSpec } from './device-channels';

export const SPARKPLUG_FILE = 'sparkplug.yaml';
/** Default least time between two rebirth requests to one edge node. */
export const DEFAULT_REBIRTH_INTERVAL_S = 10;
/** Default Sparkplug host id under which hazwatch publishes its STATE (docs/sparkplug.md "Primary host STATE"). */
export const DEFAULT_HOST_ID = 'hazwatch';

/** A Sparkplug id (group, edge node, device): a single topic level (specification §4.1.1: no `/`, `+`, `#`). */
const SP_ID_RE = /^[^/+#\s]{1,128}$/;

/** One mapped metric of one Sparkplug device (or of the edge node itself). */
export type MappedMetric = { readonly channel: string; readonly spec: ChannelSpec };

export type SparkplugDeviceMap = {
  /** Sparkplug device id, or '' for the edge node's own metrics (NBIRTH/NDATA). */
  readonly spDevice: string;
  readonly siteId: string;
  readonly deviceId: string;
  /** `${siteId}/${deviceId}` (the key of the plant model and the device registry). */
  readonly key: string;
  readonly device: DeviceInfo;
  /** Metric name → channel. */
  readonly metrics: ReadonlyMap<string, MappedMetric>;
};

export type SparkplugNodeMap = {
  readonly group: string;
  readonly node: string;
  readonly siteId: string;
  /** By Sparkplug device id ('' = the node's own metrics). */
  readonly devices: ReadonlyMap<string, SparkplugDeviceMap>;
};

export type SparkplugConfig = {
  readonly file: string;
  readonly rebirthIntervalMs: number;
  /** hazwatch's Sparkplug host id: it publishes `spBv1.0/STATE/{hostId}`; undefined when `publishState: false`. */
  readonly hostId: string | undefined;
  /** By `${group}/${node}`. */
  readonly nodes: ReadonlyMap<string, SparkplugNodeMap>;
};

export const nodeKey = (group: string, node: string): string => `${group}/${node}`;

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Validates a parsed `sparkplug.yaml` against the plant model. Throws ConfigError listing every problem. */
export function parseSparkplugConfig(
  raw: unknown,
  plant: Pick<PlantModel, 'siteById' | 'deviceByKey'>,
  file: string,
): SparkplugConfig {
  const problems: Problem[] = [];
  const nodes = new Map<string, SparkplugNodeMap>();
  let rebirthIntervalMs = DEFAULT_REBIRTH_INTERVAL_S * 1000;
  if (!isObj(raw))
    throw new ConfigError(file, [{ path: '(root)', reason: 'must be a mapping with `nodes`' }]);
  for (const k of Object.keys(raw))
    if (!TOP_KEYS.includes(k))
      problems.push({ path: k, reason: `unknown key (allowed: ${TOP_KEYS.join(', ')})` });
  const hostId = parseHostState(raw, problems);
  if (raw.rebirthIntervalS !== undefined) {
    const v = raw.rebirthIntervalS;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > 3600)
      problems.push({ path: 'rebirthIntervalS', reason: 'must be a number of seconds in [1, 3600]' });
    else rebirthIntervalMs = v * 1000;
  }
  if (!Array.isArray(raw.nodes) || raw.nodes.length === 0)
    problems.push({ path: 'nodes', reason: 'must be a non-empty list of edge nodes' });
  const mappedDevices = new Map<string, string>();
  (Array.isArray(raw.nodes) ? raw.nodes : []).forEach((n: unknown, i: number) => {
    const np = `nodes[${i}]`;
    if (!isObj(n))
      return problems.push({ path: np, reason: 'must be a mapping with group, node, site, devices' });
    for (const k of Object.keys(n))
      if (!['group', 'node', 'site', 'devices'].includes(k))
        problems.push({ path: `${np}.${k}`, reason: 'unknown key (allowed: group, node, site, devices)' });
    let ok = true;
    for (const k of ['group', 'node'] as const)
      if (typeof n[k] !== 'string' || !SP_ID_RE.test(n[k])) {
        problems.push({
          path: `${np}.${k}`,
          reason: 'must be a Sparkplug id: 1–128 characters, no "/", "+", "#" or blanks',
        });
        ok = false;
      }
    const siteId = n.site;
    if (typeof siteId !== 'string' || !plant.siteById.has(siteId)) {
      problems.push({
        path: `${np}.site`,
        reason: `must name a site of plant.yaml, got ${JSON.stringify(siteId)}`,
      });
      ok = false;
    }
    if (ok && n.group === 'STATE') {
      problems.push({
        path: `${np}.group`,
        reason: '"STATE" is reserved for host application state (specification §4.1.1)',
      });
      ok = false;
    }
    const key = ok ? nodeKey(n.group as string, n.node as string) : '';
    if (ok && nodes.has(key)) {
      problems.push({ path: `${np}`, reason: `edge node ${key} is mapped twice` });
      ok = false;
    }
    const devices = new Map<string, SparkplugDeviceMap>();
    if (!Array.isArray(n.devices) || n.devices.length === 0)
      problems.push({ path: `${np}.devices`, reason: 'must be a non-empty list' });
    (Array.isArray(n.devices) ? n.devices : []).forEach((d: unknown, j: number) => {
      const dp = `${np}.devices[${j}]`;
      if (!isObj(d))
        return problems.push({ path: dp, reason: 'must be a mapping with device (optional), as, metrics' });
      for (const k of Object.keys(d))
        if (!['device', 'as', 'metrics'].includes(k))
          problems.push({ path: `${dp}.${k}`, reason: 'unknown key (allowed: device, as, metrics)' });
      const spDevice = d.device === undefined ? '' : d.device;
      if (typeof spDevice !== 'string' || (spDevice !== '' && !SP_ID_RE.test(spDevice)))
        return problems.push({
          path: `${dp}.device`,
          reason:
            'must be a Sparkplug id: 1–128 characters, no "/", "+", "#" or blanks (omit it for the edge node\'s own metrics)',
        });
      if (devices.has(spDevice))
        return problems.push({
          path: `${dp}.device`,
          reason:
            spDevice === ''
              ? "the edge node's own metrics are mapped twice"
              : `Sparkplug device ${spDevice} is mapped twice`,
        });
      if (typeof d.as !== 'string')
        return problems.push({ path: `${dp}.as`, reason: 'must name the hazwatch device' });
      if (typeof siteId !== 'string') return;
      const hk = `${siteId}/${d.as}`;
      const device = plant.deviceByKey.get(hk);
      if (!device)
        return problems.push({
          path: `${dp}.as`,
          reason: `no device '${d.as}' in site '${siteId}' of plant.yaml`,
        });
      const other = mappedDevices.get(hk);
      if (other)
        return problems.push({ path: `${dp}.as`, reason: `device ${hk} is already mapped at ${other}` });
      mappedDevices.set(hk, dp);
      const metrics = new Map<string, MappedMetric>();
      if (!isObj(d.metrics) || Object.keys(d.metrics).length === 0)
        return problems.push({
          path: `${dp}.metrics`,
          reason: 'must map at least one metric name to a channel',
        });
      const channelsUsed = new Set<string>();
      for (const [metric, channel] of Object.entries(d.metrics)) {
        const mp = `${dp}.metrics.${metric}`;
        if (metric.length === 0 || metric.length > 256)
          problems.push({ path: mp, reason: 'metric name must be 1–256 characters' });
        else if (typeof channel !== 'string' || !device.channels.has(channel))
          problems.push({
            path: mp,
            reason: `must be a channel of ${device.kind} ${d.as} (${[...device.channels.keys()].join(', ')}), got ${JSON.stringify(channel)}`,
          });
        else if (channelsUsed.has(channel))
          problems.push({ path: mp, reason: `channel ${channel} is already mapped from another metric` });
        else {
          channelsUsed.add(channel);
          metrics.set(metric, { channel, spec: device.channels.get(channel)! });
        }
      }
      devices.set(spDevice, { spDevice, siteId, deviceId: d.as, key: hk, device, metrics });
    });
    if (ok)
      nodes.set(key, { group: n.group as string, node: n.node as string, siteId: siteId as string, devices });
  });
  if (problems.length) throw new ConfigError(file, problems);
  return { file, rebirthIntervalMs, hostId, nodes };
}

const TOP_KEYS = ['nodes', 'rebirthIntervalS', 'hostId', 'publishState'];

/** `hostId` (default "hazwatch") and `publishState` (default true): the host id whose STATE hazwatch publishes. */
function parseHostState(raw: Record<string, unknown>, problems: Problem[]): string | undefined {
  const hostId = raw.hostId ?? DEFAULT_HOST_ID;
  if (typeof hostId !== 'string' || !SP_ID_RE.test(hostId))
    problems.push({
      path: 'hostId',
      reason: 'must be a Sparkplug host id: 1–128 characters, no "/", "+", "#" or blanks',
    });
  const publish = raw.publishState ?? true;
  if (typeof publish !== 'boolean') problems.push({ path: 'publishState', reason: 'must be true or false' });
  return publish === false || typeof hostId !== 'string' ? undefined : hostId;
}

/** Loads `CONFIG_DIR/sparkplug.yaml` when present (else undefined: Sparkplug ingest off). */
export function loadSparkplugConfig(
  configDir: string,
  plant: Pick<PlantModel, 'siteById' | 'deviceByKey'>,
): SparkplugConfig | undefined {
  const file = resolve(join(configDir, SPARKPLUG_FILE));
  if (!existsSync(file)) return undefined;
  return parseSparkplugConfig(readYamlFile(file), plant, file);
}

/** Edge node → site, for the MQTT ACL (a site's credentials may act as its edge nodes). */
export function sparkplugNodeSites(c: SparkplugConfig | undefined): ReadonlyMap<string, string> {
  return new Map([...(c?.nodes.values() ?? [])].map((n) => [nodeKey(n.group, n.node), n.siteId]));
}
