/**
 * Shut-off valve supervision (DOMAIN §4) from its `position` (open | closed | moving | fault) and `demand` (open | closed):
 * - discrepancy: position ≠ demand for longer than the travel time (critical when demand is closed, else high);
 * - stuck: `moving` for longer than the travel time (high);
 * - uncommanded: the position leaves the demanded state with no demand change within the grace time (high);
 * - valve_fault: position `fault` (high);
 * - trip: demand went from open to closed and the valve is closed (high; latched by the alarm module), cleared when
 *   demand returns to open.
 * hazwatch never commands the plant: this only watches.
 */
import type { Priority, Reading } from '../../common/types';
import { ConditionSlot, NO_SEED, type Emit, type SeedLookup } from './condition';
import type { RuleMachine } from './rule-machine';
import type { ValveRule } from './rule-spec';

export function createValveMachine(rule: ValveRule, seed: SeedLookup = NO_SEED): RuleMachine<Reading> {
  const id = { ruleId: rule.ruleId, siteId: rule.siteId, sourceId: rule.sourceId, deviceId: rule.deviceId };
  const discrepancy = new ConditionSlot({ ...id, condition: 'discrepancy' }, 'high', seed);
  const stuck = new ConditionSlot({ ...id, condition: 'stuck' }, 'high', seed);
  const uncommanded = new ConditionSlot({ ...id, condition: 'uncommanded' }, 'high', seed);
  const fault = new ConditionSlot({ ...id, condition: 'valve_fault' }, 'high', seed);
  const trip = new ConditionSlot({ ...id, condition: 'trip' }, 'high', seed);
  const v = rule.deviceId;
  const travelS = rule.travelMs / 1000;

  let lastTs = -Infinity;
  let position: string | null = null;
  let demand: string | null = null;
  let demandChangedAt = -Infinity;
  let mismatchSince = NaN;
  let movingSince = NaN;
  let uncommandedSince = NaN;
  let tripArmed = trip.active;

  const evaluate = (ts: number, emit: Emit): void => {
    if (!Number.isNaN(mismatchSince) && ts - mismatchSince >= rule.travelMs && demand !== null) {
      const pr: Priority = demand === 'closed' ? 'critical' : 'high';
      discrepancy.set(
        true,
        pr,
        position,
        demand,
        // Event time is the deadline, not the input that found it passed: any change before it would have reset
        // `mismatchSince`, so the condition held from the deadline on (same as `stuck`).
        mismatchSince + rule.travelMs,
        `${v} position ${position ?? '?'} disagrees with demand ${demand} for more than the travel time ${travelS} s`,
        emit,
      );
    }
    if (!Number.isNaN(movingSince) && ts - movingSince >= rule.travelMs) {
      stuck.set(
        true,
        'high',
        position,
        travelS,
        movingSince + rule.travelMs,
        `${v} moving for more than the travel time ${travelS} s (stuck)`,
        emit,
      );
    }
    if (!Number.isNaN(uncommandedSince) && ts - uncommandedSince >= rule.graceMs) {
      uncommanded.set(
        true,
        'high',
        position,
        demand,
        uncommandedSince,
        `${v} position changed to ${position ?? '?'} without demand (demand ${demand ?? '?'})`,
        emit,
      );
      uncommandedSince = NaN;
    }
  };

  return {
    input(r, ts, emit) {
      if (typeof r.value !== 'string' || ts < lastTs) return;
      lastTs = ts;
      if (r.channel === 'demand') {
        if (r.value === demand) return evaluate(ts, emit);
        const prev = demand;
        demand = r.value;
        demandChangedAt = ts;
        uncommandedSince = NaN;
        // A new demand gets its own travel time.
        mismatchSince = NaN;
        if (discrepancy.active)
          discrepancy.set(
            false,
            discrepancy.priority,
            position,
            demand,
            ts,
            `${v} demand changed to ${demand}`,
            emit,
          );
        if (prev === 'open' && demand === 'closed') tripArmed = true;
        if (demand === 'open') {
          tripArmed = false;
          trip.set(false, 'high', position, 'closed', ts, `${v} demand open again (trip reset)`, emit);
        }
      } else if (r.channel === 'position') {
        if (r.value === position) return evaluate(ts, emit);
        const prev = position;
        position = r.value;
        if (prev !== null && prev === demand && position !== demand && ts - demandChangedAt > rule.graceMs)
          uncommandedSince = ts;
        const isFault = position === 'fault';
        if (isFault !== fault.active)
          fault.set(
            isFault,
            'high',
            position,
            null,
            ts,
            isFault ? `${v} reports fault` : `${v} fault cleared (${position})`,
            emit,
          );
        if (position === 'moving') {
          if (Number.isNaN(movingSince)) movingSince = ts;
        } else {
          movingSince = NaN;
          if (stuck.active)
            stuck.set(false, 'high', position, travelS, ts, `${v} stopped moving (${position})`, emit);
        }
      } else {
        return;
      }
      const mismatch = position !== null && demand !== null && position !== demand;
      if (mismatch) {
        if (Number.isNaN(mismatchSince)) mismatchSince = ts;
      } else {
        mismatchSince = NaN;
        uncommandedSince = NaN;
        if (discrepancy.active)
          discrepancy.set(
            false,
            discrepancy.priority,
            position,
            demand,
            ts,
            `${v} position agrees with demand (${demand ?? '?'})`,
            emit,
          );
        if (uncommanded.active)
          uncommanded.set(
            false,
            'high',
            position,
            demand,
            ts,
            `${v} position back to demand (${demand ?? '?'})`,
            emit,
          );
      }
      if (tripArmed && demand === 'closed' && position === 'closed' && !trip.active)
        trip.set(true, 'high', position, 'closed', ts, `${v} tripped closed on demand`, emit);
      evaluate(ts, emit);
    },
    advance(ts, emit) {
      evaluate(ts, emit);
    },
    nextDue() {
      let due = Infinity;
      if (!Number.isNaN(mismatchSince) && !discrepancy.active)
        due = Math.min(due, mismatchSince + rule.travelMs);
      if (!Number.isNaN(movingSince) && !stuck.active) due = Math.min(due, movingSince + rule.travelMs);
      if (!Number.isNaN(uncommandedSince)) due = Math.min(due, uncommandedSince + rule.graceMs);
      return due;
    },
  };
}
