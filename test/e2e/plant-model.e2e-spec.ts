/**
 * Start-up with a plant model that contradicts its own numbers (test/fixtures/plant-unfit): the built server must stop
 * before it starts anything, exit 78 and name the file, the path and the reason with the numbers (docs/plant-model.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_ENTRY } from '../setup/server-process';

describe('plant model consistency at start-up (built server)', () => {
  it('should stop with exit 78 naming file, path and numbers when the design inventory cannot fit the tanks', () => {
    const configDir = join(__dirname, '..', 'fixtures', 'plant-unfit');
    const run = spawnSync(process.execPath, [SERVER_ENTRY], {
      env: {
        ...process.env,
        CONFIG_DIR: configDir,
        DATA_DIR: mkdtempSync(join(tmpdir(), 'hazwatch-pm-')),
        PORT: '0',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain('hazwatch: start-up stopped.');
    expect(run.stderr).toContain(`Invalid configuration in ${join(configDir, 'plant.yaml')}`);
    expect(run.stderr).toContain(
      'sites[0].hazardSources[0].substances[0].designQ: design inventory 79 t of chlorine in tanks cannot fit them',
    );
    expect(run.stderr).toContain('= 70.56 t at the filling limit');
    expect(run.stderr).toContain("'benzene' is flammable and toxic");
  });
});
