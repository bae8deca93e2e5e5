import { buildCapAlert } from './cap-message.builder';
import { renderCapXml } from './cap-xml';
import { validateCap } from '../testing/cap-schema.validator';
import { BOHAI_SITE, CAP_SETTINGS, CL2_SOURCE, makeFeedEvent } from '../testing/feed-event.factory';
import { assessCondition, consequenceRadiusKm } from './condition-class';
import { creditCodeCheck, creditCodeProblem, filingCodeProblem } from '../../common/domain/credit-code';

const DETECTOR = {
  id: 'cl-gd-1',
  name: '氯气有毒气体探测器 GD-1',
  kind: 'gas_detector',
  gas: 'chlorine',
  gasClass: 'toxic',
};
const SOURCE = { ...CL2_SOURCE, substances: ['chlorine'], filingCode: '津滨危备2024-017' };
const CODE = `91120116MA05${'K3L7'}7`;
const VALID_CODE = CODE.slice(0, 17) + creditCodeCheck(CODE.slice(0, 17));
const SITE = { ...BOHAI_SITE, creditCode: VALID_CODE };
const ENGLISH_WORDS =
  /\b(alarm|level|value|limit|state|event|enterprise|voted|regulators?|jurisdiction|disposal)\b/i;

const build = (over: Parameters<typeof makeFeedEvent>[0] = {}, settings = CAP_SETTINGS) =>
  buildCapAlert({
    event: makeFeedEvent(over),
    msgType: 'Alert',
    site: SITE,
    source: SOURCE,
    device: DETECTOR,
    settings,
  });

describe('CAP in the regulators’ register', () => {
  it('should write the zh-CN block in Chinese only, in alarm wording, then an en-US block', () => {
    const a = build({ condition: 'gas_l2', ruleId: 'gas:cl-gd-1', priority: 'high', deviceId: 'cl-gd-1' });
    const [zh, en] = a.infos;
    expect(zh?.language).toBe('zh-CN');
    expect(en?.language).toBe('en-US');
    for (const text of [
      zh?.event,
      zh?.headline,
      zh?.description,
      zh?.instruction,
      zh?.senderName,
      zh?.areas[0]?.areaDesc,
      a.restriction,
    ]) {
      expect(text).toBeDefined();
      expect(text).not.toMatch(ENGLISH_WORDS);
      expect(text).not.toMatch(/预警|特别严重|Ⅰ级|Ⅱ级/);
    }
    expect(zh?.headline).toBe(
      '【高优先级报警】天津渤海化工有限公司 氯气有毒气体探测器 GD-1 二级报警（报警产生）',
    );
    expect(en?.headline).toBe('[high-priority alarm] Bohai Chemical Co., Ltd.: level-2 alarm (raised)');
    expect(en?.event).toBe('chlorine level-2 alarm');
  });

  it('should leave the en-US block out when switched off', () => {
    expect(build({}, { ...CAP_SETTINGS, englishInfo: false }).infos.map((i) => i.language)).toEqual([
      'zh-CN',
    ]);
  });

  it('should grade a level-2 toxic release Moderate and a detector fault Minor/Unknown', () => {
    const release = build({ condition: 'gas_l2', priority: 'high', level: 'orange' }).infos[0]!;
    expect(release).toMatchObject({
      severity: 'Moderate',
      certainty: 'Likely',
      categories: ['Safety', 'Env'],
    });
    const fault = build({ condition: 'detector_fault', priority: 'high', level: 'orange' }).infos[0]!;
    expect(fault).toMatchObject({ severity: 'Minor', certainty: 'Unknown', categories: ['Safety'] });
  });

  it('should draw the hazard source’s consequence zone, not the 500 m ring', () => {
    const zh = build({ condition: 'gas_l2', priority: 'high' }).infos[0]!;
    expect(zh.areas[0]?.circles).toEqual(['38.762,117.512 3']);
    expect(zh.areas[0]?.areaDesc).toBe('天津渤海化工有限公司 液氯储罐区 有毒气体扩散影响范围（半径 3 公里）');
    // without substances the configured radius stays the fallback
    const bare = buildCapAlert({
      event: makeFeedEvent(),
      msgType: 'Alert',
      site: SITE,
      source: CL2_SOURCE,
      settings: CAP_SETTINGS,
    });
    expect(bare.infos[0]?.areas[0]?.circles).toEqual(['38.762,117.512 0.5']);
  });

  it('should carry the credit code and the filing code as parameters, and drop an invalid credit code', () => {
    const params = build().infos[0]!.parameters;
    expect(params).toContainEqual({ valueName: 'unifiedSocialCreditCode', value: VALID_CODE });
    expect(params).toContainEqual({ valueName: 'hazardSourceFilingCode', value: '津滨危备2024-017' });
    const badCheck = VALID_CODE.slice(0, 17) + (VALID_CODE.endsWith('0') ? '1' : '0');
    const wrong = buildCapAlert({
      event: makeFeedEvent(),
      msgType: 'Alert',
      site: { ...SITE, creditCode: badCheck },
      source: SOURCE,
      settings: CAP_SETTINGS,
    });
    expect(wrong.infos[0]!.parameters.map((p) => p.valueName)).not.toContain('unifiedSocialCreditCode');
  });

  it('should give the GB/T 2260 district code as a geocode and the official jurisdiction name', () => {
    const a = buildCapAlert({
      event: makeFeedEvent(),
      msgType: 'Alert',
      site: { ...SITE, jurisdictionName: '天津市滨海新区南港工业区', adminCode: '120116' },
      source: SOURCE,
      settings: CAP_SETTINGS,
    });
    expect(a.infos[0]?.areas[0]?.geocodes[0]).toEqual({ valueName: 'GB/T 2260', value: '120116' });
    expect(a.restriction).toBe('仅限天津市滨海新区南港工业区及上级监管部门');
  });

  it('should stay valid against the OASIS CAP 1.2 schema with both blocks', async () => {
    const xml = renderCapXml(build({ condition: 'gas_l2', priority: 'critical' }));
    expect(await validateCap(xml)).toEqual({ valid: true, errors: [] });
    expect(xml.indexOf('<language>zh-CN</language>')).toBeLessThan(xml.indexOf('<language>en-US</language>'));
  });
});

