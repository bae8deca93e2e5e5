import { scopeCovers } from '../../auth/principal';
import { planTelemetrySubscription, visibleSiteIds } from './scope.filter';

const SITES: Record<string, string> = {
  'bohai-chem': 'tianjin/binhai/nangang',
  'nangang-petro': 'tianjin/binhai/lingang',
  'wuqing-fine': 'tianjin/wuqing/jingbin',
};
const DEVICES = new Set(['bohai-chem/cl-gd-1', 'nangang-petro/tk-1', 'wuqing-fine/gd-1']);
const exists = (s: string, d: string): boolean => DEVICES.has(`${s}/${d}`);
const visibleFor = (scope: string): ReadonlySet<string> =>
  visibleSiteIds(Object.keys(SITES), (id) => scopeCovers(scope, `${SITES[id] ?? ''}/${id}`));

describe('visibleSiteIds', () => {
  it('should give a tianjin/binhai regulator the two binhai sites and not the wuqing one when resolved', () => {
    expect([...visibleFor('tianjin/binhai')].sort()).toEqual(['bohai-chem', 'nangang-petro']);
  });

  it('should give an empty scope every site when resolved', () => {
    expect(visibleFor('').size).toBe(3);
  });
});

describe('planTelemetrySubscription', () => {
  it('should reject a wuqing device as out_of_scope when the principal is a binhai regulator', () => {
    const plan = planTelemetrySubscription(
      ['bohai-chem/cl-gd-1', 'wuqing-fine/gd-1'],
      visibleFor('tianjin/binhai'),
      exists,
    );
    expect(plan.accepted).toEqual([{ siteId: 'bohai-chem', deviceId: 'cl-gd-1' }]);
    expect(plan.rejected).toEqual([{ entry: 'wuqing-fine/gd-1', reason: 'out_of_scope' }]);
  });

  it('should report out_of_scope rather than unknown_device when the site is not visible', () => {
    const plan = planTelemetrySubscription(['wuqing-fine/no-such'], visibleFor('tianjin/binhai'), exists);
    expect(plan.rejected).toEqual([{ entry: 'wuqing-fine/no-such', reason: 'out_of_scope' }]);
  });

  it('should reject unknown devices and malformed entries when they are requested', () => {
    const plan = planTelemetrySubscription(
      ['bohai-chem/nope', 'no-slash', 'a/b/c', '../x'],
      visibleFor(''),
      exists,
    );
    expect(plan.accepted).toEqual([]);
    expect(plan.rejected).toEqual([
      { entry: 'bohai-chem/nope', reason: 'unknown_device' },
      { entry: 'no-slash', reason: 'malformed' },
      { entry: 'a/b/c', reason: 'malformed' },
      { entry: '../x', reason: 'malformed' },
    ]);
  });

  it('should collapse duplicates when an entry is repeated', () => {
    const plan = planTelemetrySubscription(
      ['bohai-chem/cl-gd-1', 'bohai-chem/cl-gd-1'],
      visibleFor(''),
      exists,
    );
    expect(plan.accepted).toHaveLength(1);
  });
});
