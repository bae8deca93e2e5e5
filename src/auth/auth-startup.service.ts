import { Inject, Injectable, Optional, type OnApplicationBootstrap } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { Database } from '../storage/database.service';
import type { Role } from './principal';
import { TokenService } from './token.service';

/** The tokens demo mode creates when none exist (docs/contract.md §6). */
export const DEMO_TOKENS: ReadonlyArray<{ role: Role; scope: string; name: string }> = [
  { role: 'operator', scope: '', name: 'demo operator' },
  { role: 'supervisor', scope: '', name: 'demo supervisor' },
  { role: 'regulator', scope: 'tianjin/binhai', name: 'demo regulator (Binhai)' },
  { role: 'admin', scope: '', name: 'demo admin' },
];

/** Longest start-up waits for the demo tokens before going on (they still appear later if the database is slow). */
const DEMO_WAIT_MS = 15_000;

/** Where stdout-style human text goes; replaced in tests. */
export const AUTH_CONSOLE = Symbol('AUTH_CONSOLE');
export type AuthConsole = { write(text: string): void };

/**
 * At start-up: tells how to reach the database with `npm run token` (embedded PostgreSQL: a command that reads the
 * password from its file, so no secret is logged), and in demo mode creates and prints the first tokens once.
 */
@Injectable()
export class AuthStartupService implements OnApplicationBootstrap {
  private readonly log = new JsonLogger('auth');
  private demo: Promise<void> = Promise.resolve();
  /** main.ts holds the demo block back until start-up has finished, so it is the last thing on screen. */
  private held = false;
  private heldBlock: ((port: number) => string) | undefined;
  private released: number | undefined;
  private demoPending = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tokens: TokenService,
    @Optional() private readonly database?: Database,
    @Optional()
    @Inject(AUTH_CONSOLE)
    private readonly console: AuthConsole = { write: (t) => process.stdout.write(t) },
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const cliUrl = this.cliDatabaseUrl();
    if (cliUrl)
      this.log.info('token CLI database', {
        databaseUrl: cliUrl,
        usage: `DATABASE_URL="${cliUrl}" npm run token -- list`,
      });
    if (!this.config.env.HAZWATCH_DEMO) return;
    this.demoPending = true;
    this.demo = this.ensureDemoTokens(cliUrl).finally(() => (this.demoPending = false));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DEMO_WAIT_MS);
      timer.unref();
    });
    await Promise.race([this.demo, waited]);
    clearTimeout(timer);
  }

  /** Keep the demo-token block until releaseBanner() instead of printing it as soon as the tokens exist. */
  holdBanner(): void {
    this.held = true;
  }

  /**
   * End of start-up: prints the held demo-token block or, when the tokens existed, where the console is (demo mode;
   * outside it, one log line).
   * If the demo tokens are still being created (slow database), their block follows as soon as they exist.
   */
  releaseBanner(port: number): void {
    this.released = port;
    if (this.heldBlock) {
      this.console.write(this.heldBlock(port));
      this.heldBlock = undefined;
      return;
    }
    const { base } = this.urls(port);
    if (!this.config.env.HAZWATCH_DEMO) {
      // production output stays one JSON object per line (log collectors)
      this.log.info('console ready', { console: `${base}/`, apiDocs: `${base}/api/docs` });
      return;
    }
    const rule = '='.repeat(100);
    this.console.write(
      [
        '',
        rule,
        `  hazwatch is running.  Console: ${base}/   API docs: ${base}/api/docs`,
        this.demoPending
          ? '  Demo tokens: still being created (slow database); they are printed here as soon as they exist.'
          : '  Tokens: `npm run token -- list | create | revoke <id>` (tokens are printed only when created).',
        rule,
        '',
      ].join('\n') + '\n',
    );
  }

  /** Resolves when the demo-token step has finished (tests). */
  demoDone(): Promise<void> {
    return this.demo;
  }

  /**
   * For the embedded database: its URL with the password replaced by `$(cat <dataDir>/pg.password)`, usable in a shell
   * while the server runs. Undefined when DATABASE_URL is set (the operator already knows it).
   */
  cliDatabaseUrl(): string | undefined {
    if (this.config.env.DATABASE_URL !== undefined || !this.database) return undefined;
    const masked = this.database.connectionString;
    const passwordFile = join(this.config.dataDir, 'pg.password');
    if (masked.includes(':***@') && existsSync(passwordFile))
      return masked.replace(':***@', `:$(cat ${passwordFile})@`);
    return masked;
  }

  private async ensureDemoTokens(cliUrl: string | undefined): Promise<void> {
    try {
      if ((await this.tokens.count()) > 0) {
        this.log.info(
          'demo mode: api tokens already exist, none created (list them with `npm run token -- list`)',
        );
        return;
      }
      const created: Array<{ role: Role; scope: string; token: string; id: string }> = [];
      for (const spec of DEMO_TOKENS) {
        const { info, token } = await this.tokens.create(spec);
        created.push({ role: info.role, scope: info.scope, token, id: info.id });
      }
      const block = (port: number): string => this.demoBlock(created, cliUrl, port);
      if (!this.held) this.console.write(block(this.config.env.PORT));
      else if (this.released !== undefined) this.console.write(block(this.released));
      else this.heldBlock = block;
    } catch (err) {
      this.log.error(
        'demo mode: could not create the demo api tokens; create one with `npm run token -- create`',
        { err },
      );
    }
  }

  private demoBlock(
    created: ReadonlyArray<{ role: Role; scope: string; token: string; id: string }>,
    cliUrl: string | undefined,
    port: number,
  ): string {
    const { base } = this.urls(port);
    const rule = '='.repeat(100);
    const lines = [
      '',
      rule,
      '  hazwatch demo mode: API tokens created. They are shown ONLY THIS ONCE (stored hashed) — copy them now.',
      rule,
      ...created.map(
        (t) => `  ${t.role.padEnd(10)}  ${(t.scope === '' ? '(all sites)' : t.scope).padEnd(16)}  ${t.token}`,
      ),
      '',
      `  Console:  ${base}/   (paste a token when asked)`,
      `  API:      curl -H "Authorization: Bearer <token>" ${base}/api/sites`,
      `  Tokens:   ${cliUrl ? `DATABASE_URL="${cliUrl}" ` : ''}npm run token -- list | create | revoke <id>`,
      rule,
      '',
    ];
    return lines.join('\n') + '\n';
  }

  private urls(port: number): { base: string } {
    const { HOST } = this.config.env;
    return { base: `http://${HOST === '0.0.0.0' ? '127.0.0.1' : HOST}:${port}` };
  }
}
