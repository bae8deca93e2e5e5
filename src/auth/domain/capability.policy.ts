import type { Principal, Role } from '../principal';

/**
 * What a principal may do. Controllers and services ask `can(principal, 'alarm.ack')` instead of listing roles, so
 * the role model lives in this one table (docs/contract.md §6). Scope (which sites) is checked separately by ScopeService.
 */
export type Capability =
  /** Read sites, hazard sources, devices, telemetry, alarms, journal, KPIs, call-outs, feeds — within scope. */
  | 'plant.read'
  | 'alarm.ack'
  | 'alarm.shelve'
  | 'alarm.unshelve'
  | 'alarm.out-of-service'
  | 'alarm.reset'
  /** File a disposal record for an alarm (the enterprise side of the closed loop, docs/domain.md §7). */
  | 'alarm.disposition'
  /** Accept or return a disposal record (the regulator side). */
  | 'disposition.review'
  /** Create and manage webhook subscriptions for one's own jurisdiction. */
  | 'feed.subscribe'
  /** Dead letters (raw device payloads, may name unknown sites). */
  | 'ingest.rejects.read'
  /** Create, list and revoke API tokens. */
  | 'token.manage'
  /** Start a duty check (值班值守抽查) of an enterprise in one's jurisdiction now (docs/regulator-workflows.md). */
  | 'duty-check.run'
  /** Report an operator-off-post event (video analytics) for an enterprise in scope; it starts a duty check. */
  | 'duty-event.report'
  /** File the enterprise's feedback after a missed duty check. */
  | 'duty-feedback.file';

export const CAPABILITIES: readonly Capability[] = [
  'plant.read',
  'alarm.ack',
  'alarm.shelve',
  'alarm.unshelve',
  'alarm.out-of-service',
  'alarm.reset',
  'alarm.disposition',
  'disposition.review',
  'feed.subscribe',
  'ingest.rejects.read',
  'token.manage',
  'duty-check.run',
  'duty-event.report',
  'duty-feedback.file',
];

const OPERATOR: readonly Capability[] = [
  'plant.read',
  'alarm.ack',
  'alarm.shelve',
  'alarm.disposition',
  'duty-feedback.file',
];
const SUPERVISOR: readonly Capability[] = [
  ...OPERATOR,
  'alarm.unshelve',
  'alarm.out-of-service',
  'alarm.reset',
  'ingest.rejects.read',
  'duty-check.run',
];
/**
 * Read-only toward alarm state; its only writes are reviews of disposal records, its own feed subscriptions and duty
 * checks of enterprises in its jurisdiction.
 */
const REGULATOR: readonly Capability[] = [
  'plant.read',
  'disposition.review',
  'feed.subscribe',
  'duty-check.run',
];

export const ROLE_CAPABILITIES: Readonly<Record<Role, ReadonlySet<Capability>>> = Object.freeze({
  operator: new Set(OPERATOR),
  supervisor: new Set(SUPERVISOR),
  regulator: new Set(REGULATOR),
  admin: new Set(CAPABILITIES),
  // least privilege: no read access at all, only its own events (scoped to its enterprises by the token's scope)
  video: new Set<Capability>(['duty-event.report']),
});

export function can(principal: Pick<Principal, 'role'>, capability: Capability): boolean {
  return ROLE_CAPABILITIES[principal.role].has(capability);
}

/** Roles that hold a capability (for OpenAPI descriptions and error messages). */
export function rolesWith(capability: Capability): Role[] {
  return (Object.keys(ROLE_CAPABILITIES) as Role[]).filter((r) => ROLE_CAPABILITIES[r].has(capability));
}
