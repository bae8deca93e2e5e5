import { performance } from 'node:perf_hooks';
import type { Clock } from '../common/clock';
import { systemScheduler } from '../common/timer.port';
import type { LeaseTimer } from './lease-manager';

/** Monotonic milliseconds: a wall-clock step (NTP, an operator) never stretches or shortens a lease. */
export const monotonicClock: Clock = { now: () => performance.now() };

/** Real timers, unref'd so a pending round never keeps a finished process alive. */
export const systemLeaseTimer: LeaseTimer = systemScheduler;