describe('condition classes', () => {
  it('should raise a hazard one step for critical priority but never an instrument problem', () => {
    expect(assessCondition('vote', 'critical').severity).toBe('Extreme');
    expect(assessCondition('HH', 'critical').severity).toBe('Severe');
    expect(assessCondition('stale', 'critical').severity).toBe('Minor');
    expect(assessCondition('site_offline', 'critical')).toMatchObject({
      cls: 'link',
      severity: 'Minor',
      certainty: 'Unknown',
    });
  });
  it('should use the explosion zone for a flammable release and the worst case without a scenario', () => {
    expect(assessCondition('gas_l2', 'high', { gasClass: 'combustible', gas: 'methane' }).scenario).toBe(
      'explosion',
    );
    expect(consequenceRadiusKm(['methanol', 'benzene'], 'explosion')).toBe(0.6);
    expect(consequenceRadiusKm(['ammonia'], undefined)).toBe(1.5);
    expect(consequenceRadiusKm(['unobtainium'], 'toxic')).toBeUndefined();
  });
  it('should take a hazard source’s filed radii over the per-substance defaults', () => {
    expect(consequenceRadiusKm(['chlorine'], 'toxic', { toxic: 4.2 })).toBe(4.2);
    // a scenario not filed keeps the default
    expect(consequenceRadiusKm(['ammonia'], 'fire', { toxic: 2 })).toBe(0.1);
    // worst case: the filed radius replaces its scenario's default, then the largest wins
    expect(consequenceRadiusKm(['ammonia'], undefined, { toxic: 0.2 })).toBe(0.3);
    expect(consequenceRadiusKm([], undefined, { fire: 0.7 })).toBe(0.7);
    const a = build({ condition: 'gas_l2', ruleId: 'gas:cl-gd-1', priority: 'high', deviceId: 'cl-gd-1' });
    const filed = buildCapAlert({
      event: makeFeedEvent({
        condition: 'gas_l2',
        ruleId: 'gas:cl-gd-1',
        priority: 'high',
        deviceId: 'cl-gd-1',
      }),
      msgType: 'Alert',
      site: SITE,
      source: { ...SOURCE, consequenceRadiiKm: { toxic: 4.2 } },
      device: DETECTOR,
      settings: CAP_SETTINGS,
    });
    expect(a.infos[0]?.areas[0]?.circles).toEqual(['38.762,117.512 3']);
    expect(filed.infos[0]?.areas[0]?.circles).toEqual(['38.762,117.512 4.2']);
    expect(filed.infos[0]?.areas[0]?.areaDesc).toContain('半径 4.2 公里');
  });
});

describe('identification codes', () => {
  it('should accept a real-format credit code and name what is wrong otherwise', () => {
    // published example of GB 32100-2015 codes: the check character is computed, not guessed
    expect(creditCodeProblem('91350100M000100Y43')).toBeUndefined();
    expect(creditCodeProblem('91350100M000100Y44')).toBe('check character is 4, expected 3 (GB 32100-2015)');
    expect(creditCodeProblem('91350100M000100YI3')).toContain('without I, O, S, V, Z');
    expect(creditCodeProblem('9135010')).toContain('18 characters');
    expect(creditCodeProblem('91AB0100M000100Y43')).toContain('GB/T 2260');
  });
  it('should refuse filing codes with spaces or markup', () => {
    expect(filingCodeProblem('津滨危备2024-017')).toBeUndefined();
    expect(filingCodeProblem('a b c d')).toContain('spaces');
    expect(filingCodeProblem('abc')).toContain('4 to 40');
  });
});
