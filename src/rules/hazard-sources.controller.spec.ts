import type { Principal } from '../auth/principal';
import type { ScopeService } from '../auth/scope.service';
import type { HazardStatus } from './domain/hazard-grading';
import { HazardSourcesController } from './hazard-sources.controller';
import type { RulesService } from './rules.service';

const status = (over: Partial<HazardStatus>): HazardStatus => ({
  sourceId: 'bhc-cl2',
  siteId: 'bohai-chem',
  name: '液氯储罐区',
  filedGrade: 2,
  S: 17.64,
  R: 105.84,
  grade: 1,
  level: 'red',
  alpha: 1.5,
  inventory: [{ substance: 'chlorine', q: 88.2, Q: 5, beta: 4, tanks: 2, measuredTanks: 2 }],
  updatedAt: Date.UTC(2026, 10, 24, 10, 0, 0),
  uncertain: false,
  uncertainTanks: [],
  ...over,
});

describe('HazardSourcesController', () => {
  it('should list only the sources of sites in the caller scope, with live R, grade and level', () => {
    const rules = {
      hazardSnapshot: () => [
        status({}),
        status({ sourceId: 'wqf-meoh', siteId: 'wuqing-fine', grade: 4, level: 'blue', filedGrade: 4 }),
      ],
    } as unknown as RulesService;
    const scope = { visibleSiteIds: () => new Set(['bohai-chem']) } as unknown as ScopeService;
    const principal = { role: 'regulator', scope: 'tianjin/binhai' } as unknown as Principal;
    const out = new HazardSourcesController(rules, scope).list(principal);
    expect(out).toEqual([
      expect.objectContaining({
        sourceId: 'bhc-cl2',
        R: 105.84,
        grade: 1,
        level: 'red',
        filedGrade: 2,
        aboveFiledGrade: true,
        updatedAt: '2026-11-24T10:00:00.000Z',
      }),
    ]);
  });
});
