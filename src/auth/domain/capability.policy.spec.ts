import { ROLES, type Role } from '../principal';
import { CAPABILITIES, ROLE_CAPABILITIES, can, rolesWith, type Capability } from './capability.policy';

const as = (role: Role) => ({ role });

describe('capability table', () => {
  it.each<[Capability, Role[]]>([
    ['plant.read', ['operator', 'supervisor', 'regulator', 'admin']],
    ['duty-event.report', ['admin', 'video']],
    ['duty-feedback.file', ['operator', 'supervisor', 'admin']],
    ['alarm.ack', ['operator', 'supervisor', 'admin']],
    ['alarm.shelve', ['operator', 'supervisor', 'admin']],
    ['alarm.unshelve', ['supervisor', 'admin']],
    ['alarm.out-of-service', ['supervisor', 'admin']],
    ['alarm.reset', ['supervisor', 'admin']],
    ['alarm.disposition', ['operator', 'supervisor', 'admin']],
    ['disposition.review', ['regulator', 'admin']],
    ['feed.subscribe', ['regulator', 'admin']],
    ['ingest.rejects.read', ['supervisor', 'admin']],
    ['token.manage', ['admin']],
    ['duty-check.run', ['supervisor', 'regulator', 'admin']],
  ])('should grant %s to exactly %j', (capability, roles) => {
    expect(rolesWith(capability)).toEqual(roles);
    for (const role of ROLES) expect(can(as(role), capability)).toBe(roles.includes(role));
  });

  it('should cover every capability in the table above when a new one is added', () => {
    // If this fails, add the new capability to the it.each table with its intended roles.
    expect([...CAPABILITIES].sort()).toEqual(
      [
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
      ].sort(),
    );
  });

  it('should keep the regulator read-only toward alarm state when checking every alarm action', () => {
    const alarmActions = CAPABILITIES.filter((c) => c.startsWith('alarm.'));
    expect(alarmActions.length).toBeGreaterThan(0);
    for (const c of alarmActions) expect(can(as('regulator'), c)).toBe(false);
  });

  it('should give a supervisor everything an operator has when comparing the two roles', () => {
    for (const c of ROLE_CAPABILITIES.operator) expect(can(as('supervisor'), c)).toBe(true);
  });

  it('should give admin every capability when checking the whole list', () => {
    expect(ROLE_CAPABILITIES.admin.size).toBe(CAPABILITIES.length);
  });
});
