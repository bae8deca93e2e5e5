import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../common/errors';
import { loadPlant } from '../config/config.loader';
import { loadFeedSettings } from './feeds-settings.loader';

const demoPlant = loadPlant(join(__dirname, '..', '..', 'config'));
const withFeeds = (yaml: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-feeds-'));
  writeFileSync(join(dir, 'feeds.yaml'), yaml);
  return dir;
};
const env = { SIMULATE: false } as Parameters<typeof loadFeedSettings>[0]['env'];

/** feeds.yaml `nationalProfile` (docs/cap-profile.md, "National profile"). */
describe('feeds.yaml nationalProfile', () => {
  it('should read the unit-code parts with their defaults', () => {
    const { settings } = loadFeedSettings({
      configDir: withFeeds('nationalProfile: { industryCode: "331" }\n'),
      env,
      plant: demoPlant,
    });
    expect(settings.nationalProfile).toEqual({ industryCode: '331', unitCode: '000', extensionCode: '00' });
  });

  it('should stop start-up naming the file and path for a bad code or a site without a district code', () => {
    const bad = withFeeds('nationalProfile: { industryCode: "33" }\n');
    expect(() => loadFeedSettings({ configDir: bad, env, plant: demoPlant })).toThrow(
      /nationalProfile\.industryCode/,
    );
    const noCodes = { ...demoPlant, jurisdictionByPath: undefined };
    const dir = withFeeds('nationalProfile: { industryCode: "331" }\n');
    let err: unknown;
    try {
      loadFeedSettings({ configDir: dir, env, plant: noCodes });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).file).toBe(join(dir, 'feeds.yaml'));
    expect((err as ConfigError).problems[0]).toMatchObject({ path: 'nationalProfile' });
    expect((err as ConfigError).problems[0]?.reason).toContain("site 'bohai-chem'");
  });
});
