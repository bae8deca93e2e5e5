/** Sparkplug B topic namespace (specification §4.1): `spBv1.0/{group}/{type}/{edge node}[/{device}]`, `spBv1.0/STATE/{host}`. */

export const SP_NAMESPACE = 'spBv1.0';

export type SparkplugMessageType =
  'NBIRTH' | 'NDEATH' | 'NDATA' | 'DBIRTH' | 'DDEATH' | 'DDATA' | 'NCMD' | 'DCMD';

const NODE_TYPES: ReadonlySet<string> = new Set(['NBIRTH', 'NDEATH', 'NDATA', 'NCMD']);
const DEVICE_TYPES: ReadonlySet<string> = new Set(['DBIRTH', 'DDEATH', 'DDATA', 'DCMD']);

export type SparkplugTopic =
  | { readonly kind: 'state'; readonly hostId: string }
  | {
      readonly kind: 'node';
      readonly type: SparkplugMessageType;
      readonly group: string;
      readonly node: string;
      readonly device: '';
    }
  | {
      readonly kind: 'device';
      readonly type: SparkplugMessageType;
      readonly group: string;
      readonly node: string;
      readonly device: string;
    };

/** Subscriptions of the host (hazwatch never subscribes to commands: its own NCMDs would come back). */
export const SPARKPLUG_SUBSCRIPTIONS = [
  `${SP_NAMESPACE}/+/NBIRTH/+`,
  `${SP_NAMESPACE}/+/NDEATH/+`,
  `${SP_NAMESPACE}/+/NDATA/+`,
  `${SP_NAMESPACE}/+/DBIRTH/+/+`,
  `${SP_NAMESPACE}/+/DDEATH/+/+`,
  `${SP_NAMESPACE}/+/DDATA/+/+`,
  `${SP_NAMESPACE}/STATE/+`,
] as const;

export const isSparkplugTopic = (topic: string): boolean => topic.startsWith(`${SP_NAMESPACE}/`);

/** Null for anything that is not a well-formed Sparkplug B topic. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== SP_NAMESPACE) return null;
  if (parts.length === 3 && parts[1] === 'STATE')
    return parts[2] ? { kind: 'state', hostId: parts[2] } : null;
  if (parts.some((p) => p.length === 0)) return null;
  const [, group, type, node, device] = parts as [string, string, string, string, string | undefined];
  if (parts.length === 4 && NODE_TYPES.has(type))
    return { kind: 'node', type: type as SparkplugMessageType, group, node, device: '' };
  if (parts.length === 5 && DEVICE_TYPES.has(type))
    return { kind: 'device', type: type as SparkplugMessageType, group, node, device: device! };
  return null;
}

/** Where a host application announces itself (Sparkplug 3.0: retained JSON `{online, timestamp}`). */
export const hostStateTopic = (hostId: string): string => `${SP_NAMESPACE}/STATE/${hostId}`;
export const ncmdTopic = (group: string, node: string): string => `${SP_NAMESPACE}/${group}/NCMD/${node}`;
export const spTopic = (group: string, type: SparkplugMessageType, node: string, device?: string): string =>
  `${SP_NAMESPACE}/${group}/${type}/${node}${device ? `/${device}` : ''}`;

/** The metric an edge node obeys to publish its births again (specification §6.4.6 / §10). */
export const REBIRTH_METRIC = 'Node Control/Rebirth';
export const BDSEQ_METRIC = 'bdSeq';
