/** Injection tokens of the notifications module. */
export const CALLOUTS_CONFIG = Symbol('CALLOUTS_CONFIG');
/** Timer source (virtual time in tests). */
export const NOTIFY_SCHEDULER = Symbol('NOTIFY_SCHEDULER');
/** Random source in [0, 1) for duty-check jitter (fixed in tests). */
export const NOTIFY_RANDOM = Symbol('NOTIFY_RANDOM');
