import { alarmOelMgM3, mgM3ToPpm, ppmToMgM3, substanceRef, toxicCeilings } from './substances';

describe('substance reference table', () => {
  it('should convert ppm ↔ mg/m³ at 25 °C (ppm = mg/m³ × 24.45 / M)', () => {
    expect(mgM3ToPpm(1, 70.9)).toBeCloseTo(0.3449, 4); // chlorine MAC
    expect(mgM3ToPpm(20, 17.03)).toBeCloseTo(28.71, 2); // ammonia PC-TWA
    expect(ppmToMgM3(mgM3ToPpm(6, 78.11), 78.11)).toBeCloseTo(6, 12);
  });

  it('should flag the flammable-and-toxic gases and hold their OELs', () => {
    for (const g of ['benzene', 'vinyl chloride', 'methanol', 'ammonia'])
      expect(substanceRef(g)).toMatchObject({ flammable: true, toxic: true });
    expect(substanceRef('Benzene')).toMatchObject({ pcTwaMgM3: 6, pcStelMgM3: 10, lelVolPct: 1.2 });
    expect(substanceRef('methanol')).toMatchObject({ pcTwaMgM3: 25, pcStelMgM3: 50 });
    expect(alarmOelMgM3(substanceRef('vinyl chloride')!)).toBe(10);
    expect(alarmOelMgM3(substanceRef('chlorine')!)).toBe(1); // MAC first
  });

  it('should put toxic ceilings at 100 % / 200 % OEL, or 5 % / 10 % IDLH when the range cannot reach the OEL', () => {
    expect(toxicCeilings(substanceRef('benzene')!, 'mg/m3', 100)).toMatchObject({ level1: 6, level2: 12 });
    expect(toxicCeilings(substanceRef('benzene')!, 'ppm', 100)!.level1).toBeCloseTo(1.878, 3);
    expect(toxicCeilings(substanceRef('chlorine')!, 'ppm', 0.2)).toMatchObject({ level1: 0.5, level2: 1 });
    expect(toxicCeilings(substanceRef('vinyl chloride')!, 'mg/m3', 5)).toBeUndefined(); // no IDLH in the table
  });
});
