import { scopeCovers, sitePath } from './principal';

describe('scopeCovers', () => {
  it.each([
    ['', 'tianjin/wuqing/jingbin/jb-gas', true],
    ['tianjin', 'tianjin/binhai/nangang/bohai-chem', true],
    ['tianjin/binhai', 'tianjin/binhai/nangang/bohai-chem', true],
    ['tianjin/binhai/nangang/bohai-chem', 'tianjin/binhai/nangang/bohai-chem', true],
    ['tianjin/bin', 'tianjin/binhai/nangang/bohai-chem', false],
    ['tianjin/binhai', 'tianjin/wuqing/jingbin/jb-gas', false],
    ['tianjin/binhai/nangang/bohai', 'tianjin/binhai/nangang/bohai-chem', false],
    ['tianjin/binhai/nangang/bohai-chem/x', 'tianjin/binhai/nangang/bohai-chem', false],
  ])('should answer scope %j covers %j → %s', (scope, path, expected) => {
    expect(scopeCovers(scope, path)).toBe(expected);
  });

  it('should build the site path from jurisdiction and id when asked', () => {
    expect(sitePath({ id: 'bohai-chem', jurisdiction: 'tianjin/binhai/nangang' })).toBe(
      'tianjin/binhai/nangang/bohai-chem',
    );
  });
});
