import { can, type Capability } from '../../auth/domain/capability.policy';
import type { Principal } from '../../auth/principal';
import type { Clock } from '../../common/clock';
import { AlarmForbiddenError, AlarmQueryError } from '../alarm.errors';
import { toSnapshot, type AlarmCommand } from '../domain/alarm-state.machine';
import type { Actor, AlarmEventDto, AlarmSnapshot } from '../domain/alarm.types';
import { toEventDto } from '../domain/journal-chain';
import type { AlarmJournalWriter } from './alarm-journal.writer';
import type { AlarmAccess } from './alarm-queries';
import type { AlarmRegistry } from './alarm-registry';

const ACTION_CAPABILITY = {
  ack: 'alarm.ack',
  shelve: 'alarm.shelve',
  unshelve: 'alarm.unshelve',
  oos_set: 'alarm.out-of-service',
  oos_clear: 'alarm.out-of-service',
  reset: 'alarm.reset',
} as const satisfies Record<string, Capability>;

export type AlarmCommandsDeps = {
  readonly registry: AlarmRegistry;
  readonly writer: AlarmJournalWriter;
  readonly access: AlarmAccess;
  readonly clock: Clock;
  /** How long an operator action waits for its journal row to commit before answering anyway (it stays queued). */
  readonly actionCommitWaitMs: number;
  /**
   * Cluster node: checks an action's event after the wait (committed or not) and throws when the journal did not take
   * it, so an operator is never told that an acknowledgement the journal does not hold succeeded. Absent on a single
   * node, where the event is durable in the write-ahead log and stays queued.
   */
  readonly confirm?: (alarmId: string, seq: number, written: boolean) => void;
};

/**
 * Operator commands (ack, shelve, out of service, reset, …) and journal notes: each checks readiness, jurisdiction
 * and capability, goes through the journal writer, and answers once its row is committed (or after
 * `actionCommitWaitMs`, when it stays queued like any event while the database is down).
 */
export class AlarmCommands {
  constructor(private readonly deps: AlarmCommandsDeps) {}

  ack(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.act(
      id,
      principal,
      ACTION_CAPABILITY.ack,
      (at, actor) => ({ kind: 'ack', at, actor, ...(comment ? { comment } : {}) }),
      comment ?? null,
    );
  }

  shelve(id: string, principal: Principal, minutes: number, reason: string): Promise<AlarmSnapshot> {
    return this.act(
      id,
      principal,
      ACTION_CAPABILITY.shelve,
      (at, actor) => ({ kind: 'shelve', at, actor, minutes, reason }),
      `${reason} (${minutes} min)`,
    );
  }

  unshelve(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.act(
      id,
      principal,
      ACTION_CAPABILITY.unshelve,
      (at, actor) => ({ kind: 'unshelve', at, actor, ...(comment ? { comment } : {}) }),
      comment ?? null,
    );
  }

  setOutOfService(id: string, principal: Principal, reason: string): Promise<AlarmSnapshot> {
    return this.act(
      id,
      principal,
      ACTION_CAPABILITY.oos_set,
      (at, actor) => ({ kind: 'oos_set', at, actor, reason }),
      reason,
    );
  }

  returnToService(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.act(
      id,
      principal,
      ACTION_CAPABILITY.oos_clear,
      (at, actor) => ({ kind: 'oos_clear', at, actor, ...(comment ? { comment } : {}) }),
      comment ?? null,
    );
  }

  reset(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.act(
      id,
      principal,
      ACTION_CAPABILITY.reset,
      (at, actor) => ({ kind: 'reset', at, actor, ...(comment ? { comment } : {}) }),
      comment ?? null,
    );
  }

  /**
   * Journals a record about an alarm that changes none of its state (event `note`, same seq, hash chain and events$ as
   * every alarm event): used by other modules for the disposal closed loop. The caller names the capability that
   * allows the record; the alarm must lie in the principal's jurisdiction.
   */
  async note(id: string, principal: Principal, capability: Capability, text: string): Promise<AlarmEventDto> {
    const alarm = this.authorize(id, principal, capability);
    if (text.trim() === '') throw new AlarmQueryError('a note needs text');
    const { alarm: next, entry } = this.deps.writer.commit(
      alarm,
      'note',
      alarm.state,
      actorOf(principal),
      text,
    );
    const written = await this.deps.writer.whenWritten(next.seq, this.deps.actionCommitWaitMs);
    this.deps.confirm?.(id, next.seq, written);
    return toEventDto(entry);
  }

  private async act(
    id: string,
    principal: Principal,
    capability: Capability,
    build: (at: number, actor: Actor) => AlarmCommand,
    comment: string | null,
  ): Promise<AlarmSnapshot> {
    const alarm = this.authorize(id, principal, capability);
    const actor = actorOf(principal);
    const r = this.deps.writer.apply(alarm, build(this.deps.clock.now(), actor), actor, comment);
    if (!r.ok) throw r.error;
    const written = await this.deps.writer.whenWritten(r.alarm.seq, this.deps.actionCommitWaitMs);
    this.deps.confirm?.(id, r.alarm.seq, written);
    return toSnapshot(this.deps.registry.get(id) ?? r.alarm);
  }

  private authorize(id: string, principal: Principal, capability: Capability) {
    this.deps.access.requireReady();
    const alarm = this.deps.access.requireVisible(id, principal);
    if (!can(principal, capability)) throw new AlarmForbiddenError(principal.role, capability);
    return alarm;
  }
}

const actorOf = (principal: Principal): Actor => ({
  name: principal.name,
  role: principal.role,
  tokenId: principal.tokenId,
});
