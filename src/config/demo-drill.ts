import { DRILL_PHASES, type DrillSchedule } from '../common/domain/drill-schedule';
import type { EnvSchema } from './env.schema';

/** The server process's start on the wall clock: the anchor of the demo drill schedule (simulators and console). */
const PROCESS_START_MS = Math.round(Date.now() - process.uptime() * 1000);

/**
 * The demo drill schedule (docs/adr/0024-demo-drill.md), or null: only the demo with its simulated plant drills
 * (HAZWATCH_DEMO and SIMULATE), and DEMO_DRILL_FIRST_S=0 turns it off.
 */
export function demoDrillSchedule(
  env: Pick<EnvSchema, 'HAZWATCH_DEMO' | 'SIMULATE' | 'DEMO_DRILL_FIRST_S' | 'DEMO_DRILL_EVERY_S'>,
  anchorMs = PROCESS_START_MS,
): DrillSchedule | null {
  if (!env.HAZWATCH_DEMO || !env.SIMULATE || env.DEMO_DRILL_FIRST_S <= 0) return null;
  return {
    anchorMs,
    firstMs: env.DEMO_DRILL_FIRST_S * 1000,
    everyMs: env.DEMO_DRILL_EVERY_S * 1000,
    phases: DRILL_PHASES,
  };
}
