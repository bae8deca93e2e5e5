import type { Capability } from '../../auth/domain/capability.policy';
import { checkHiddenDangerMove } from './hidden-danger.machine';

const enterprise = (c: Capability): boolean => c === 'alarm.disposition';
const regulator = (c: Capability): boolean => c === 'disposition.review';

describe('hidden-danger items', () => {
  it('should let the enterprise rectify and verify but never close', () => {
    expect(checkHiddenDangerMove('open', 'rectifying', enterprise)).toEqual({ ok: true });
    expect(checkHiddenDangerMove('rectifying', 'verified', enterprise)).toEqual({ ok: true });
    expect(checkHiddenDangerMove('verified', 'closed', enterprise)).toMatchObject({ ok: false, status: 403 });
  });
  it('should let only a regulator sign off a verified item or send it back', () => {
    expect(checkHiddenDangerMove('verified', 'closed', regulator)).toEqual({ ok: true });
    expect(checkHiddenDangerMove('verified', 'rectifying', regulator)).toEqual({ ok: true });
    expect(checkHiddenDangerMove('open', 'rectifying', regulator)).toMatchObject({ ok: false, status: 403 });
  });
  it('should refuse skipping steps or leaving closed', () => {
    expect(checkHiddenDangerMove('open', 'closed', regulator)).toMatchObject({ ok: false, status: 409 });
    expect(checkHiddenDangerMove('open', 'verified', enterprise)).toMatchObject({ ok: false, status: 409 });
    expect(checkHiddenDangerMove('closed', 'open', enterprise)).toMatchObject({ ok: false, status: 409 });
  });
});
