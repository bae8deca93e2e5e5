import { ForbiddenException, NotFoundException } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { indexPlant } from '../config/config.loader';
import type { Principal, Role } from './principal';
import { ScopeService } from './scope.service';

const site = (id: string, jurisdiction: string) => ({
  id,
  name: id,
  jurisdiction,
  location: { lat: 39, lon: 117 },
  hazardSources: [],
  devices: [],
});

const plant = indexPlant({
  sites: [
    site('bohai-chem', 'tianjin/binhai/nangang'),
    site('lingang-gas', 'tianjin/binhai/lingang'),
    site('binhaiwest', 'tianjin/bin'),
    site('jb-gas', 'tianjin/wuqing/jingbin'),
  ],
});

const config = { env: {}, configDir: '/nowhere', dataDir: '/nowhere', plant } as unknown as AppConfig;
const principal = (role: Role, scope: string): Principal => ({
  tokenId: '0123456789ab',
  name: 'test',
  role,
  scope,
});

describe('ScopeService', () => {
  const scope = new ScopeService(config);

  it('should show a Binhai regulator only Binhai sites when listing visible sites', () => {
    expect([...scope.visibleSiteIds(principal('regulator', 'tianjin/binhai'))].sort()).toEqual([
      'bohai-chem',
      'lingang-gas',
    ]);
  });

  it('should not let tianjin/bin cover tianjin/binhai/... when matching segments', () => {
    expect([...scope.visibleSiteIds(principal('regulator', 'tianjin/bin'))]).toEqual(['binhaiwest']);
    expect(scope.canSeeSite(principal('regulator', 'tianjin/bin'), 'bohai-chem')).toBe(false);
  });

  it('should limit an operator to one enterprise when its scope names the site', () => {
    const p = principal('operator', 'tianjin/binhai/nangang/bohai-chem');
    expect(scope.canSeeSite(p, 'bohai-chem')).toBe(true);
    expect(scope.canSeeSite(p, 'lingang-gas')).toBe(false);
  });

  it('should show every site when the scope is empty', () => {
    expect(scope.visibleSiteIds(principal('operator', '')).size).toBe(4);
    expect(scope.siteFilter(principal('operator', ''))).toBeUndefined();
  });

  it('should show an admin every site when its scope is set anyway', () => {
    expect(scope.visibleSiteIds(principal('admin', 'tianjin/wuqing')).size).toBe(4);
  });

  it('should give a SQL filter with exactly the visible sites when the scope is narrower than the plant', () => {
    expect([...(scope.siteFilter(principal('regulator', 'tianjin/wuqing')) ?? ['(all)'])]).toEqual([
      'jb-gas',
    ]);
  });

  it('should answer 404 with the same message for an out-of-scope and an unknown site when asserting', () => {
    const p = principal('regulator', 'tianjin/binhai');
    expect(scope.assertSite(p, 'bohai-chem').id).toBe('bohai-chem');
    const outOfScope = (() => {
      try {
        scope.assertSite(p, 'jb-gas');
      } catch (err) {
        return err;
      }
    })();
    const unknown = (() => {
      try {
        scope.assertSite(p, 'no-such-site');
      } catch (err) {
        return err;
      }
    })();
    expect(outOfScope).toBeInstanceOf(NotFoundException);
    expect(unknown).toBeInstanceOf(NotFoundException);
    expect((outOfScope as Error).message).toBe("site 'jb-gas' not found");
    expect((unknown as Error).message).toBe("site 'no-such-site' not found");
  });

  it('should refuse with 403 when a regulator is asserted to ack', () => {
    expect(() => scope.assertCan(principal('regulator', 'tianjin/binhai'), 'alarm.ack')).toThrow(
      ForbiddenException,
    );
    expect(() => scope.assertCan(principal('operator', ''), 'alarm.ack')).not.toThrow();
  });
});
