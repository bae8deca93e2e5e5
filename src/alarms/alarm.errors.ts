/** Service-level failures the HTTP edge maps to status codes (404, 503, 403, 400). */
export class AlarmNotFoundError extends Error {
  constructor(readonly alarmId: string) {
    super(`alarm '${alarmId}' not found`);
    this.name = 'AlarmNotFoundError';
  }
}

export class AlarmsNotReadyError extends Error {
  constructor() {
    super('alarm state is still being loaded from the database; try again shortly');
    this.name = 'AlarmsNotReadyError';
  }
}

export class AlarmForbiddenError extends Error {
  constructor(role: string, capability: string) {
    super(`role '${role}' may not do this (missing ${capability})`);
    this.name = 'AlarmForbiddenError';
  }
}

export class AlarmQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlarmQueryError';
  }
}

/** A resume request reaching further back than the replay limit: the client must reload the alarm list instead. */
export class ReplayTooLargeError extends Error {
  constructor(since: number, limit: number) {
    super(
      `more than ${limit} alarm events since seq ${since}; reload the alarm list (GET /api/alarms) and resume from its seq`,
    );
    this.name = 'ReplayTooLargeError';
  }
}

/**
 * Cluster node: an operator action whose journal row was not confirmed — refused because the alarm's site moved to
 * another node, or not committed within the wait. The caller must not treat the action as done.
 */
export class AlarmActionNotJournalledError extends Error {
  constructor(
    readonly alarmId: string,
    readonly refused: boolean,
  ) {
    super(
      refused
        ? `alarm '${alarmId}': the action was not recorded because its site moved to another server; reload and repeat it`
        : `alarm '${alarmId}': the journal has not confirmed the action yet; reload to see whether it was recorded`,
    );
    this.name = 'AlarmActionNotJournalledError';
  }
}
