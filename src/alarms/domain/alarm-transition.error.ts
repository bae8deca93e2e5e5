import type { AlarmState } from './alarm.types';

export type AlarmErrorCode =
  | 'not_active'
  | 'nothing_to_ack'
  | 'already_acknowledged'
  | 'not_latched'
  | 'ack_required'
  | 'hidden'
  | 'not_shown'
  | 'already_shelved'
  | 'not_shelved'
  | 'shelve_not_expired'
  | 'critical_shelve_forbidden'
  | 'invalid_shelve'
  | 'reason_required'
  | 'already_suppressed'
  | 'not_suppressed'
  | 'already_out_of_service'
  | 'not_out_of_service'
  | 'not_realarmable';

/** How the edge should report it: 409 conflict with the current state, 403 forbidden for the role, 400 bad input. */
export type AlarmErrorKind = 'conflict' | 'forbidden' | 'invalid';

const KIND: Record<AlarmErrorCode, AlarmErrorKind> = {
  not_active: 'conflict',
  nothing_to_ack: 'conflict',
  already_acknowledged: 'conflict',
  not_latched: 'conflict',
  ack_required: 'conflict',
  hidden: 'conflict',
  not_shown: 'conflict',
  already_shelved: 'conflict',
  not_shelved: 'conflict',
  shelve_not_expired: 'conflict',
  critical_shelve_forbidden: 'forbidden',
  invalid_shelve: 'invalid',
  reason_required: 'invalid',
  already_suppressed: 'conflict',
  not_suppressed: 'conflict',
  already_out_of_service: 'conflict',
  not_out_of_service: 'conflict',
  not_realarmable: 'conflict',
};

/** An illegal transition: the machine returns it (never throws it); the HTTP edge maps it (409/403/400). */
export class AlarmTransitionError extends Error {
  readonly kind: AlarmErrorKind;
  constructor(
    readonly code: AlarmErrorCode,
    readonly state: AlarmState,
    readonly command: string,
    message: string,
  ) {
    super(message);
    this.name = 'AlarmTransitionError';
    this.kind = KIND[code];
  }
}
