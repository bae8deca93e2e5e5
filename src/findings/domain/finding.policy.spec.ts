import type { Capability } from '../../auth/domain/capability.policy';
import { checkFindingMove, isOverdue, missingPlan, type Finding } from './finding.policy';

const regulator = (c: Capability): boolean => c === 'disposition.review' || c === 'plant.read';
const operator = (c: Capability): boolean => c === 'alarm.disposition' || c === 'plant.read';
const full = {
  measures: '更换法兰垫片',
  fundsCny: 20000,
  due: 1,
  responsible: '李明',
  contingency: '氯气泄漏专项预案',
};
const f = (o: Partial<Finding> = {}): Pick<Finding, 'status' | 'grade' | 'plan' | 'deadline'> => ({
  status: 'open',
  grade: 'major',
  plan: {},
  deadline: 1000,
  ...o,
});

describe('finding policy', () => {
  it('should require all five 五落实 fields for a major finding and two for a general one', () => {
    expect(missingPlan(f())).toEqual(['整改措施', '整改资金', '整改时限', '整改责任人', '应急预案']);
    expect(missingPlan(f({ grade: 'general' }))).toEqual(['整改措施', '整改责任人']);
    expect(missingPlan(f({ plan: full }))).toEqual([]);
  });
  it('should refuse rectification until the plan is complete, naming what is missing', () => {
    expect(checkFindingMove(f({ plan: { measures: 'x' } }), 'rectifying', operator)).toEqual({
      ok: false,
      status: 409,
      reason: '重大事故隐患整改前须落实：整改资金、整改时限、整改责任人、应急预案 (五落实 incomplete)',
    });
    expect(checkFindingMove(f({ plan: full }), 'rectifying', operator)).toEqual({ ok: true });
  });
  it('should let only a regulator sign off', () => {
    expect(checkFindingMove(f({ status: 'verified', plan: full }), 'closed', operator)).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(checkFindingMove(f({ status: 'verified', plan: full }), 'closed', regulator)).toEqual({
      ok: true,
    });
    expect(checkFindingMove(f({ status: 'open' }), 'closed', regulator)).toMatchObject({
      ok: false,
      status: 409,
    });
  });
  it('should be overdue only while not rectified and verified at the deadline', () => {
    expect(isOverdue(f({ status: 'rectifying' }), 999)).toBe(false);
    expect(isOverdue(f({ status: 'rectifying' }), 1000)).toBe(true);
    expect(isOverdue(f({ status: 'verified' }), 5000)).toBe(false);
  });
});
