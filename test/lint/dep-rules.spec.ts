/**
 * The layer rules of .dependency-cruiser.cjs (run by `npm run lint`) catch what they are written for: the fixture
 * under test/fixtures/dep-rules breaks each rule once, and a spec importing a test helper is allowed.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'dep-rules');

describe('dependency rules (scripts/lint-deps.mjs)', () => {
  const run = spawnSync(
    process.execPath,
    [join(root, 'scripts', 'lint-deps.mjs'), '--config', join(root, '.dependency-cruiser.cjs'), 'src'],
    { cwd: fixture, encoding: 'utf8' },
  );
  const violations = run.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[a-z-]+: /.test(l));

  it('should fail lint when the fixture imports across the layers', () => {
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/dependency rules: 7 violation\(s\)/);
  });

  it('should name each broken rule with the importing file and the import', () => {
    expect(violations).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^domain-no-framework: src\/plant\/domain\/level\.policy\.ts → .*node_modules\/@nestjs\/common\//,
        ),
        'domain-no-node-io: src/plant/domain/level.policy.ts → fs',
        'domain-no-io-module: src/plant/domain/level.policy.ts → src/storage/level.repository.ts',
        'storage-not-ingest-or-alarms: src/storage/level.repository.ts → src/ingest/intake.service.ts',
        'testing-helpers-only-in-tests: src/ingest/intake.service.ts → src/tanks/testing/fake-tank.ts',
        expect.stringMatching(/^no-circular: src\/a\/a\.service\.ts → src\/b\/b\.service\.ts/),
        'no-module-cycle: src/{a,b} import each other:',
      ]),
    );
  });

  it('should let a spec import a test helper', () => {
    expect(run.stderr).not.toContain('src/tanks/tank.spec.ts');
  });
});
