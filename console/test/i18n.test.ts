import { describe, expect, it } from 'vitest';
import { LABELS, named, setLang, t, tOr } from '../src/i18n';
import { TONES } from '../src/annunciator';

describe('labels', () => {
  it('has every Chinese label in English too, and the other way round', () => {
    const zh = Object.keys(LABELS.zh).sort();
    const en = Object.keys(LABELS.en).sort();
    expect(en.filter((k) => !zh.includes(k))).toEqual([]);
    expect(zh.filter((k) => !en.includes(k))).toEqual([]);
  });

  it('is Chinese by default, fills placeholders, and switches to English', () => {
    expect(t('alarms.title')).toBe('报警列表');
    expect(t('plant.grade', { g: 2 })).toBe('2 级');
    setLang('en');
    expect(t('alarms.title')).toBe('Alarms');
    expect(tOr('ch.nonexistent', 'raw')).toBe('raw');
    expect(named({ name: '天津渤海化工有限公司', nameEn: 'Bohai Chemical Co., Ltd.' })).toBe(
      'Bohai Chemical Co., Ltd.',
    );
    expect(named({ name: '液氯储罐区', nameEn: null })).toBe('液氯储罐区');
    setLang('zh');
    expect(named({ name: '天津渤海化工有限公司', nameEn: 'Bohai Chemical Co., Ltd.' })).toBe(
      '天津渤海化工有限公司',
    );
  });
});

describe('annunciation tones', () => {
  it('is most urgent for critical and silent for low', () => {
    expect(TONES.critical.length).toBeGreaterThan(TONES.high.length);
    expect(TONES.high.length).toBeGreaterThan(TONES.medium.length);
    expect(TONES.low).toEqual([]);
  });
});
